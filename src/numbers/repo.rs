use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TenantNumber {
    pub e164: String,
    pub state: String,
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    pub region: String,
    #[serde(rename = "us_state")]
    pub us_state: Option<String>,
    pub rate_center: Option<String>,
    pub city: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub display_name: Option<String>,
    pub reservation_id: Option<Uuid>,
    pub state_changed_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "e164, lifecycle AS state, tenant_id, kind, region, state AS us_state, rate_center, city,
    target_type, target_id, target_name, display_name, reservation_id, state_changed_at";

pub async fn find(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    e164: &str,
) -> sqlx::Result<Option<TenantNumber>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM numbers WHERE e164 = $1 AND tenant_id = $2"
    ))
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

/// The tenant's numbers in E.164 order, keyset-paginated after `after`.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    state: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TenantNumber>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM numbers WHERE tenant_id = $1 AND ($2::text IS NULL OR lifecycle = $2)
         AND ($3::text IS NULL OR e164 > $3) ORDER BY e164 LIMIT $4"
    ))
    .bind(tenant_id)
    .bind(state)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}
