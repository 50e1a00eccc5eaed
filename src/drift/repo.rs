//! The `drift` and `reconcile_runs` tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use super::compare::Drift;
use crate::domain::TenantId;

/// A difference as stored, with when it was first seen.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDrift {
    #[serde(flatten)]
    pub drift: Drift,
    pub found_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    e164: String,
    class: String,
    inward: String,
    platform: String,
    inward_target: Option<Value>,
    platform_target: Option<Value>,
    found_at: DateTime<Utc>,
}

impl Row {
    fn decode(self) -> Option<StoredDrift> {
        let target = |v: Option<Value>| v.and_then(|v| serde_json::from_value(v).ok());
        Some(StoredDrift {
            drift: Drift {
                number: self.e164,
                class: self.class.parse().ok()?,
                inward: self.inward,
                platform: self.platform,
                inward_target: target(self.inward_target),
                platform_target: target(self.platform_target),
            },
            found_at: self.found_at,
        })
    }
}

const COLUMNS: &str = "e164, class, inward, platform, inward_target, platform_target, found_at";

/// A finished run, as the Drift page shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Run {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub compared: i32,
    pub counts: Value,
    pub error: Option<String>,
}

/// The tenant's differences become `drift`: rows no longer found go, rows still found keep
/// the time they were first seen.
pub async fn replace(pool: &PgPool, tenant: TenantId, drift: &[Drift]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let numbers: Vec<&str> = drift.iter().map(|d| d.number.as_str()).collect();
    sqlx::query("DELETE FROM drift WHERE tenant_id = $1 AND NOT (e164 = ANY($2))")
        .bind(tenant)
        .bind(&numbers)
        .execute(&mut *tx)
        .await?;
    for d in drift {
        sqlx::query(
            "INSERT INTO drift (tenant_id, e164, class, inward, platform, inward_target, platform_target)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, e164) DO UPDATE SET
                 found_at = CASE WHEN drift.class = EXCLUDED.class THEN drift.found_at ELSE now() END,
                 class = EXCLUDED.class, inward = EXCLUDED.inward, platform = EXCLUDED.platform,
                 inward_target = EXCLUDED.inward_target, platform_target = EXCLUDED.platform_target",
        )
        .bind(tenant)
        .bind(&d.number)
        .bind(d.class.as_str())
        .bind(&d.inward)
        .bind(&d.platform)
        .bind(d.inward_target.as_ref().map(|t| serde_json::to_value(t).unwrap_or_default()))
        .bind(d.platform_target.as_ref().map(|t| serde_json::to_value(t).unwrap_or_default()))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

pub async fn record_run(
    pool: &PgPool,
    tenant: TenantId,
    started_at: DateTime<Utc>,
    compared: usize,
    counts: &BTreeMap<&'static str, usize>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reconcile_runs (tenant_id, started_at, compared, counts, error) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(started_at)
    .bind(i32::try_from(compared).unwrap_or(i32::MAX))
    .bind(serde_json::to_value(counts).unwrap_or_default())
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn list(pool: &PgPool, tenant: TenantId) -> sqlx::Result<Vec<StoredDrift>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM drift WHERE tenant_id = $1 ORDER BY class, e164"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(Row::decode).collect())
}

pub async fn find(
    pool: &PgPool,
    tenant: TenantId,
    e164: &str,
) -> sqlx::Result<Option<StoredDrift>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM drift WHERE tenant_id = $1 AND e164 = $2"
    ))
    .bind(tenant)
    .bind(e164)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(Row::decode))
}

/// The difference was resolved.
pub async fn resolved(pool: &PgPool, tenant: TenantId, e164: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM drift WHERE tenant_id = $1 AND e164 = $2")
        .bind(tenant)
        .bind(e164)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn last_run(pool: &PgPool, tenant: TenantId) -> sqlx::Result<Option<Run>> {
    sqlx::query_as(
        "SELECT started_at, finished_at, compared, counts, error FROM reconcile_runs
         WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(pool)
    .await
}
