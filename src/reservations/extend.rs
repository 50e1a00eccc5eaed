//! Giving a hold more time without reserving again (`POST /api/v1/reservations/{id}/extend`,
//! the reservation page's button): its live holds get the hold time again from now, up to
//! `holds.max_hold_seconds` after they were taken, or after their premium approval came
//! (`domain::hold`); one `EXTEND` entry a number. A hold waiting for its approval is not
//! extended: its approval's deadline ends it. The reservation is locked first, then its
//! holds, as cancelling does; the expiry sweeper locks only lapsed holds, which this never
//! touches.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::repo;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::hold::{ExtendRefused, extended_until};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub struct Extended {
    pub expires_at: DateTime<Utc>,
    pub numbers: Vec<String>,
}

pub async fn extend(
    state: &AppState,
    caller: &Principal,
    id: ReservationId,
    request_id: Option<&str>,
) -> AppResult<Extended> {
    let tenant_id = caller.tenant()?;
    let mut tx = state.pool.begin().await?;
    let reservation = repo::lock(&mut tx, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    let now = Utc::now();
    reservation
        .effective_status(now)
        .require_active("this reservation has already expired")?;
    let approval = super::approvals::of_reservation(&mut tx, tenant_id, id).await?;
    if let Some(waiting) = approval.as_ref().filter(|a| a.is_pending()) {
        return Err(AppError::conflict(
            "approval_pending",
            format!(
                "these numbers wait for their premium approval, which holds them until {}",
                waiting.deadline.format("%Y-%m-%d %H:%M UTC")
            ),
            json!({ "deadline": waiting.deadline }),
        ));
    }
    // An approved hold started again when its approval came.
    let taken_at = approval
        .and_then(|a| a.decided_at)
        .map_or(reservation.created_at, |decided| {
            decided.max(reservation.created_at)
        });
    let holds = &state.config.holds;
    let until = extended_until(
        now,
        taken_at,
        reservation.expires_at,
        Duration::seconds(holds.ttl_seconds),
        Duration::seconds(holds.max_hold_seconds),
    )
    .map_err(|refused| {
        let until = match &refused {
            ExtendRefused::AlreadyLonger(at) | ExtendRefused::AtTheLimit { until: at, .. } => *at,
        };
        AppError::conflict(
            "hold_extension_limit",
            refused.to_string(),
            json!({ "expires_at": until }),
        )
    })?;
    let numbers: Vec<String> = sqlx::query_scalar(
        "UPDATE holds SET expires_at = $2
          WHERE reservation_id = $1 AND ended_at IS NULL AND expires_at > clock_timestamp()
         RETURNING e164",
    )
    .bind(id)
    .bind(until)
    .fetch_all(&mut *tx)
    .await?;
    if numbers.is_empty() {
        return Err(AppError::conflict(
            "hold_expired",
            "no number of this reservation is still held",
            json!({ "reservation_id": id }),
        ));
    }
    sqlx::query("UPDATE reservations SET expires_at = $2 WHERE id = $1 AND status = 'active'")
        .bind(id)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    for e164 in &numbers {
        let entry = Entry::new(Action::Extend, Outcome::Success)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(e164)
            .details(
                json!({ "reservation_id": id, "expires_at": until, "was": reservation.expires_at }),
            );
        audit::repo::record(&mut tx, &entry).await?;
    }
    tx.commit().await?;
    Ok(Extended {
        expires_at: until,
        numbers,
    })
}
