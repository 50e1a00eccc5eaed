//! Taking, cancelling and expiring holds. The database is the only arbiter: numbers are
//! locked in a fixed order (no deadlocks between overlapping requests), and the partial
//! unique index `holds_one_live_per_number` refuses a second live hold outright.
//!
//! One file over 500 lines: taking, ending and expiring a hold are one invariant (at most one
//! live hold per number, the carrier's reservation released once) and are read together.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{quick, repo};
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::{E164, Event, NumberState, policy::Principal};
use crate::error::{AppError, AppResult};
use crate::numbers::offer::{self, FACTS_COLUMNS, Offer, OfferFacts};
use crate::providers::Carrier;
use crate::state::AppState;
use crate::tenants::TenantProfile;

pub struct Reserved {
    pub id: ReservationId,
    pub expires_at: chrono::DateTime<Utc>,
    pub numbers: Vec<String>,
    /// Set when premium numbers wait for approval (the hold then lasts until its deadline).
    pub approval_id: Option<Uuid>,
}

pub async fn reserve(
    state: &AppState,
    caller: &Principal,
    numbers: Vec<E164>,
    justification: Option<String>,
    request_id: Option<&str>,
) -> AppResult<Reserved> {
    let max = state.config.holds.max_numbers_per_reservation;
    reserve_up_to(state, caller, numbers, justification, request_id, max).await
}

/// `reserve`, with room for `max` numbers (an order by quantity has more).
pub async fn reserve_up_to(
    state: &AppState,
    caller: &Principal,
    numbers: Vec<E164>,
    justification: Option<String>,
    request_id: Option<&str>,
    max: usize,
) -> AppResult<Reserved> {
    let tenant_id = caller.tenant()?;
    let (wanted, justification) = requested(&numbers, justification, max)?;
    let tenant = TenantProfile::of_caller(caller)?;
    let id = ReservationId(Uuid::new_v4());
    let carrier = state.reserving_carrier_for(tenant_id).await?;
    let with_carrier = carrier.as_ref().is_some_and(|c| c.reserves_with_the_hold());
    let quick = if state.config.tuning.one_statement_hold
        && quick::applies(&state.config.pricing, &wanted)
    {
        let expires_at = Utc::now() + Duration::seconds(state.config.holds.ttl_seconds);
        state
            .hold_writer
            .take(quick::Request {
                tenant: tenant.clone(),
                user_id: caller.user_id,
                wanted: wanted.clone(),
                reservation_id: id,
                expires_at,
                justification: justification.clone(),
                request_id: request_id.map(str::to_string),
                details: json!({ "reservation_id": id, "expires_at": expires_at }),
                with_carrier,
            })
            .await?
            .then_some((expires_at, None))
    } else {
        None
    };
    let (expires_at, approval_id, carrier_reserved) = match quick {
        Some((expires_at, approval_id)) => {
            crate::metrics::holds_created(wanted.len());
            (expires_at, approval_id, with_carrier)
        }
        None => {
            let (expires_at, approval_id) = hold_in_full(
                state,
                caller,
                &tenant,
                id,
                &wanted,
                justification.as_deref(),
                request_id,
            )
            .await?;
            (expires_at, approval_id, false)
        }
    };

    // The carrier's own reservation, where it keeps one and the hold did not take it, is
    // taken after our hold is safe.
    let carrier = carrier.filter(|_| !carrier_reserved);
    if let Some(err) = reserve_at_carrier(state, carrier, id, &wanted).await? {
        // The hold was taken and recorded; the carrier refused its part, so it ends here.
        let mut tx = state.pool.begin().await?;
        for e164 in &wanted {
            end_hold(&mut tx, id, e164, Event::CancelHold, "failed").await?;
            let entry = Entry::new(Action::Reserve, Outcome::Failure)
                .by(Some(tenant_id), Some(caller.user_id), request_id)
                .number(e164)
                .justification(justification.as_deref())
                .error(err.to_string());
            audit::repo::record(&mut tx, &entry).await?;
        }
        repo::finish_if_done(&mut tx, id).await?;
        tx.commit().await?;
        release_at_provider(state, 100).await.ok();
        return Err(err.into());
    }
    Ok(Reserved {
        id,
        expires_at,
        numbers: wanted,
        approval_id,
    })
}

/// The numbers asked for, in lock order without repeats, and the justification as it will be
/// kept; or the refusal of either.
fn requested(
    numbers: &[E164],
    justification: Option<String>,
    max: usize,
) -> AppResult<(Vec<String>, Option<String>)> {
    let mut wanted: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "choose at least one number to reserve",
        ));
    }
    if wanted.len() > max {
        return Err(AppError::invalid_field(
            "numbers",
            format!("at most {max} numbers fit in one reservation"),
        ));
    }
    let justification = justification
        .map(|j| j.trim().to_string())
        .filter(|j| !j.is_empty());
    if justification
        .as_ref()
        .is_some_and(|j| j.chars().count() > 500)
    {
        return Err(AppError::invalid_field(
            "justification",
            "the justification is limited to 500 characters",
        ));
    }
    Ok((wanted, justification))
}

/// Takes the carrier's own reservation of each number, where the tenant's carrier keeps
/// one; returns its refusal, if it refused. The references are kept on the holds, also on a
/// refusal, so that the sweeper releases the reservations already taken.
async fn reserve_at_carrier(
    state: &AppState,
    carrier: Option<Arc<dyn Carrier>>,
    id: ReservationId,
    wanted: &[String],
) -> AppResult<Option<crate::providers::ProviderError>> {
    let Some(carrier) = carrier else {
        return Ok(None);
    };
    let mut failure = None;
    let mut references = Vec::new();
    for e164 in wanted {
        let number = E164::from_stored(e164).map_err(|e| AppError::Internal(e.into()))?;
        match carrier.reserve(&number).await {
            Ok(reference) => references.push((id, e164.clone(), reference)),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    if !references.is_empty() {
        state.hold_writer.record_references(references).await?;
    }
    Ok(failure)
}

/// Every case the one statement of `quick` leaves to us: numbers taken, unknown, outside the
/// region or aging; lapsed holds to expire first; premium numbers that need an approval.
async fn hold_in_full(
    state: &AppState,
    caller: &Principal,
    tenant: &TenantProfile,
    id: ReservationId,
    wanted: &[String],
    justification: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<(chrono::DateTime<Utc>, Option<Uuid>)> {
    let tenant_id = tenant.id;
    let mut tx = state.pool.begin().await?;
    let (unavailable, expired_here) = judge(&mut tx, tenant, wanted, request_id).await?;
    if !unavailable.is_empty() {
        tx.commit().await?; // keep any holds expired above
        crate::metrics::holds_expired(expired_here);
        return Err(AppError::conflict(
            "numbers_unavailable",
            format!(
                "Already taken by someone else: {}.",
                unavailable
                    .iter()
                    .map(|e| crate::domain::e164::format_national(e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            json!({ "unavailable": unavailable }),
        ));
    }

    // Premium numbers may need an approval first: the hold's clock is paused until then.
    let approval =
        crate::reservations::approvals::needed(&mut tx, state, caller, tenant_id, wanted).await?;
    let expires_at = match &approval {
        Some(needed) => needed.deadline,
        None => Utc::now() + Duration::seconds(state.config.holds.ttl_seconds),
    };
    sqlx::query("INSERT INTO reservations (id, tenant_id, user_id, justification, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(tenant_id)
        .bind(caller.user_id)
        .bind(justification)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    let approval_id = match &approval {
        Some(needed) => Some(
            crate::reservations::approvals::request(
                &mut tx,
                caller,
                tenant_id,
                id,
                needed,
                justification,
                request_id,
            )
            .await?,
        ),
        None => None,
    };
    for e164 in wanted {
        crate::numbers::lifecycle::reserve(&mut tx, e164, id, tenant_id).await?;
        sqlx::query("INSERT INTO holds (reservation_id, e164, expires_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(e164)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
    }
    for e164 in wanted {
        let entry = Entry::new(Action::Reserve, Outcome::Success)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(e164)
            .justification(justification)
            .details(json!({ "reservation_id": id, "expires_at": expires_at }));
        audit::repo::record(&mut tx, &entry).await?;
    }
    tx.commit().await?;
    crate::metrics::holds_expired(expired_here);
    crate::metrics::holds_created(wanted.len());
    Ok((expires_at, approval_id))
}

/// Whether each wanted number may be held by the tenant: refuses numbers it cannot use or
/// may not hold in its regions; returns those someone else holds, and how many lapsed holds
/// it ended on the way.
async fn judge(
    tx: &mut PgConnection,
    tenant: &TenantProfile,
    wanted: &[String],
    request_id: Option<&str>,
) -> AppResult<(Vec<String>, usize)> {
    // Through the owner's function: a number another tenant holds is invisible under the
    // policy on `numbers`, but this path must tell "taken" from "unknown" (migration 0031).
    let rows: Vec<OfferFacts> = sqlx::query_as(&format!(
        "SELECT {FACTS_COLUMNS} FROM number_offer_facts($1)"
    ))
    .bind(wanted)
    .fetch_all(&mut *tx)
    .await?;
    let mut unknown: Vec<String> = wanted.to_vec();
    let mut unavailable = Vec::new();
    let mut outside_region = None;
    let mut expired_here = 0;
    for mut number in rows {
        let mut offer = offer::decide(tenant, &number, Utc::now());
        if offer == Offer::Hidden {
            continue;
        }
        unknown.retain(|n| n != &number.e164);
        // A hold that lapsed but was not swept yet ends here, and the number is judged anew.
        if offer == Offer::Taken
            && number.lifecycle == NumberState::Reserved
            && expire_lapsed(&mut *tx, &number.e164, request_id).await?
        {
            expired_here += 1;
            number.lifecycle = NumberState::Available;
            number.tenant_id = None;
            offer = offer::decide(tenant, &number, Utc::now());
        }
        match offer {
            Offer::Offered | Offer::Hidden => {}
            Offer::OutsideRegion(rule) => outside_region = Some(format!("{}: {rule}", number.e164)),
            Offer::Taken => unavailable.push(number.e164),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::NotFound(format!(
            "{} (not in any inventory your tenant can use)",
            unknown.join(", ")
        )));
    }
    if let Some(rule) = outside_region {
        return Err(AppError::Forbidden(rule));
    }
    Ok((unavailable, expired_here))
}

/// Ends a number's live hold in this reservation and moves the number back to inventory.
/// `event` is `CancelHold` or `ExpireHold`; the caller holds the number's row lock.
async fn end_hold(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
    e164: &str,
    event: Event,
    reason: &str,
) -> AppResult<bool> {
    let ended = sqlx::query(
        "UPDATE holds SET ended_at = now(), end_reason = $3
         WHERE reservation_id = $1 AND e164 = $2 AND ended_at IS NULL",
    )
    .bind(reservation_id)
    .bind(e164)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    if ended.rows_affected() == 0 {
        return Ok(false);
    }
    crate::numbers::lifecycle::unreserve(conn, e164, reservation_id, event).await?;
    Ok(true)
}

/// Ends the live holds of `numbers` in this reservation (a declined premium approval) and
/// returns the numbers to inventory; the native reservations are released by the sweeper.
async fn cancel_numbers(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
    numbers: &[String],
) -> AppResult<usize> {
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT n.e164 FROM numbers n JOIN holds h ON h.e164 = n.e164
         WHERE h.reservation_id = $1 AND h.ended_at IS NULL AND n.e164 = ANY($2) AND n.lifecycle = 'reserved'
         ORDER BY n.e164 FOR UPDATE OF n, h",
    )
    .bind(reservation_id)
    .bind(numbers)
    .fetch_all(&mut *conn)
    .await?;
    let mut ended = 0;
    for e164 in held {
        if end_hold(conn, reservation_id, &e164, Event::CancelHold, "cancelled").await? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// What a premium approval's decision does to the reservation's holds: approved, the paused
/// clock runs again with the full hold time (`ttl_seconds`; the deadline bounded the wait);
/// declined, the `premium` numbers go back and the rest keep at most a normal hold. The
/// reservation then ends when the holds do.
pub async fn after_premium_decision(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
    decision: crate::reservations::approvals::Decision,
    premium: &[String],
    ttl_seconds: f64,
) -> AppResult<()> {
    let sql = match decision {
        crate::reservations::approvals::Decision::Approve => {
            "UPDATE holds SET expires_at = now() + make_interval(secs => $2)
             WHERE reservation_id = $1 AND ended_at IS NULL"
        }
        crate::reservations::approvals::Decision::Decline => {
            cancel_numbers(conn, reservation_id, premium).await?;
            "UPDATE holds SET expires_at = least(expires_at, now() + make_interval(secs => $2))
             WHERE reservation_id = $1 AND ended_at IS NULL"
        }
    };
    sqlx::query(sql)
        .bind(reservation_id)
        .bind(ttl_seconds)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE reservations SET expires_at = coalesce(
             (SELECT max(expires_at) FROM holds WHERE reservation_id = $1 AND ended_at IS NULL), expires_at)
         WHERE id = $1",
    )
    .bind(reservation_id)
    .execute(&mut *conn)
    .await?;
    repo::finish_if_done(conn, reservation_id).await?;
    Ok(())
}

/// Expires the number's hold if it is past due, whichever tenant held it. Caller holds the
/// number's row lock.
async fn expire_lapsed(
    conn: &mut PgConnection,
    e164: &str,
    request_id: Option<&str>,
) -> AppResult<bool> {
    crate::db_scope::widen(conn, crate::db_scope::Bypass::LapsedHold).await?;
    // On an error the transaction is rolled back, and the widening with it.
    let expired = expire_if_due(conn, e164, request_id).await?;
    crate::db_scope::narrow(conn).await?;
    Ok(expired)
}

/// Expires the number's hold if it is past due. Caller holds the number's row lock.
async fn expire_if_due(
    conn: &mut PgConnection,
    e164: &str,
    request_id: Option<&str>,
) -> AppResult<bool> {
    let due = sqlx::query(
        "SELECT h.reservation_id, r.tenant_id, r.user_id FROM holds h JOIN reservations r ON r.id = h.reservation_id
         WHERE h.e164 = $1 AND h.ended_at IS NULL AND h.expires_at <= now() FOR UPDATE OF h",
    )
    .bind(e164)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(due) = due else { return Ok(false) };
    let reservation_id: ReservationId = due.try_get("reservation_id")?;
    let tenant_id: TenantId = due.try_get("tenant_id")?;
    let user_id: UserId = due.try_get("user_id")?;
    record_expiry(conn, reservation_id, tenant_id, user_id, e164, request_id).await
}

async fn record_expiry(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
    tenant_id: TenantId,
    user_id: UserId,
    e164: &str,
    request_id: Option<&str>,
) -> AppResult<bool> {
    if !end_hold(conn, reservation_id, e164, Event::ExpireHold, "expired").await? {
        return Ok(false);
    }
    let entry = Entry::new(Action::Expire, Outcome::Expired)
        .by(Some(tenant_id), Some(user_id), request_id)
        .number(e164)
        .details(json!({ "reservation_id": reservation_id }));
    audit::repo::record(conn, &entry).await?;
    repo::finish_if_done(conn, reservation_id).await?;
    Ok(true)
}

/// Sweeper step: expires up to `batch` overdue holds. Holds whose number is mid-saga are
/// left to the saga. SKIP LOCKED lets several instances sweep without expiring one twice.
///
/// Set-based: the same writes as `record_expiry`, one statement per step for the whole
/// batch instead of four statements per hold, so that a burst of lapsed holds (thousands a
/// minute under load) is returned to search within a sweep or two.
pub async fn expire_due(state: &AppState, batch: i64) -> AppResult<usize> {
    let mut tx = state.pool.begin().await?;
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT h.id FROM holds h JOIN numbers n ON n.e164 = h.e164
         WHERE h.ended_at IS NULL AND h.expires_at <= now() AND n.lifecycle = 'reserved'
         ORDER BY h.expires_at LIMIT $1 FOR UPDATE OF h, n SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let ended: Vec<(ReservationId, String, TenantId, UserId)> = sqlx::query_as(
        "WITH ended AS (
             UPDATE holds SET ended_at = now(), end_reason = 'expired'
             WHERE id = ANY($1) AND ended_at IS NULL RETURNING reservation_id, e164)
         SELECT e.reservation_id, e.e164, r.tenant_id, r.user_id
         FROM ended e JOIN reservations r ON r.id = e.reservation_id",
    )
    .bind(&due)
    .fetch_all(&mut *tx)
    .await?;
    let (reservations, numbers): (Vec<ReservationId>, Vec<&str>) = ended
        .iter()
        .map(|(r, e164, _, _)| (*r, e164.as_str()))
        .unzip();
    crate::numbers::lifecycle::unreserve_many(&mut tx, &numbers, &reservations, Event::ExpireHold)
        .await?;
    let entries: Vec<Entry> = ended
        .iter()
        .map(|(reservation_id, e164, tenant_id, user_id)| {
            Entry::new(Action::Expire, Outcome::Expired)
                .by(Some(*tenant_id), Some(*user_id), None)
                .number(e164)
                .details(json!({ "reservation_id": reservation_id }))
        })
        .collect();
    audit::repo::record_many(&mut tx, &entries).await?;
    repo::finish_all_done(&mut tx, &reservations).await?;
    tx.commit().await?;
    let expired = ended.len();
    crate::metrics::holds_expired(expired);
    if expired > 0 {
        tracing::info!(expired, "expired holds");
    }
    Ok(expired)
}

/// Releases the provider's native reservations of ended holds; retried until it succeeds.
///
/// The claimed holds stay locked while the platform is called, so no other instance
/// releases them too; the sandbox's calls take a second connection meanwhile. One release
/// at a time per instance, so that a burst of cancels and provisionings cannot hold every
/// pool connection while each waits for a second one.
pub async fn release_at_provider(state: &AppState, batch: i64) -> AppResult<usize> {
    let _one_at_a_time = state.provider_releases.lock().await;
    let mut tx = state.pool.begin().await?;
    let due = sqlx::query(
        "SELECT h.id, h.provider_ref, r.tenant_id FROM holds h JOIN reservations r ON r.id = h.reservation_id
         WHERE h.provider_ref IS NOT NULL AND h.provider_released_at IS NULL AND h.ended_at IS NOT NULL
         ORDER BY h.ended_at LIMIT $1 FOR UPDATE OF h SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    let mut released = 0;
    for row in due {
        let hold_id: i64 = row.try_get("id")?;
        let reference: String = row.try_get("provider_ref")?;
        // A tenant whose carrier no longer keeps reservations (its connection changed) has
        // none left to release there.
        let released_there = match state
            .reserving_carrier_for(row.try_get("tenant_id")?)
            .await?
        {
            Some(carrier) => carrier.release_reservation(&reference).await,
            None => Ok(()),
        };
        match released_there {
            Ok(()) => {
                sqlx::query("UPDATE holds SET provider_released_at = now() WHERE id = $1")
                    .bind(hold_id)
                    .execute(&mut *tx)
                    .await?;
                released += 1;
            }
            Err(err) => {
                tracing::warn!(hold_id, error = %err, "provider release failed; will retry")
            }
        }
    }
    tx.commit().await?;
    Ok(released)
}

pub async fn cancel(
    state: &AppState,
    caller: &Principal,
    id: ReservationId,
    request_id: Option<&str>,
) -> AppResult<usize> {
    let tenant_id = caller.tenant()?;
    let mut tx = state.pool.begin().await?;
    let reservation = repo::lock(&mut tx, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    reservation
        .effective_status(Utc::now())
        .require_active("this reservation has already expired")?;
    let held: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.e164, n.lifecycle FROM numbers n JOIN holds h ON h.e164 = n.e164
         WHERE h.reservation_id = $1 AND h.ended_at IS NULL ORDER BY n.e164 FOR UPDATE OF n, h",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((busy, _)) = held.iter().find(|(_, lifecycle)| lifecycle != "reserved") {
        return Err(AppError::conflict(
            "provisioning_in_progress",
            format!("{busy} is being provisioned right now; try again in a moment"),
            json!({ "number": busy }),
        ));
    }
    for (e164, _) in &held {
        end_hold(&mut tx, id, e164, Event::CancelHold, "cancelled").await?;
        let entry = Entry::new(Action::Release, Outcome::Success)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(e164)
            .details(json!({ "reservation_id": id, "hold": "cancelled" }));
        audit::repo::record(&mut tx, &entry).await?;
    }
    repo::finish_if_done(&mut tx, id).await?;
    tx.commit().await?;
    release_at_provider(state, 100).await.ok();
    Ok(held.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_sorted_without_repeats_and_refused_when_empty_or_too_long() {
        let n = |s: &str| E164::parse(s).unwrap();
        let (wanted, why) = requested(
            &[n("+15125550102"), n("+15125550101"), n("+15125550102")],
            Some("  launch  ".into()),
            3,
        )
        .unwrap();
        assert_eq!(wanted, ["+15125550101", "+15125550102"]);
        assert_eq!(why.as_deref(), Some("launch"));
        assert_eq!(
            requested(&[n("+15125550101")], Some("  ".into()), 3)
                .unwrap()
                .1,
            None
        );
        assert!(requested(&[], None, 3).is_err());
        assert!(requested(&[n("+15125550101"), n("+15125550102")], None, 1).is_err());
        assert!(requested(&[n("+15125550101")], Some("x".repeat(501)), 3).is_err());
    }
}
