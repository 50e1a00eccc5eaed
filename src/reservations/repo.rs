use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};

/// Where a reservation stands (`reservations.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReservationStatus {
    Active,
    Completed,
    Cancelled,
    Expired,
}

impl ReservationStatus {
    pub const ALL: [ReservationStatus; 4] = [
        ReservationStatus::Active,
        ReservationStatus::Completed,
        ReservationStatus::Cancelled,
        ReservationStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Active => "active",
            ReservationStatus::Completed => "completed",
            ReservationStatus::Cancelled => "cancelled",
            ReservationStatus::Expired => "expired",
        }
    }

    pub fn is_active(self) -> bool {
        self == ReservationStatus::Active
    }

    pub fn is_expired(self) -> bool {
        self == ReservationStatus::Expired
    }

    pub fn is_cancelled(self) -> bool {
        self == ReservationStatus::Cancelled
    }

    /// Refuses changes to a reservation that is no longer active: 410 once it expired
    /// (`expired` says so in the caller's words), 409 once completed or cancelled.
    pub fn require_active(self, expired: &str) -> AppResult<()> {
        match self {
            ReservationStatus::Active => Ok(()),
            ReservationStatus::Expired => Err(AppError::Gone {
                code: "reservation_expired",
                message: expired.to_string(),
            }),
            other => Err(AppError::conflict(
                "reservation_closed",
                format!("this reservation is already {other}"),
                serde_json::json!({ "status": other }),
            )),
        }
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReservationRow {
    pub id: ReservationId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub justification: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: ReservationStatus,
}

impl ReservationRow {
    /// Reads treat a hold past its expiry as gone, whether or not the sweeper has run yet.
    pub fn effective_status(&self, now: DateTime<Utc>) -> ReservationStatus {
        if self.status.is_active() && self.expires_at <= now {
            ReservationStatus::Expired
        } else {
            self.status
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReservedNumber {
    pub e164: String,
    pub state: String,
    pub region: String,
    pub kind: String,
    #[sqlx(rename = "number_state")]
    #[serde(rename = "us_state")]
    pub us_state: Option<String>,
    pub hold_ended: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub display_name: Option<String>,
}

pub async fn find(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: ReservationId,
) -> sqlx::Result<Option<ReservationRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, user_id, justification, created_at, expires_at, status
         FROM reservations WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: ReservationId,
) -> sqlx::Result<Option<ReservationRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, user_id, justification, created_at, expires_at, status
         FROM reservations WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

/// The numbers a reservation held, with what became of each: the number's current state
/// only while it still belongs to this reservation or was provisioned through it.
pub async fn numbers(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
) -> sqlx::Result<Vec<ReservedNumber>> {
    sqlx::query_as(
        "SELECT h.e164,
                CASE WHEN h.ended_at IS NULL THEN n.lifecycle
                     WHEN h.end_reason = 'provisioned' AND n.tenant_id = r.tenant_id THEN n.lifecycle
                     ELSE coalesce(h.end_reason, 'ended') END AS state,
                coalesce(n.region, '') AS region, coalesce(n.kind, '') AS kind,
                n.state AS number_state, h.end_reason AS hold_ended,
                CASE WHEN h.end_reason = 'provisioned' AND n.tenant_id = r.tenant_id THEN n.target_type END AS target_type,
                CASE WHEN h.end_reason = 'provisioned' AND n.tenant_id = r.tenant_id THEN n.target_id END AS target_id,
                CASE WHEN h.end_reason = 'provisioned' AND n.tenant_id = r.tenant_id THEN n.target_name END AS target_name,
                CASE WHEN h.end_reason = 'provisioned' AND n.tenant_id = r.tenant_id THEN n.display_name END AS display_name
         -- A number whose hold ended may be another tenant's now, and hidden: the hold stays.
         FROM holds h LEFT JOIN numbers n ON n.e164 = h.e164 JOIN reservations r ON r.id = h.reservation_id
         WHERE h.reservation_id = $1 ORDER BY h.e164",
    )
    .bind(reservation_id)
    .fetch_all(conn)
    .await
}

pub async fn list_for_user(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    user_id: Option<UserId>,
) -> sqlx::Result<Vec<ReservationRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, user_id, justification, created_at, expires_at, status
         FROM reservations WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
         ORDER BY created_at DESC LIMIT 50",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Closes the reservation once none of its holds is live any more.
pub async fn finish_if_done(
    conn: &mut PgConnection,
    reservation_id: ReservationId,
) -> sqlx::Result<()> {
    finish_all_done(conn, &[reservation_id]).await
}

/// `finish_if_done` for many reservations in one statement (the sweeper's batches).
pub async fn finish_all_done(
    conn: &mut PgConnection,
    reservations: &[ReservationId],
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reservations r SET ended_at = now(), status = CASE
             WHEN EXISTS (SELECT 1 FROM holds h WHERE h.reservation_id = r.id AND h.end_reason = 'provisioned') THEN 'completed'
             WHEN EXISTS (SELECT 1 FROM holds h WHERE h.reservation_id = r.id AND h.end_reason = 'expired') THEN 'expired'
             ELSE 'cancelled' END
         WHERE r.id = ANY($1) AND r.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.reservation_id = r.id AND h.ended_at IS NULL)",
    )
    .bind(reservations)
    .execute(conn)
    .await?;
    Ok(())
}
