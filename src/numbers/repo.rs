use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::domain::NumberState;
use crate::domain::ReservationId;
use crate::domain::TenantId;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TenantNumber {
    pub e164: String,
    #[sqlx(try_from = "String")]
    pub state: NumberState,
    pub tenant_id: Option<TenantId>,
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
    pub reservation_id: Option<ReservationId>,
    pub state_changed_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "e164, lifecycle AS state, tenant_id, kind, region, state AS us_state, rate_center, city,
    target_type, target_id, target_name, display_name, reservation_id, state_changed_at";

pub async fn find(
    conn: &mut PgConnection,
    tenant_id: TenantId,
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

/// The CNAM and E911 columns of a number in a list.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct FeatureStatus {
    pub e164: String,
    pub cnam_name: Option<String>,
    pub cnam_status: String,
    pub e911_status: String,
}

impl FeatureStatus {
    pub fn none(e164: &str) -> Self {
        FeatureStatus {
            e164: e164.to_string(),
            cnam_name: None,
            cnam_status: "not_set".into(),
            e911_status: "not_set".into(),
        }
    }
}

/// A number of the tenant's list with its CNAM and E911 statuses.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub number: TenantNumber,
    #[sqlx(flatten)]
    pub features: FeatureStatus,
}

/// The tenant's numbers in E.164 order, keyset-paginated after `after`, each with its CNAM
/// and E911 statuses, in one statement.
///
/// One statement per shape, with the tenant, the lifecycle and the limit written into the
/// SQL (an id, a lifecycle state and a number, never the caller's text): the numbers page
/// and API list run it on `state::search_pool`, where PostgreSQL's plan cache may settle on
/// a generic plan of it, and a generic plan must see them to pick the tenant's index and stop after a page. The
/// page is cut first and its statuses are probed per number afterwards: joined to the
/// tenant's numbers as a whole, stale statistics once made PostgreSQL read all of a
/// tenant's 43,000 numbers to find 50.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    state: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Listed>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "SELECT page.*, c.name AS cnam_name, coalesce(c.status, 'not_set') AS cnam_status,
                coalesce(e.status, 'not_set') AS e911_status
         FROM (SELECT {COLUMNS} FROM numbers WHERE tenant_id = '{tenant_id}'"
    ));
    match state.map(|s| (s, s.parse::<NumberState>())) {
        Some((_, Ok(known))) => {
            q.push(format_args!(" AND lifecycle = '{}'", known.as_str()));
        }
        Some((raw, Err(_))) => {
            q.push(" AND lifecycle = ").push_bind(raw.to_string());
        }
        None => {}
    }
    if let Some(after) = after {
        q.push(" AND e164 > ").push_bind(after.to_string());
    }
    q.push(format_args!(
        " ORDER BY e164 LIMIT {limit}) page
         LEFT JOIN LATERAL (SELECT name, status FROM cnam_records
                            WHERE e164 = page.e164 AND tenant_id = '{tenant_id}') c ON true
         LEFT JOIN LATERAL (SELECT status FROM e911_records
                            WHERE e164 = page.e164 AND tenant_id = '{tenant_id}') e ON true
         ORDER BY page.e164"
    ));
    q.build_query_as().fetch_all(conn).await
}

/// A number as Inward shows it, for reconciliation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Shown {
    pub e164: String,
    pub lifecycle: String,
    pub tenant_id: Option<TenantId>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
}

/// The tenant's routed numbers (active, pending or orphaned), and whatever Inward shows for
/// the other numbers named (those the platform routes).
pub async fn shown_for_check(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
    also: &[String],
) -> sqlx::Result<Vec<Shown>> {
    sqlx::query_as(
        "SELECT e164, lifecycle, tenant_id, target_type, target_id, target_name FROM numbers
         WHERE (tenant_id = $1 AND lifecycle IN ('active', 'pending', 'orphaned')) OR e164 = ANY($2)
         ORDER BY e164",
    )
    .bind(tenant_id)
    .bind(also)
    .fetch_all(pool)
    .await
}

/// How many numbers the tenant holds in each state, most first.
pub async fn count_by_state(
    pool: &sqlx::PgPool,
    tenant_id: TenantId,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT lifecycle::text, count(*) FROM numbers WHERE tenant_id = $1
         GROUP BY lifecycle ORDER BY count(*) DESC, lifecycle",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}

/// How many numbers Inward shows routed for the tenant (active, pending or orphaned).
pub async fn routed_count(pool: &sqlx::PgPool, tenant_id: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM numbers
         WHERE tenant_id = $1 AND lifecycle IN ('active', 'pending', 'orphaned')",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await
}

/// Tenants with a number Inward shows routed (active, pending or orphaned).
pub async fn tenants_with_routed(
    pool: &sqlx::PgPool,
) -> sqlx::Result<Vec<crate::domain::TenantId>> {
    sqlx::query_scalar(
        "SELECT DISTINCT tenant_id FROM numbers
         WHERE tenant_id IS NOT NULL AND lifecycle IN ('active', 'pending', 'orphaned') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}
