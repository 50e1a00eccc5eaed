//! The port-in job: submits newly submitted numbers to the carrier and follows the in-flight
//! ones until their FOC date, when the number joins the tenant's numbers.
//!
//! Claim, ask, record, as the other jobs that wait on a platform: rows are claimed with a
//! lease on `next_check_at` in a statement of their own, the carrier is asked with nothing
//! locked, and what it answered is written only if the port number is still as it was
//! claimed (a person may have cancelled the port or resubmitted it meanwhile). Only the
//! completion keeps the one row locked across its platform call (`complete`), so that a
//! port cancelled at that moment does not also go live.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{audit_port, record_event};
use crate::audit::{Action, Outcome};
use crate::domain::port::{PortDetails, PortEvent, PortStatus};
use crate::domain::{E164, Target};
use crate::error::{AppError, AppResult};
use crate::secrets::SecretError;
use std::sync::Arc;

use crate::domain::TenantId;
use crate::providers::{Carrier, CarrierFeature, NumberRef, PortProgress, ProviderError};
use crate::state::AppState;

/// How long a claimed number is left to this instance: longer than a pass of carrier calls.
const LEASE_SECONDS: f64 = 600.0;

/// What the job does with one number after asking the carrier.
enum Step {
    Advance(PortStatus, Option<DateTime<Utc>>, String),
    Reject(String),
}

/// One pass; each number moves on its own, so one bad number fails alone. Returns how many
/// numbers' status moved.
pub async fn sync(state: &AppState) -> AppResult<usize> {
    let rows: Vec<Due> = sqlx::query_as(
        "UPDATE port_numbers n SET next_check_at = now() + make_interval(secs => $1)
         FROM (SELECT n.port_id, n.e164, p.tenant_id, p.current_carrier, p.account_number, p.pin, p.pin_sealed,
                      p.account_name, p.service_address, p.requested_foc, p.target_type, p.target_id,
                      p.target_name
               FROM port_numbers n JOIN port_requests p ON p.id = n.port_id
               WHERE n.status IN ('submitted', 'acknowledged', 'foc_set') AND n.next_check_at <= now()
               ORDER BY n.next_check_at LIMIT 100 FOR UPDATE OF n SKIP LOCKED) due
         WHERE n.port_id = due.port_id AND n.e164 = due.e164
         RETURNING n.port_id, n.e164, n.status, n.provider_ref, n.attempts, n.next_check_at AS lease,
                   due.tenant_id, due.current_carrier, due.account_number, due.pin, due.pin_sealed, due.account_name,
                   due.service_address, due.requested_foc, due.target_type, due.target_id,
                   due.target_name",
    )
    .bind(LEASE_SECONDS)
    .fetch_all(&state.pool)
    .await?;
    let mut changed = 0;
    for row in rows {
        match follow(state, &row).await {
            Ok(moved) => changed += moved,
            // This number keeps its lease and is looked at again when it ends; the rest go on.
            Err(err) => {
                tracing::warn!(error = %err, "a port number's step failed; retried after its lease")
            }
        }
    }
    Ok(changed)
}

/// Rejects a port number with `reason`, if it can still be rejected from `status`; records
/// the event for the request's timeline and a failed `PORT_STATUS` entry.
async fn reject(
    tx: &mut PgConnection,
    port_id: Uuid,
    e164: &str,
    tenant_id: TenantId,
    status: PortStatus,
    reason: &str,
) -> AppResult<bool> {
    let Ok(next) = status.next(PortEvent::CarrierRejected) else {
        tracing::warn!(%e164, %reason, "a number past the point of rejection was rejected; ignored");
        return Ok(false);
    };
    sqlx::query("UPDATE port_numbers SET status = $3, reason = $4, updated_at = now() WHERE port_id = $1 AND e164 = $2")
        .bind(port_id)
        .bind(e164)
        .bind(next.as_str())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    record_event(
        tx,
        port_id,
        Some(e164),
        "rejected",
        &format!("{e164} rejected: {reason}. Fix the request and submit it again"),
    )
    .await?;
    audit_port(
        tx,
        Action::PortStatus,
        Outcome::Failure,
        tenant_id,
        None,
        None,
        Some(e164),
        json!({ "port_id": port_id, "status": "rejected", "reason": reason }),
    )
    .await?;
    Ok(true)
}

/// A port number as the pass claimed it, with its request's details.
#[derive(sqlx::FromRow)]
struct Due {
    port_id: Uuid,
    e164: String,
    #[sqlx(try_from = "String")]
    status: PortStatus,
    provider_ref: Option<String>,
    attempts: i32,
    /// `next_check_at` as claimed: a step that reschedules the number changes it.
    lease: DateTime<Utc>,
    tenant_id: TenantId,
    current_carrier: String,
    account_number: String,
    pin: Option<String>,
    pin_sealed: Option<Vec<u8>>,
    account_name: String,
    service_address: String,
    requested_foc: Option<chrono::NaiveDate>,
    target_type: String,
    target_id: String,
    target_name: String,
}

impl Due {
    fn claimed<'a>(&'a self, status: PortStatus, reference: Option<&'a str>) -> Claimed<'a> {
        Claimed {
            port_id: self.port_id,
            e164: &self.e164,
            status,
            reference,
        }
    }

    fn target(&self) -> AppResult<Target> {
        Ok(Target {
            kind: self
                .target_type
                .parse()
                .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
            id: self.target_id.clone(),
            name: self.target_name.clone(),
        })
    }
}

/// Asks the carrier about one claimed port number and records what it answered; returns how
/// many steps the number moved.
async fn follow(state: &AppState, due: &Due) -> AppResult<usize> {
    let number = E164::from_stored(&due.e164).map_err(|e| AppError::Internal(e.into()))?;
    let carrier = state
        .provider_for(due.tenant_id)
        .await?
        .carrier(CarrierFeature::Porting);
    let Some(reference) = &due.provider_ref else {
        return submit(state, carrier, due, &number).await;
    };
    let progress = match carrier {
        Ok(carrier) => carrier.port_status(reference).await,
        Err(refused) => Err(refused),
    };
    let Some(mut tx) = due.claimed(due.status, Some(reference)).hold(state).await? else {
        return Ok(0);
    };
    let progress = match progress {
        Ok(p) => p,
        Err(err) => {
            retry(
                &mut tx,
                due.port_id,
                &due.e164,
                due.attempts,
                &err.to_string(),
            )
            .await?;
            tx.commit().await?;
            return Ok(0);
        }
    };
    let steps = steps_to(due, &progress)?;
    let (status, moved) = apply(&mut tx, state, due, &number, steps).await?;
    if status.in_flight() {
        // Looked at again in a second, unless a step above scheduled it otherwise.
        sqlx::query(
            "UPDATE port_numbers SET next_check_at = now() + interval '1 second'
                     WHERE port_id = $1 AND e164 = $2 AND next_check_at = $3",
        )
        .bind(due.port_id)
        .bind(&due.e164)
        .bind(due.lease)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// First look at a submitted number: hands the request to the carrier and keeps its
/// reference. A PIN that can no longer be opened rejects the number for the tenant to fix.
async fn submit(
    state: &AppState,
    carrier: Result<Arc<dyn Carrier>, ProviderError>,
    due: &Due,
    number: &E164,
) -> AppResult<usize> {
    let (port_id, tenant_id) = (due.port_id, due.tenant_id);
    let pin = match super::open_pin(
        state,
        due.pin_sealed.as_deref(),
        due.pin.clone(),
        port_id,
        tenant_id,
    ) {
        Ok(pin) => pin,
        Err(err @ (SecretError::NoKey | SecretError::BadKey)) => {
            // This instance lacks the key; another instance (or this one, fixed) will
            // submit it. The tenant's request is not at fault.
            return Err(AppError::Internal(anyhow::anyhow!("port PIN: {err}")));
        }
        Err(err) => {
            // Sealed under a key this instance no longer has: the carrier can never be
            // asked with it, so the number is rejected for the tenant to fix, not
            // retried for ever.
            tracing::warn!(e164 = %due.e164, %port_id, error = %err, "port PIN cannot be opened");
            let Some(mut tx) = due.claimed(due.status, None).hold(state).await? else {
                return Ok(0);
            };
            let reason = "the port-out PIN on file can no longer be read (the server's \
                          secrets key changed); enter the PIN again";
            let moved = reject(&mut tx, port_id, &due.e164, tenant_id, due.status, reason).await?;
            tx.commit().await?;
            return Ok(usize::from(moved));
        }
    };
    let details = PortDetails::stored(
        due.current_carrier.clone(),
        due.account_number.clone(),
        Some(pin),
        due.account_name.clone(),
        due.service_address.clone(),
        due.requested_foc,
    );
    let submitted = match carrier {
        Ok(carrier) => carrier.submit_port(tenant_id, number, &details).await,
        Err(refused) => Err(refused),
    };
    let Some(mut tx) = due.claimed(due.status, None).hold(state).await? else {
        return Ok(0);
    };
    match submitted {
        Ok(reference) => {
            sqlx::query("UPDATE port_numbers SET provider_ref = $3, attempts = 0, next_check_at = now() WHERE port_id = $1 AND e164 = $2")
                .bind(port_id).bind(&due.e164).bind(reference).execute(&mut *tx).await?;
        }
        Err(err) => retry(&mut tx, port_id, &due.e164, due.attempts, &err.to_string()).await?,
    }
    tx.commit().await?;
    Ok(0)
}

/// The steps from where the number stands to what the carrier reports: the carrier may have
/// moved several since the last look, and each is recorded.
fn steps_to(due: &Due, progress: &PortProgress) -> AppResult<Vec<Step>> {
    let e164 = &due.e164;
    let mut steps = Vec::new();
    let reached = match progress {
        PortProgress::Submitted => PortStatus::Submitted,
        PortProgress::Acknowledged => PortStatus::Acknowledged,
        PortProgress::FocSet(_) => PortStatus::FocSet,
        PortProgress::Completed(_) => PortStatus::Completed,
        PortProgress::Rejected(reason) => {
            steps.push(Step::Reject(reason.clone()));
            due.status
        }
    };
    let foc = match progress {
        PortProgress::FocSet(at) | PortProgress::Completed(at) => Some(*at),
        _ => None,
    };
    for (from, event, to) in [
        (
            PortStatus::Submitted,
            PortEvent::CarrierAcknowledged,
            PortStatus::Acknowledged,
        ),
        (
            PortStatus::Acknowledged,
            PortEvent::FocDateSet,
            PortStatus::FocSet,
        ),
        (
            PortStatus::FocSet,
            PortEvent::FocDateReached,
            PortStatus::Completed,
        ),
    ] {
        if rank(reached) >= rank(to) && rank(due.status) <= rank(from) {
            let next = from
                .next(event)
                .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
            let message = match next {
                PortStatus::Acknowledged => {
                    format!("{e164}: the current carrier acknowledged the request")
                }
                PortStatus::FocSet => format!(
                    "{e164}: FOC date set for {} UTC",
                    foc.map(|f| f.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default()
                ),
                _ => format!("{e164}: ported in; it is now routed to {}", due.target_name),
            };
            steps.push(Step::Advance(next, foc, message));
        }
    }
    Ok(steps)
}

/// Records each step in the transaction holding the row; returns where the number ends and
/// how many steps it moved. Completion routes the number on the platform first; if that
/// fails the number stays FOC-set and is tried again.
async fn apply(
    tx: &mut PgConnection,
    state: &AppState,
    due: &Due,
    number: &E164,
    steps: Vec<Step>,
) -> AppResult<(PortStatus, usize)> {
    let (port_id, e164, tenant_id) = (due.port_id, due.e164.as_str(), due.tenant_id);
    let (mut status, mut moved) = (due.status, 0);
    for step in steps {
        match step {
            Step::Reject(reason) => {
                if reject(&mut *tx, port_id, e164, tenant_id, status, &reason).await? {
                    status = PortStatus::Rejected;
                    moved += 1;
                }
            }
            Step::Advance(next, foc, message) => {
                if next == PortStatus::Completed
                    && let Err(err) =
                        complete(&mut *tx, state, tenant_id, number, &due.target()?).await
                {
                    retry(&mut *tx, port_id, e164, due.attempts, &err.public_message()).await?;
                    break;
                }
                sqlx::query("UPDATE port_numbers SET status = $3, foc_at = coalesce($4, foc_at), attempts = 0, updated_at = now(),
                                    next_check_at = now() + interval '1 second' WHERE port_id = $1 AND e164 = $2")
                    .bind(port_id).bind(e164).bind(next.as_str()).bind(foc).execute(&mut *tx).await?;
                record_event(&mut *tx, port_id, Some(e164), next.as_str(), &message).await?;
                audit_port(
                    &mut *tx,
                    Action::PortStatus,
                    Outcome::Success,
                    tenant_id,
                    None,
                    None,
                    Some(e164),
                    json!({ "port_id": port_id, "status": next.as_str(), "foc_at": foc }),
                )
                .await?;
                status = next;
                moved += 1;
            }
        }
    }
    Ok((status, moved))
}

/// The row as claimed, to hold again after the carrier answered.
struct Claimed<'a> {
    port_id: Uuid,
    e164: &'a str,
    status: PortStatus,
    reference: Option<&'a str>,
}

impl Claimed<'_> {
    /// A transaction holding the row, if nobody changed it since the claim (a cancel or a
    /// resubmission changes its status or reference); `None` drops the carrier's answer.
    async fn hold(&self, state: &AppState) -> AppResult<Option<Transaction<'static, Postgres>>> {
        let mut tx = state.pool.begin().await?;
        let unchanged: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM port_numbers
             WHERE port_id = $1 AND e164 = $2 AND status = $3 AND provider_ref IS NOT DISTINCT FROM $4
             FOR UPDATE",
        )
        .bind(self.port_id)
        .bind(self.e164)
        .bind(self.status.as_str())
        .bind(self.reference)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(unchanged.map(|_| tx))
    }
}

fn rank(s: PortStatus) -> u8 {
    match s {
        PortStatus::Draft | PortStatus::Rejected | PortStatus::Cancelled => 0,
        PortStatus::Submitted => 1,
        PortStatus::Acknowledged => 2,
        PortStatus::FocSet => 3,
        PortStatus::Completed => 4,
    }
}

async fn retry(
    conn: &mut PgConnection,
    port_id: Uuid,
    e164: &str,
    attempts: i32,
    error: &str,
) -> AppResult<()> {
    let attempts = attempts + 1;
    tracing::warn!(%e164, %error, attempts, "port step failed; retrying");
    sqlx::query(
        "UPDATE port_numbers SET attempts = $3, next_check_at = now() + make_interval(secs => $4) WHERE port_id = $1 AND e164 = $2",
    )
    .bind(port_id)
    .bind(e164)
    .bind(attempts)
    .bind(crate::domain::cnam::retry_delay_seconds(attempts) as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// The FOC date is reached: the number joins the tenant's numbers, routed to its target.
/// Runs in the transaction that holds the port number's row (`Claimed::hold`), the one
/// platform call made under a lock: a cancel arriving meanwhile waits, then finds it done.
async fn complete(
    conn: &mut PgConnection,
    state: &AppState,
    tenant_id: TenantId,
    number: &E164,
    target: &Target,
) -> AppResult<()> {
    let national = number.national_digits().to_string();
    // The first six digits, as the CHECK on `numbers` wants them (migration 0011).
    let npa: String = national.chars().take(3).collect();
    let nxx: String = national.chars().skip(3).take(3).collect();
    let place: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT city, state, country, rate_center FROM rate_centers WHERE npa = $1 AND nxx = $2",
    )
    .bind(&npa)
    .bind(&nxx)
    .fetch_optional(&mut *conn)
    .await?;
    let provider = state.platform_for(tenant_id).await?;
    provider
        .assign(
            tenant_id,
            NumberRef {
                e164: number,
                state: place.as_ref().map(|p| p.1.as_str()),
            },
            target,
            None,
        )
        .await?;
    let inserted =
        crate::numbers::lifecycle::ported_in(conn, number, tenant_id, target, place.as_ref())
            .await?;
    if !inserted {
        return Err(AppError::conflict(
            "already_on_network",
            format!("{number} appeared on Inward's network meanwhile"),
            json!(null),
        ));
    }
    Ok(())
}
