//! The daily orphan check (the spec's edge case 2): reconciliation (`drift`) looks up every
//! routed number's target on its platform; a missing one flags the number `orphaned` and
//! tells the tenant's admins, and after the grace period this job deprovisions it on the
//! platform. One instance runs it per interval: the `job_runs` row is claimed with a
//! conditional UPDATE.

use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::{E164, Target};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OrphanReport {
    pub checked: usize,
    pub orphaned: usize,
    pub deprovisioned: usize,
}

/// Claims the job for this interval; false when another instance ran it recently.
pub async fn claim(state: &AppState, name: &str, interval_seconds: i64) -> AppResult<bool> {
    sqlx::query("INSERT INTO job_runs (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(&state.pool)
        .await?;
    let claimed = sqlx::query(
        "UPDATE job_runs SET last_run_at = now() WHERE name = $1 AND last_run_at <= now() - make_interval(secs => $2)",
    )
    .bind(name)
    .bind(interval_seconds as f64)
    .execute(&state.pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

pub async fn run_if_due(state: &AppState) -> AppResult<Option<OrphanReport>> {
    if !claim(
        state,
        "orphan_check",
        state.config.orphans.check_interval_seconds,
    )
    .await?
    {
        return Ok(None);
    }
    Ok(Some(run_once(state).await?))
}

/// Finds orphans through reconciliation (a number whose target is gone is one kind of
/// drift), then deprovisions those past the grace period, across every tenant.
pub async fn run_once(state: &AppState) -> AppResult<OrphanReport> {
    crate::db_scope::bypassing(crate::db_scope::Bypass::Jobs, check_all(state)).await
}

async fn check_all(state: &AppState) -> AppResult<OrphanReport> {
    let mut report = OrphanReport::default();
    refresh_platform_inventory(state).await;
    for run in crate::drift::reconcile_all(state).await? {
        report.checked += run.routed_in_inward;
        report.orphaned += run.orphaned;
    }
    report.deprovisioned = deprovision_after_grace(state).await?;
    Ok(report)
}

/// Flags the number orphaned and tells the tenant's admins; false when it was not this
/// tenant's routed number any more (or was orphaned already).
pub async fn flag_orphan(
    state: &AppState,
    tenant_id: Uuid,
    e164: &str,
    target: &Target,
) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    if !crate::numbers::lifecycle::orphaned(&mut tx, e164, tenant_id).await? {
        return Ok(false);
    }
    // The owner is whoever provisioned it, per the audit log; every tenant admin is told too.
    let owner: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM audit_log WHERE phone_number = $1 AND tenant_id = $2 AND action = 'PROVISION' AND status = 'SUCCESS' AND user_id IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    let message = format!(
        "{} lost its routing target: {} “{}” no longer exists on the platform. Re-route it within {} days or it will be deprovisioned.",
        crate::domain::e164::format_national(e164),
        target.kind.label(),
        target.name,
        state.config.orphans.grace_days
    );
    crate::notifications::notify_admins(
        &mut tx,
        tenant_id,
        owner,
        e164,
        &message,
        "/numbers/orphaned",
    )
    .await?;
    let entry = Entry::new(Action::Orphan, Outcome::Success)
        .by(Some(tenant_id), None, None)
        .number(e164)
        .target(target.kind.as_str(), Some(&target.id))
        .details(json!({ "target_name": target.name, "owner": owner }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

async fn deprovision_after_grace(state: &AppState) -> AppResult<usize> {
    // A number being re-routed is being rescued: not deprovisioned under the saga's feet.
    let due: Vec<(String, Uuid)> = sqlx::query_as(&format!(
        "SELECT e164, tenant_id FROM numbers n WHERE lifecycle = 'orphaned' AND orphaned_at < now() - make_interval(days => $1) AND {}",
        crate::numbers::reroute::not_being_rerouted_sql("n")
    ))
    .bind(state.config.orphans.grace_days as i32)
    .fetch_all(&state.pool)
    .await?;
    let mut done = 0;
    for (e164, tenant_id) in due {
        let number = E164::from_stored(&e164).map_err(|e| AppError::Internal(e.into()))?;
        let provider = state.provider_for(tenant_id).await?;
        if let Err(err) = provider.unassign(tenant_id, &number).await {
            tracing::warn!(%e164, error = %err, "deprovisioning an orphan failed; will retry next run");
            continue;
        }
        let mut tx = state.pool.begin().await?;
        if crate::numbers::lifecycle::deprovisioned(&mut tx, &e164, tenant_id).await? {
            done += 1;
        }
        tx.commit().await?;
    }
    Ok(done)
}

/// Platforms gain numbers outside Inward; each run re-imports every connected tenant's
/// unassigned numbers so they show up in search.
async fn refresh_platform_inventory(state: &AppState) {
    let tenants: Vec<Uuid> =
        match crate::connections::repo::connected_tenants(&state.pool, true).await {
            Ok(t) => t,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list connections");
                return;
            }
        };
    for tenant in tenants {
        let imported = match state.provider_for(tenant).await {
            Ok(provider) => {
                crate::connections::sync::import_unassigned(state, tenant, provider.as_ref()).await
            }
            Err(err) => Err(err),
        };
        if let Err(err) = imported {
            tracing::warn!(%tenant, error = %err, "importing the platform's unassigned numbers failed");
        }
    }
}
