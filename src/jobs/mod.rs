//! Background jobs, looped beside the server. Each `run_once` claims its work in the
//! database (SKIP LOCKED), so any number of instances can run them together.

use std::time::Duration;

use serde::Serialize;

pub mod orphans;

use crate::error::{AppError, AppResult};
use crate::reservations::holds;
use crate::state::AppState;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub expired: usize,
    pub provider_released: usize,
    pub activated: usize,
    pub recovered: usize,
    /// Releases finished by recovery (their saga died or lost the platform's answer).
    pub releases_finished: usize,
    /// Re-routes finished by recovery, likewise.
    pub reroutes_finished: usize,
    /// Premium approvals that reached their deadline undecided.
    pub approvals_expired: usize,
    /// CNAM and E911 requests sent to, answered by, or failed at the provider.
    pub features: crate::features::sync::SyncReport,
    /// Port-in numbers whose status moved.
    pub ports_moved: usize,
    /// Port-in numbers cancelled because their draft was never submitted.
    pub port_drafts_expired: usize,
    /// Emails sent (or logged, without SMTP).
    pub emails: usize,
    /// Inventory uploads failed for lack of progress, and staging cleaned after retention.
    pub uploads: crate::inventory::upload_sweep::UploadSweep,
    /// The steps that failed (logged, and retried on the next pass).
    pub failed: Vec<&'static str>,
}

/// A step that takes longer is abandoned until the next pass (its claims are leases or
/// row locks, which lapse or roll back), so that one stuck platform or mail relay cannot
/// stop the other steps, hold expiry first of all.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one job step: counted in `job_runs_total{job, outcome}`, and on failure logged
/// and named in `failed`, without keeping the other steps from running.
async fn step<T: Default>(
    job: &'static str,
    failed: &mut Vec<&'static str>,
    run: impl Future<Output = AppResult<T>>,
) -> T {
    let started = std::time::Instant::now();
    let span = tracing::info_span!("job", job);
    let run = tracing::Instrument::instrument(run, span.clone());
    let result = match tokio::time::timeout(STEP_TIMEOUT, run).await {
        Ok(result) => result,
        Err(_) => Err(AppError::Internal(anyhow::anyhow!(
            "took longer than {} s; abandoned until the next pass",
            STEP_TIMEOUT.as_secs()
        ))),
    };
    crate::metrics::job_run(job, result.is_ok());
    span.in_scope(|| {
        let ms = started.elapsed().as_millis() as u64;
        tracing::debug!(ms, ok = result.is_ok(), "job step ran");
    });
    match result {
        Ok(value) => value,
        Err(err) => {
            err.log();
            tracing::warn!(job, error = %err, "background job step failed; the others ran");
            failed.push(job);
            T::default()
        }
    }
}

/// One pass of every job step. A failing step is named in the report's `failed` and
/// retried on the next pass; it never keeps the steps after it from running. The jobs work
/// on every organization's rows.
pub async fn run_once(state: &AppState) -> SweepReport {
    crate::db_scope::bypassing(crate::db_scope::Bypass::Jobs, sweep(state)).await
}

async fn sweep(state: &AppState) -> SweepReport {
    let mut report = SweepReport::default();
    holds_and_sagas(state, &mut report).await;
    features_and_ports(state, &mut report).await;
    housekeeping(state, &mut report).await;
    report
}

/// Hold expiry first of all, then the sagas' recovery: what keeps numbers from being stuck.
async fn holds_and_sagas(state: &AppState, r: &mut SweepReport) {
    let failed = &mut r.failed;
    r.expired = step("expire_holds", failed, holds::expire_due(state, 500)).await;
    r.provider_released = step(
        "release_provider_reservations",
        failed,
        holds::release_at_provider(state, 200),
    )
    .await;
    r.activated = step(
        "activate_pending",
        failed,
        crate::numbers::activation::activate_pending(state),
    )
    .await;
    r.recovered = step(
        "recover_stalled_sagas",
        failed,
        crate::reservations::provision_saga::recover_stalled(state),
    )
    .await;
    r.releases_finished = step(
        "recover_releases",
        failed,
        crate::numbers::release::recover(state),
    )
    .await;
    r.reroutes_finished = step(
        "recover_reroutes",
        failed,
        crate::numbers::reroute::recover(state),
    )
    .await;
    r.approvals_expired = step(
        "expire_approvals",
        failed,
        crate::reservations::approvals::expire_due(state),
    )
    .await;
}

/// What the carrier answers later: CNAM, E911 and port-ins.
async fn features_and_ports(state: &AppState, r: &mut SweepReport) {
    let failed = &mut r.failed;
    r.features = step(
        "sync_cnam_e911",
        failed,
        crate::features::sync::run_once(state),
    )
    .await;
    r.ports_moved = step("sync_ports", failed, crate::porting::sync(state)).await;
    step(
        "seal_port_pins",
        failed,
        crate::porting::seal_plaintext_pins(state),
    )
    .await;
    r.port_drafts_expired = step(
        "expire_port_drafts",
        failed,
        crate::porting::expire_drafts(state),
    )
    .await;
}

/// Mail, stalled uploads, and what is kept only for a while.
async fn housekeeping(state: &AppState, r: &mut SweepReport) {
    let failed = &mut r.failed;
    r.emails = step("deliver_mail", failed, crate::mail::deliver(state)).await;
    r.uploads = step(
        "sweep_inventory_uploads",
        failed,
        crate::inventory::upload_sweep::sweep(state),
    )
    .await;
    step("prune_idempotency_keys", failed, async {
        crate::idempotency::prune(&state.pool, state.config.idempotency.key_ttl_hours).await
    })
    .await;
    step("prune_search_log", failed, async {
        crate::audit::repo::prune_searches(
            &state.pool,
            state.config.audit.search_retention_days,
            10_000,
        )
        .await
        .map(|_| ())
        .map_err(AppError::from)
    })
    .await;
    step("prune_webhook_events", failed, async {
        crate::webhooks::repo::prune_events(
            &state.pool,
            state.config.webhooks.retention_days,
            10_000,
        )
        .await
        .map(|_| ())
        .map_err(AppError::from)
    })
    .await;
    step("verify_audit_chain", failed, async {
        crate::audit::chain::verify_new(&state.pool)
            .await
            .map(|_| ())
            .map_err(AppError::Internal)
    })
    .await;
    step("delete_expired_sessions", failed, async {
        crate::auth::repo::delete_expired_sessions(&state.pool)
            .await
            .map_err(AppError::from)
    })
    .await;
    step("delete_expired_sso_logins", failed, async {
        crate::sso::repo::delete_expired_logins(&state.pool)
            .await
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await;
}

pub async fn run_forever(state: AppState, every: Duration) {
    // The first run waits one interval: a server that just started has nothing overdue yet.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Reconciliation reads whole platforms within their rate limits, which can take
    // minutes: it runs beside the sweep, so holds still expire on time meanwhile.
    tokio::spawn(crate::db_scope::bypassing(
        crate::db_scope::Bypass::Jobs,
        platform_checks(state.clone(), every),
    ));
    loop {
        ticker.tick().await;
        run_once(&state).await;
    }
}

/// Reconciliation and the orphan check, each when its interval is due.
async fn platform_checks(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match crate::drift::run_if_due(&state).await {
            Ok(Some(runs)) => tracing::info!(tenants = runs.len(), "reconciliation"),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "reconciliation failed; retrying next interval")
            }
        }
        match orphans::run_if_due(&state).await {
            Ok(Some(report)) => tracing::info!(?report, "orphan check"),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "orphan check failed; retrying next interval"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_step_is_named_and_the_next_one_still_runs() {
        let mut failed = Vec::new();
        let first: usize = step("first", &mut failed, async {
            Err(AppError::Internal(anyhow::anyhow!("the platform is down")))
        })
        .await;
        let second: usize = step("second", &mut failed, async { Ok(7) }).await;
        assert_eq!((first, second), (0, 7));
        assert_eq!(failed, ["first"]);
    }
}
