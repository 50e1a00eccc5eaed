//! The status-sync job: sends pending CNAM names and E911 addresses to the provider and
//! moves them to synced/registered or failed. Rows are claimed with a lease (see `sync_kind`),
//! so several server instances share the work without sending anything twice; a provider
//! that cannot be reached is retried with backoff, and gives up after `MAX_ATTEMPTS`.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::domain::cnam::{Cnam, MAX_ATTEMPTS, SyncEvent, SyncStatus, retry_delay_seconds};
use crate::domain::e911::{AddressInput, E911Address, E911Status};
use crate::error::{AppError, AppResult};
use crate::providers::{CarrierFeature, ProviderError, ProviderErrorKind, RequestStatus};
use crate::state::AppState;

const BATCH: i64 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub submitted: usize,
    pub completed: usize,
    pub failed: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cnam,
    E911,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Cnam => "cnam_records",
            Kind::E911 => "e911_records",
        }
    }
    fn done(self) -> &'static str {
        match self {
            Kind::Cnam => SyncStatus::Synced.as_str(),
            Kind::E911 => E911Status::Registered.as_str(),
        }
    }
    fn action(self) -> Action {
        match self {
            Kind::Cnam => Action::Cnam,
            Kind::E911 => Action::E911,
        }
    }
}

enum Payload {
    Cnam(Cnam),
    E911(Box<E911Address>),
}

/// What to write back after one step.
enum Step {
    Submitted(String),
    StillPending,
    Done,
    Failed(String),
    Retry { attempts: i32, error: String },
}

fn retryable(err: &ProviderError) -> bool {
    matches!(
        err.kind,
        ProviderErrorKind::Transient
            | ProviderErrorKind::RateLimited
            | ProviderErrorKind::Unauthorized
    )
}

fn after_error(err: ProviderError, attempts: i32) -> Step {
    let attempts = attempts + 1;
    if !retryable(&err) {
        return Step::Failed(err.to_string());
    }
    match SyncStatus::Pending.next(SyncEvent::ProviderUnavailable { attempts }) {
        Some(SyncStatus::Failed) => Step::Failed(format!(
            "the provider could not be reached after {attempts} attempts: {err}"
        )),
        _ => Step::Retry {
            attempts,
            error: err.to_string(),
        },
    }
}

pub async fn run_once(state: &AppState) -> AppResult<SyncReport> {
    {
        let mut conn = state.pool.acquire().await?;
        super::cnam::backfill_defaults(&mut conn).await?;
    }
    let mut report = SyncReport::default();
    for kind in [Kind::Cnam, Kind::E911] {
        sync_kind(state, kind, &mut report).await?;
    }
    Ok(report)
}

/// How long a claimed row is left to this instance: longer than a pass of platform calls.
const LEASE_SECONDS: f64 = 600.0;

/// What the row looked like when it was claimed: an answer is written only if nobody changed
/// it meanwhile (a person's edit resets the row and queues it again).
struct Claim {
    e164: String,
    tenant_id: TenantId,
    reference: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// Claim, ask, record: the rows are claimed by pushing `next_attempt_at` past the lease, in a
/// statement of their own, so the platform is asked with nothing locked and no transaction
/// open. A slow platform delays this job only, never a person editing a name or an address;
/// other instances skip the claimed rows, and an instance that dies mid-pass leaves them
/// to be retried when the lease ends.
async fn sync_kind(state: &AppState, kind: Kind, report: &mut SyncReport) -> AppResult<()> {
    let columns = match kind {
        Kind::Cnam => "r.name",
        Kind::E911 => {
            "r.street, r.location, r.city, r.state::text AS state, r.zip, r.country::text AS country"
        }
    };
    // Only rows of numbers still with the tenant that set them: a lapsed hold's leftovers wait.
    let rows = sqlx::query(&format!(
        "UPDATE {table} r SET next_attempt_at = now() + make_interval(secs => $1)
         FROM (SELECT r.e164 FROM {table} r
               JOIN numbers n ON n.e164 = r.e164 AND n.tenant_id = r.tenant_id
               WHERE r.status = 'pending' AND r.next_attempt_at <= now()
               ORDER BY r.next_attempt_at LIMIT {BATCH} FOR UPDATE OF r SKIP LOCKED) due
         WHERE r.e164 = due.e164
         RETURNING r.e164, r.tenant_id, r.provider_ref, r.attempts, r.updated_at, {columns}",
        table = kind.table()
    ))
    .bind(LEASE_SECONDS)
    .fetch_all(&state.pool)
    .await?;
    for row in rows {
        match ask(state, kind, &row).await {
            Ok((claim, step)) => record(state, kind, &claim, step, report).await?,
            // The row keeps its lease and is tried again when it ends; the others go on.
            Err(err) => {
                tracing::warn!(error = %err, "a CNAM/E911 row could not be sent; retried after its lease")
            }
        }
    }
    Ok(())
}

/// Asks the platform about one claimed row: submits it, or reads how its request went.
async fn ask(state: &AppState, kind: Kind, row: &PgRow) -> AppResult<(Claim, Step)> {
    let claim = Claim {
        e164: row.try_get("e164")?,
        tenant_id: row.try_get("tenant_id")?,
        reference: row.try_get("provider_ref")?,
        updated_at: row.try_get("updated_at")?,
    };
    let attempts: i32 = row.try_get("attempts")?;
    let number = E164::from_stored(&claim.e164).map_err(|e| AppError::Internal(e.into()))?;
    let carrier = state
        .provider_for(claim.tenant_id)
        .await?
        .carrier(match kind {
            Kind::Cnam => CarrierFeature::Cnam,
            Kind::E911 => CarrierFeature::E911,
        });

    let payload = match kind {
        Kind::Cnam => Cnam::parse(&row.try_get::<String, _>("name")?)
            .map(Payload::Cnam)
            .map_err(|e| e.to_string()),
        Kind::E911 => E911Address::parse(&AddressInput {
            street: row.try_get("street")?,
            location: row.try_get("location")?,
            city: row.try_get("city")?,
            state: row.try_get("state")?,
            zip: row.try_get("zip")?,
            country: row.try_get("country")?,
        })
        .map(|a| Payload::E911(Box::new(a)))
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }),
    };

    let step = match (payload, &claim.reference) {
        (Err(reason), _) => Step::Failed(reason),
        (Ok(payload), None) => {
            let submitted = async {
                let carrier = carrier?;
                match &payload {
                    Payload::Cnam(name) => {
                        carrier.submit_cnam(claim.tenant_id, &number, name).await
                    }
                    Payload::E911(address) => {
                        carrier.submit_e911(claim.tenant_id, &number, address).await
                    }
                }
            }
            .await;
            match submitted {
                Ok(reference) => Step::Submitted(reference),
                Err(err) => after_error(err, attempts),
            }
        }
        (Ok(_), Some(reference)) => {
            let status = async {
                let carrier = carrier?;
                match kind {
                    Kind::Cnam => carrier.cnam_status(reference).await,
                    Kind::E911 => carrier.e911_status(reference).await,
                }
            }
            .await;
            match status {
                Ok(RequestStatus::Pending) => Step::StillPending,
                Ok(RequestStatus::Done) => Step::Done,
                Ok(RequestStatus::Rejected(reason)) => Step::Failed(reason),
                Err(err) => after_error(err, attempts),
            }
        }
    };
    Ok((claim, step))
}

/// Writes one answer where the row is as it was claimed; an answer about a name or address
/// changed meanwhile is dropped (the change already queued the new one).
async fn record(
    state: &AppState,
    kind: Kind,
    claim: &Claim,
    step: Step,
    report: &mut SyncReport,
) -> AppResult<()> {
    const AS_CLAIMED: &str = "e164 = $1 AND tenant_id = $2 AND updated_at = $3
         AND provider_ref IS NOT DISTINCT FROM $4 AND status = 'pending'";
    let table = kind.table();
    let guarded = |set: &str| format!("UPDATE {table} SET {set} WHERE {AS_CLAIMED}");
    let mut tx = state.pool.begin().await?;
    let query = guarded(match &step {
        Step::Submitted(_) => {
            "provider_ref = $5, attempts = 0, next_attempt_at = now(), updated_at = now()"
        }
        Step::StillPending => "next_attempt_at = now() + interval '1 second'",
        Step::Retry { .. } => {
            "attempts = $5, reason = $6, next_attempt_at = now() + make_interval(secs => $7),
             updated_at = now()"
        }
        Step::Done => "status = $5, reason = NULL, updated_at = now()",
        Step::Failed(_) => "status = 'failed', reason = $5, updated_at = now()",
    });
    let query = sqlx::query(&query)
        .bind(&claim.e164)
        .bind(claim.tenant_id)
        .bind(claim.updated_at)
        .bind(&claim.reference);
    let query = match &step {
        Step::Submitted(reference) => query.bind(reference),
        Step::StillPending => query,
        Step::Retry { attempts, error } => query
            .bind(attempts)
            .bind(format!("retrying ({attempts} of {MAX_ATTEMPTS}): {error}"))
            .bind(retry_delay_seconds(*attempts) as f64),
        Step::Done => query.bind(kind.done()),
        Step::Failed(reason) => query.bind(reason),
    };
    if query.execute(&mut *tx).await?.rows_affected() == 0 {
        return Ok(());
    }
    match step {
        Step::Done => {
            let entry = Entry::new(kind.action(), Outcome::Success)
                .by(Some(claim.tenant_id), None, None)
                .number(&claim.e164)
                .details(json!({ "event": "provider", "status": kind.done() }));
            audit::repo::record(&mut tx, &entry).await?;
            report.completed += 1;
        }
        Step::Failed(reason) => {
            let entry = Entry::new(kind.action(), Outcome::Failure)
                .by(Some(claim.tenant_id), None, None)
                .number(&claim.e164)
                .error(reason)
                .details(json!({ "event": "provider", "status": "failed" }));
            audit::repo::record(&mut tx, &entry).await?;
            report.failed += 1;
        }
        Step::Submitted(_) => report.submitted += 1,
        Step::StillPending | Step::Retry { .. } => {}
    }
    tx.commit().await?;
    Ok(())
}
