use crate::domain::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: String,
    pub region: Option<String>,
    pub base_url: Option<String>,
    #[serde(skip)]
    pub credentials: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_test_at: Option<DateTime<Utc>>,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, kind, region, base_url, credentials, created_at, updated_at, last_test_at, last_test_ok, last_test_message";

pub async fn for_tenant(
    conn: &mut PgConnection,
    tenant_id: TenantId,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE tenant_id = $1"
    ))
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

pub async fn find(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// One connection per tenant: saving replaces the previous one (credentials cleared until
/// `set_credentials` seals the new ones for this row).
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    kind: &str,
    region: Option<&str>,
    base_url: Option<&str>,
) -> sqlx::Result<ConnectionRow> {
    sqlx::query_as(&format!(
        "INSERT INTO connections (id, tenant_id, kind, region, base_url, credentials) VALUES ($1, $2, $3, $4, $5, NULL)
         ON CONFLICT (tenant_id) DO UPDATE SET kind = EXCLUDED.kind, region = EXCLUDED.region, base_url = EXCLUDED.base_url,
             credentials = NULL, updated_at = now(), last_test_at = NULL, last_test_ok = NULL, last_test_message = NULL
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(tenant_id)
    .bind(kind)
    .bind(region)
    .bind(base_url)
    .fetch_one(conn)
    .await
}

pub async fn set_credentials(conn: &mut PgConnection, id: Uuid, sealed: &[u8]) -> sqlx::Result<()> {
    sqlx::query("UPDATE connections SET credentials = $2 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sealed credentials, `limit` at a time after `after` (for sealing them again).
pub async fn sealed_after(
    pool: &sqlx::PgPool,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, TenantId, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, tenant_id, credentials FROM connections
         WHERE credentials IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Replaces sealed credentials with the same secret sealed again, unless they changed meanwhile.
pub async fn reseal(pool: &sqlx::PgPool, id: Uuid, was: &[u8], now: &[u8]) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("UPDATE connections SET credentials = $3 WHERE id = $1 AND credentials = $2")
            .bind(id)
            .bind(was)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn delete(conn: &mut PgConnection, tenant_id: TenantId, id: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn record_test(
    conn: &mut PgConnection,
    id: Uuid,
    ok: bool,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE connections SET last_test_at = now(), last_test_ok = $2, last_test_message = $3 WHERE id = $1")
        .bind(id)
        .bind(ok)
        .bind(message)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every tenant with a platform connection of its own (`kind` other than the sandbox, when
/// `platforms_only`).
pub async fn connected_tenants(
    pool: &sqlx::PgPool,
    platforms_only: bool,
) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar(
        "SELECT DISTINCT tenant_id FROM connections WHERE NOT $1 OR kind <> 'sandbox' ORDER BY 1",
    )
    .bind(platforms_only)
    .fetch_all(pool)
    .await
}
