//! Number features: tenant settings, CNAM, E911 dispatchable locations, the
//! E911 activation policy, the compliance view, and the job that syncs them with the provider.

pub mod aging;
pub mod api;
pub mod cnam;
pub mod e911;
pub mod e911_api;
pub mod e911_book;
pub mod e911_contacts;
pub mod e911_pages;
pub mod number_view;
pub mod pages;
pub mod routes;
pub mod settings_change;
pub mod sync;

use std::collections::HashMap;

use serde::Serialize;

use sqlx::PgConnection;

use crate::domain::TenantId;
use crate::error::AppResult;

pub use crate::numbers::repo::FeatureStatus;

/// The statuses of numbers the caller already read as the tenant's (a list page). Driven by
/// those numbers, with probes into the tenant's records only: joining `numbers` by tenant let
/// stale statistics make PostgreSQL read all of a tenant's 43,000 numbers to find 50.
pub async fn statuses(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    numbers: &[String],
) -> AppResult<HashMap<String, FeatureStatus>> {
    let rows: Vec<FeatureStatus> = sqlx::query_as(
        "SELECT page.e164, c.name AS cnam_name, coalesce(c.status, 'not_set') AS cnam_status,
                coalesce(e.status, 'not_set') AS e911_status
         FROM unnest($2::text[]) AS page(e164)
         LEFT JOIN cnam_records c ON c.tenant_id = $1 AND c.e164 = page.e164
         LEFT JOIN e911_records e ON e.tenant_id = $1 AND e.e164 = page.e164",
    )
    .bind(tenant_id)
    .bind(numbers)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.e164.clone(), r)).collect())
}

/// Counts at a glance, over the numbers the tenant owns (active, pending, orphaned).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
pub struct ComplianceCounts {
    pub numbers: i64,
    pub e911_registered: i64,
    pub e911_pending: i64,
    pub e911_failed: i64,
    pub e911_not_set: i64,
    pub cnam_synced: i64,
    pub cnam_pending: i64,
    pub cnam_failed: i64,
    pub cnam_not_set: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ComplianceLine {
    pub e164: String,
    pub lifecycle: String,
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Compliance {
    pub counts: ComplianceCounts,
    pub require_e911: bool,
    /// Owned numbers whose E911 address is not registered.
    pub e911_unregistered: Vec<ComplianceLine>,
    /// Owned numbers whose CNAM sync failed.
    pub cnam_failed: Vec<ComplianceLine>,
}

const OWNED: &str = "n.lifecycle IN ('active', 'pending', 'orphaned')";

pub async fn compliance(conn: &mut PgConnection, tenant_id: TenantId) -> AppResult<Compliance> {
    let counts: ComplianceCounts = sqlx::query_as(&format!(
        "SELECT count(*) AS numbers,
            count(*) FILTER (WHERE e.status = 'registered') AS e911_registered,
            count(*) FILTER (WHERE e.status = 'pending') AS e911_pending,
            count(*) FILTER (WHERE e.status = 'failed') AS e911_failed,
            count(*) FILTER (WHERE e.status IS NULL) AS e911_not_set,
            count(*) FILTER (WHERE c.status = 'synced') AS cnam_synced,
            count(*) FILTER (WHERE c.status = 'pending') AS cnam_pending,
            count(*) FILTER (WHERE c.status = 'failed') AS cnam_failed,
            count(*) FILTER (WHERE c.status IS NULL) AS cnam_not_set
         FROM numbers n
         LEFT JOIN cnam_records c ON c.e164 = n.e164 AND c.tenant_id = n.tenant_id
         LEFT JOIN e911_records e ON e.e164 = n.e164 AND e.tenant_id = n.tenant_id
         WHERE n.tenant_id = $1 AND {OWNED}"
    ))
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    let e911_unregistered: Vec<ComplianceLine> = sqlx::query_as(&format!(
        "SELECT n.e164, n.lifecycle, coalesce(e.status, 'not_set') AS status, e.reason
         FROM numbers n LEFT JOIN e911_records e ON e.e164 = n.e164 AND e.tenant_id = n.tenant_id
         WHERE n.tenant_id = $1 AND {OWNED} AND coalesce(e.status, 'not_set') <> 'registered'
         ORDER BY n.e164 LIMIT 500"
    ))
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    let cnam_failed: Vec<ComplianceLine> = sqlx::query_as(&format!(
        "SELECT n.e164, n.lifecycle, c.status, c.reason
         FROM numbers n JOIN cnam_records c ON c.e164 = n.e164 AND c.tenant_id = n.tenant_id
         WHERE n.tenant_id = $1 AND {OWNED} AND c.status = 'failed'
         ORDER BY n.e164 LIMIT 500"
    ))
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    let require_e911 = crate::tenants::settings::load(conn, tenant_id)
        .await?
        .require_e911;
    Ok(Compliance {
        counts,
        require_e911,
        e911_unregistered,
        cnam_failed,
    })
}
