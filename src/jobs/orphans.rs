//! The daily orphan check (the spec's edge case 2): reconciliation (`drift`) looks up every
//! routed number's target on its platform; a missing one flags the number `orphaned` and
//! tells the tenant's admins (`drift::orphan`), and after the grace period this job
//! deprovisions it on the platform. One instance runs it per interval (`job_runs`).

use crate::domain::E164;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OrphanReport {
    pub checked: usize,
    pub orphaned: usize,
    pub deprovisioned: usize,
}

pub async fn run_if_due(state: &AppState) -> AppResult<Option<OrphanReport>> {
    if !crate::job_runs::claim(
        &state.pool,
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

async fn deprovision_after_grace(state: &AppState) -> AppResult<usize> {
    // A number being re-routed is being rescued: not deprovisioned under the saga's feet.
    let due: Vec<(String, TenantId)> = sqlx::query_as(&format!(
        "SELECT e164, tenant_id FROM numbers n WHERE lifecycle = 'orphaned' AND orphaned_at < now() - make_interval(days => $1) AND {}",
        crate::numbers::reroute::not_being_rerouted_sql("n")
    ))
    .bind(state.config.orphans.grace_days as i32)
    .fetch_all(&state.pool)
    .await?;
    let mut done = 0;
    for (e164, tenant_id) in due {
        let number = E164::from_stored(&e164).map_err(|e| AppError::Internal(e.into()))?;
        let provider = state.platform_for(tenant_id).await?;
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
    let tenants: Vec<TenantId> =
        match crate::connections::repo::connected_tenants(&state.pool, true).await {
            Ok(t) => t,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list connections");
                return;
            }
        };
    for tenant in tenants {
        let imported = match state.platform_for(tenant).await {
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
