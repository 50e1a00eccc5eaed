use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::domain::search::SearchCriteria;
use crate::tenants::TenantProfile;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NumberRow {
    pub e164: String,
    pub national: String,
    pub kind: String,
    pub region: String,
    pub state: Option<String>,
    pub rate_center: Option<String>,
    pub city: Option<String>,
}

/// Keyset-paginated over `national`; the lifecycle predicate matches the partial indexes.
pub async fn search(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
) -> sqlx::Result<Vec<NumberRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT e164, national, kind, region, state, rate_center, city FROM numbers
         WHERE lifecycle IN ('available', 'released') AND tenant_id IS NULL AND country = ",
    );
    q.push_bind(&c.country)
        .push(" AND kind = ")
        .push_bind(c.kind.as_str());
    q.push(" AND inventory_org_id = ANY(")
        .push_bind(tenant.inventory_orgs())
        .push(")");
    // Aging after release: only the tenant that released a number is offered it back.
    q.push(" AND (aging_until IS NULL OR aging_until <= now() OR released_by = ")
        .push_bind(tenant.id)
        .push(")");
    if let Some(state) = &c.state {
        q.push(" AND state = ").push_bind(state);
    }
    if let Some(npa) = &c.npa {
        q.push(" AND npa = ").push_bind(npa);
    }
    if let Some(nxx) = &c.nxx {
        q.push(" AND nxx = ").push_bind(nxx);
    }
    if let Some(rate_center) = &c.rate_center {
        q.push(" AND rate_center = ").push_bind(rate_center);
    }
    if let Some(city) = &c.city {
        q.push(" AND lower(city) = lower(")
            .push_bind(city)
            .push(")");
    }
    if let Some(pattern) = &c.pattern {
        q.push(" AND national LIKE ").push_bind(pattern.sql_like());
        let prefix = pattern.fixed_prefix();
        if prefix.len() >= 3 {
            q.push(" AND npa = ").push_bind(prefix[..3].to_string());
        }
    }
    if let Some(after) = &c.after {
        q.push(" AND national > ").push_bind(after);
    }
    q.push(" ORDER BY national LIMIT ").push_bind(c.limit);
    q.build_query_as().fetch_all(conn).await
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct City {
    pub city: String,
    pub state: String,
}

/// City autocomplete over the rate-center table.
pub async fn cities(
    conn: &mut PgConnection,
    prefix: &str,
    state: Option<&str>,
    country: &[String],
) -> sqlx::Result<Vec<City>> {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sqlx::query_as(
        "SELECT DISTINCT city, state FROM rate_centers
         WHERE lower(city) LIKE lower($1) || '%' AND ($2::text IS NULL OR state = $2) AND country = ANY($3)
         ORDER BY city, state LIMIT 12",
    )
    .bind(escaped)
    .bind(state)
    .bind(country)
    .fetch_all(conn)
    .await
}
