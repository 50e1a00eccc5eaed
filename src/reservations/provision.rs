//! Provisioning as a saga. Per number: mark it `provisioning` and log the attempt, make sure
//! the target exists (creating an extension when asked), assign the number on the platform,
//! then mark it `active`/`pending`. A failed step is compensated in reverse order and the
//! number goes back to `reserved` under its still-live hold, so the user can retry.

use serde::Deserialize;
use serde_json::json;

pub use super::provision_saga::NumberResult;
use super::provision_saga::{Assignment, Resolved};
use super::repo;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::target::TargetSpec;
use crate::domain::{E164, TargetKind, policy::Principal};
use crate::error::{AppError, AppResult};
use crate::providers::Platform;
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize)]
pub struct AssignmentSpec {
    pub number: String,
    pub name: Option<String>,
    pub target: TargetSpec,
}

fn clean(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

async fn resolve(
    provider: &dyn Platform,
    tenant: TenantId,
    spec: &AssignmentSpec,
) -> AppResult<Assignment> {
    let number =
        E164::parse(&spec.number).map_err(|e| AppError::invalid_field("number", e.to_string()))?;
    let kind: TargetKind = spec
        .target
        .kind
        .parse()
        .map_err(|e: String| AppError::invalid_field("target.type", e))?;
    let display_name = clean(&spec.name);
    if display_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err(AppError::invalid_field(
            "name",
            "the display name is limited to 100 characters",
        ));
    }
    let target = match (clean(&spec.target.id), clean(&spec.target.name)) {
        (Some(id), _) => Resolved::Existing(
            provider
                .find_target(tenant, kind, &id)
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!(
                        "{} “{id}” among your tenant's routing targets",
                        kind.label()
                    ))
                })?,
        ),
        (None, Some(name)) => match provider.find_target_by_name(tenant, kind, &name).await? {
            Some(target) => Resolved::Existing(target),
            None if kind.created_on_demand() => {
                if name.chars().count() > 100 {
                    return Err(AppError::invalid_field(
                        "target.name",
                        "target names are limited to 100 characters",
                    ));
                }
                Resolved::NewExtension(name)
            }
            None => {
                return Err(AppError::NotFound(format!(
                    "{} named “{name}” among your tenant's routing targets",
                    kind.label()
                )));
            }
        },
        (None, None) => {
            return Err(AppError::invalid_field(
                "target",
                "give the target's id, or a name (extensions are created by name)",
            ));
        }
    };
    Ok(Assignment {
        number,
        display_name,
        target,
    })
}

pub async fn provision(
    state: &AppState,
    caller: &Principal,
    reservation_id: ReservationId,
    specs: &[AssignmentSpec],
    request_id: Option<&str>,
) -> AppResult<Vec<NumberResult>> {
    let tenant_id = caller.tenant()?;
    let provider = state.platform_for(tenant_id).await?;
    let mut conn = state.pool.acquire().await?;
    let reservation = repo::find(&mut conn, tenant_id, reservation_id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    reservation
        .effective_status(chrono::Utc::now())
        .require_active("this reservation has expired: search and reserve again")?;
    if specs.is_empty() {
        return Err(AppError::invalid_field(
            "assignments",
            "give at least one number and its target",
        ));
    }
    crate::reservations::approvals::check_provisionable(&mut conn, tenant_id, reservation_id)
        .await?;
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT e164 FROM holds WHERE reservation_id = $1 AND ended_at IS NULL AND expires_at > now()",
    )
    .bind(reservation_id)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut assignments = Vec::with_capacity(specs.len());
    for spec in specs {
        let assignment = resolve(provider.as_ref(), tenant_id, spec).await?;
        if !held.contains(&assignment.number.as_str().to_string()) {
            return Err(AppError::conflict(
                "number_not_held",
                format!("{} is not held by this reservation", assignment.number),
                json!({ "number": assignment.number }),
            ));
        }
        if assignments
            .iter()
            .any(|a: &Assignment| a.number == assignment.number)
        {
            return Err(AppError::invalid_field(
                "assignments",
                format!("{} appears twice", assignment.number),
            ));
        }
        assignments.push(assignment);
    }
    e911_policy(state, caller, &reservation, &assignments, request_id).await?;

    // Each number is its own saga: one that fails (its hold ended, recovery took it over,
    // the database went away) does not stop the others, and the answer says what became
    // of every number. Only when the first number fails, with nothing done yet, is the
    // failure the request's own answer.
    let run = super::provision_saga::Run {
        state,
        provider: provider.as_ref(),
        caller,
        tenant_id,
        reservation_id,
        justification: &reservation.justification,
        request_id,
    };
    let mut results = Vec::with_capacity(assignments.len());
    for assignment in assignments {
        let number = assignment.number.clone();
        let outcome = run.run(assignment).await;
        match outcome {
            Ok(result) => results.push(result),
            Err(err) if results.is_empty() => return Err(err),
            Err(err) => {
                err.log();
                results.push(failed_result(state, &number, &err).await);
            }
        }
    }
    Ok(results)
}

/// Tenant policy: no activation without a registered E911 address. A refusal is audited
/// for each number it blocks.
async fn e911_policy(
    state: &AppState,
    caller: &Principal,
    reservation: &repo::ReservationRow,
    assignments: &[Assignment],
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = reservation.tenant_id;
    let wanted: Vec<String> = assignments
        .iter()
        .map(|a| a.number.as_str().to_string())
        .collect();
    let mut conn = state.pool.acquire().await?;
    let Err(refused) =
        crate::features::e911::check_activation_policy(&mut conn, tenant_id, &wanted).await
    else {
        return Ok(());
    };
    if let AppError::Conflict { details, .. } = &refused {
        for blocked in details.as_array().into_iter().flatten() {
            let entry = Entry::new(Action::Provision, Outcome::Failure)
                .by(Some(tenant_id), Some(caller.user_id), request_id)
                .number(blocked["number"].as_str().unwrap_or_default())
                .justification(reservation.justification.as_deref())
                .error("refused by tenant policy: E911 address not registered")
                .details(
                    json!({ "policy": "require_e911", "e911_status": blocked["e911_status"] }),
                );
            audit::repo::record(&mut conn, &entry).await?;
        }
    }
    Err(refused)
}

/// The answer for a number whose saga ended in an error: the state Inward shows for it now
/// (or `unknown` when even that cannot be read; recovery then settles it).
async fn failed_result(state: &AppState, number: &E164, err: &AppError) -> NumberResult {
    let shown: Option<String> = sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
        .bind(number.as_str())
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten();
    NumberResult {
        number: number.as_str().to_string(),
        ok: false,
        state: shown.unwrap_or_else(|| "unknown".into()),
        target: None,
        notice: None,
        error: Some(err.public_message()),
    }
}
