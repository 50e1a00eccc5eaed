//! Aging after release, as the reseller sees it: its aging period, and its tenants' released
//! numbers that are still aging with the date each becomes available to everyone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::aging::AgingPeriod;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ResellerSettings {
    pub reseller_id: Uuid,
    pub aging_days: i32,
}

pub async fn load(conn: &mut PgConnection, reseller_id: Uuid) -> AppResult<ResellerSettings> {
    sqlx::query_as(
        "SELECT o.id AS reseller_id, coalesce(s.aging_days, 0) AS aging_days
         FROM organizations o LEFT JOIN reseller_settings s ON s.reseller_id = o.id
         WHERE o.id = $1 AND o.kind = 'reseller'",
    )
    .bind(reseller_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("reseller".into()))
}

#[derive(Debug, Deserialize)]
pub struct ResellerSettingsUpdate {
    pub aging_days: i64,
}

/// Sets the aging period for numbers the reseller's tenants release from now on.
pub async fn update(
    state: &AppState,
    caller: &Principal,
    change: &ResellerSettingsUpdate,
    request_id: Option<&str>,
) -> AppResult<ResellerSettings> {
    let reseller_id = caller.reseller_admin()?;
    let period = AgingPeriod::parse(change.aging_days)
        .map_err(|e| AppError::invalid_field("aging_days", e))?;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, reseller_id).await?;
    sqlx::query(
        "INSERT INTO reseller_settings (reseller_id, aging_days) VALUES ($1, $2)
         ON CONFLICT (reseller_id) DO UPDATE SET aging_days = EXCLUDED.aging_days, updated_at = now()",
    )
    .bind(reseller_id)
    .bind(period.days())
    .execute(&mut *tx)
    .await?;
    let after = load(&mut tx, reseller_id).await?;
    let entry = Entry::new(Action::Settings, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(reseller_id)
        .details(json!({ "reseller_id": reseller_id, "aging_days": { "before": before.aging_days, "after": after.aging_days } }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(after)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AgingNumber {
    pub e164: String,
    pub released_by: Uuid,
    pub released_by_name: String,
    pub released_at: DateTime<Utc>,
    /// When it is offered to every tenant again.
    pub available_at: DateTime<Utc>,
    pub lifecycle: String,
}

/// The reseller's tenants' released numbers that are still aging, soonest available first.
pub async fn aging_numbers(
    conn: &mut PgConnection,
    reseller_id: Uuid,
) -> AppResult<Vec<AgingNumber>> {
    Ok(sqlx::query_as(
        &format!(
            "SELECT n.e164, n.released_by, o.name AS released_by_name, n.released_at, n.aging_until AS available_at, n.lifecycle
             FROM numbers n JOIN organizations o ON o.id = n.released_by
             WHERE o.parent_id = $1 AND n.aging_until > now() AND {in_stock}
             ORDER BY n.aging_until, n.e164 LIMIT 1000",
            in_stock = crate::numbers::offer::in_stock_sql("n")
        ),
    )
    .bind(reseller_id)
    .fetch_all(conn)
    .await?)
}
