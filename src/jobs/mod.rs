//! Background jobs, looped beside the server. Each `run_once` claims its work in the
//! database (SKIP LOCKED), so any number of instances can run them together.

use std::time::Duration;

use serde::Serialize;

pub mod activation;
pub mod orphans;
pub mod uploads;

use crate::error::AppResult;
use crate::reservations::{holds, provision};
use crate::state::AppState;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub expired: usize,
    pub provider_released: usize,
    pub activated: usize,
    pub recovered: usize,
    /// Premium approvals that reached their deadline undecided.
    pub approvals_expired: usize,
    /// CNAM and E911 requests sent to, answered by, or failed at the provider.
    pub features: crate::features::sync::SyncReport,
    /// Port-in numbers whose status moved.
    pub ports_moved: usize,
    /// Emails sent (or logged, without SMTP).
    pub emails: usize,
    /// Inventory uploads failed for lack of progress, and staging cleaned after retention.
    pub uploads: uploads::UploadSweep,
}

/// A saga not heard from in this long is presumed dead and compensated.
const STALLED_SAGA_SECONDS: i64 = 300;

/// Counts the run of one job step in `job_runs_total{job, outcome}`.
fn counted<T>(job: &'static str, result: AppResult<T>) -> AppResult<T> {
    crate::metrics::job_run(job, result.is_ok());
    result
}

pub async fn run_once(state: &AppState) -> AppResult<SweepReport> {
    let expired = counted("expire_holds", holds::expire_due(state, 500).await)?;
    let provider_released = counted(
        "release_provider_reservations",
        holds::release_at_provider(state, 200).await,
    )?;
    let activated = counted(
        "activate_pending",
        activation::activate_pending(state).await,
    )?;
    let recovered = counted(
        "recover_stalled_sagas",
        provision::recover_stalled(state, STALLED_SAGA_SECONDS).await,
    )?;
    let approvals_expired = counted(
        "expire_approvals",
        crate::approvals::expire_due(state).await,
    )?;
    let features = counted(
        "sync_cnam_e911",
        crate::features::sync::run_once(state).await,
    )?;
    let ports_moved = counted("sync_ports", crate::porting::sync(state).await)?;
    let emails = counted("deliver_mail", crate::mail::deliver(state).await)?;
    let uploads = counted("sweep_inventory_uploads", uploads::sweep(state).await)?;
    counted(
        "delete_expired_sessions",
        crate::auth::repo::delete_expired_sessions(&state.pool)
            .await
            .map_err(Into::into),
    )?;
    Ok(SweepReport {
        expired,
        provider_released,
        activated,
        recovered,
        approvals_expired,
        features,
        ports_moved,
        emails,
        uploads,
    })
}

pub async fn run_forever(state: AppState, every: Duration) {
    // The first run waits one interval: a server that just started has nothing overdue yet.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = run_once(&state).await {
            err.log();
            tracing::warn!(error = %err, "background sweep failed; retrying next tick");
        }
        match orphans::run_if_due(&state).await {
            Ok(Some(report)) => tracing::info!(?report, "orphan check"),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "orphan check failed; retrying next interval"),
        }
    }
}
