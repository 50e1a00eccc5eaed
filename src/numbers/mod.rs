//! The tenant's numbers: listing, detail with history, release, and routing targets.

pub mod api;
pub mod lifecycle;
pub mod offer;
pub mod pages;
pub mod release;
pub mod repo;

pub use release::release;

use serde_json::json;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::{E164, Event, NumberState, policy::Principal, transition};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Parses a number from a path segment; a malformed one is a 422 that says why.
pub fn parse_path_number(raw: &str) -> AppResult<E164> {
    E164::parse(raw).map_err(|e| AppError::invalid_field("number", e.to_string()))
}

/// Points an orphaned number at a new target on its platform and makes it active again.
pub async fn reroute(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    kind: &str,
    target_id: &str,
    request_id: Option<&str>,
) -> AppResult<crate::domain::Target> {
    let tenant_id = caller.tenant()?;
    let current = repo::find(
        &mut *state.pool.acquire().await?,
        tenant_id,
        number.as_str(),
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let from: NumberState = current
        .state
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
    transition(from, Event::Rerouted)?;
    let kind: crate::domain::TargetKind = kind
        .parse()
        .map_err(|e: String| AppError::invalid_field("target.type", e))?;
    let provider = state.provider_for(tenant_id).await?;
    let target = provider
        .find_target(tenant_id, kind, target_id)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "{} `{target_id}` among your tenant's routing targets",
                kind.label()
            ))
        })?;
    // The old target is gone; clear whatever the platform still has, then route anew.
    provider.unassign(tenant_id, number).await?;
    let number_ref = crate::providers::NumberRef {
        e164: number,
        state: current.us_state.as_deref(),
    };
    provider
        .assign(
            tenant_id,
            number_ref,
            &target,
            current.display_name.as_deref(),
        )
        .await?;
    let mut tx = state.pool.begin().await?;
    if !lifecycle::retargeted(
        &mut tx,
        number.as_str(),
        tenant_id,
        from,
        Event::Rerouted,
        &target,
    )
    .await?
    {
        // Routed on the platform, but the number moved in Inward meanwhile (released, or
        // re-routed by someone else). Undoing the platform write could undo the other
        // change, so it stands; the failure is recorded and the consistency check reports
        // any difference.
        drop(tx);
        let entry = Entry::new(Action::Provision, Outcome::Failure)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(number.as_str())
            .target(target.kind.as_str(), Some(&target.id))
            .details(json!({ "rerouted_from": current.target_name, "reason": "the number changed while it was being re-routed" }));
        audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
        return Err(AppError::conflict(
            "state_changed",
            format!(
                "{number} changed while it was being re-routed; reload it and check its target"
            ),
            json!(null),
        ));
    }
    let entry = Entry::new(Action::Provision, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .number(number.as_str())
        .target(target.kind.as_str(), Some(&target.id))
        .details(json!({ "rerouted_from": current.target_name, "target_name": target.name }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(target)
}
