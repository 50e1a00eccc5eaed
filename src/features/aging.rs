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
    /// When a period under 45 days was acknowledged, and by whom (its user's email).
    pub short_aging_acknowledged_at: Option<DateTime<Utc>>,
    pub short_aging_acknowledged_by: Option<String>,
}

pub async fn load(conn: &mut PgConnection, reseller_id: Uuid) -> AppResult<ResellerSettings> {
    sqlx::query_as(
        "SELECT o.id AS reseller_id, coalesce(s.aging_days, 45) AS aging_days,
                s.short_aging_acknowledged_at,
                inward_user_email(s.short_aging_acknowledged_by) AS short_aging_acknowledged_by
         FROM organizations o LEFT JOIN reseller_settings s ON s.reseller_id = o.id
         WHERE o.id = $1 AND o.kind = 'reseller'",
    )
    .bind(reseller_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("reseller".into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResellerSettingsUpdate {
    pub aging_days: i64,
    /// Needed for a period under 45 days (FCC 18-177).
    #[serde(default)]
    pub acknowledge_short_aging: bool,
}

/// Sets the aging period for numbers the reseller's tenants release from now on.
pub async fn update(
    state: &AppState,
    caller: &Principal,
    change: &ResellerSettingsUpdate,
    request_id: Option<&str>,
) -> AppResult<ResellerSettings> {
    let reseller_id = caller.reseller_admin()?;
    let period = AgingPeriod::parse(change.aging_days, change.acknowledge_short_aging)
        .map_err(|e| AppError::invalid_field("aging_days", e))?;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, reseller_id).await?;
    let acknowledged_by = period.short().then_some(caller.user_id);
    sqlx::query(
        "INSERT INTO reseller_settings (reseller_id, aging_days, short_aging_acknowledged_by,
             short_aging_acknowledged_at)
         VALUES ($1, $2, $3, CASE WHEN $3::uuid IS NULL THEN NULL ELSE now() END)
         ON CONFLICT (reseller_id) DO UPDATE SET aging_days = EXCLUDED.aging_days,
             short_aging_acknowledged_by = EXCLUDED.short_aging_acknowledged_by,
             short_aging_acknowledged_at = EXCLUDED.short_aging_acknowledged_at, updated_at = now()",
    )
    .bind(reseller_id)
    .bind(period.days())
    .bind(acknowledged_by)
    .execute(&mut *tx)
    .await?;
    let after = load(&mut tx, reseller_id).await?;
    let entry = Entry::new(Action::Settings, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(reseller_id)
        .details(json!({ "reseller_id": reseller_id, "aging_days": { "before": before.aging_days, "after": after.aging_days },
                         "short_aging_acknowledged": period.short() }));
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
