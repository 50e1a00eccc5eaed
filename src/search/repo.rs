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
    let (mut q, persistent) = build(
        "SELECT e164, national, kind, region, state, rate_center, city FROM numbers",
        tenant,
        c,
    );
    q.build_query_as()
        .persistent(persistent)
        .fetch_all(conn)
        .await
}

/// The plan PostgreSQL picks for `search` with these criteria (`EXPLAIN`, one line a row).
pub async fn explain(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
) -> sqlx::Result<String> {
    let (mut q, _) = build(
        "EXPLAIN SELECT e164, national, kind, region, state, rate_center, city FROM numbers",
        tenant,
        c,
    );
    let lines: Vec<(String,)> = q.build_query_as().persistent(false).fetch_all(conn).await?;
    Ok(lines
        .into_iter()
        .map(|(l,)| l)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The search statement, and whether it may be kept as a prepared statement.
fn build<'a>(
    select: &str,
    tenant: &TenantProfile,
    c: &'a SearchCriteria,
) -> (QueryBuilder<'a, Postgres>, bool) {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(select);
    // country, state, npa and nxx are char(n) columns: the parameters (text) are cast to
    // bpchar, or PostgreSQL would compare column::text = $n and no index would apply.
    q.push(" WHERE lifecycle IN ('available', 'released') AND tenant_id IS NULL AND country = ");
    q.push_bind(&c.country)
        .push("::bpchar AND kind = ")
        .push_bind(c.kind.as_str());
    q.push(" AND inventory_org_id = ANY(")
        .push_bind(tenant.inventory_orgs())
        .push(")");
    // A number the reseller allocated to a tenant is offered to that tenant only.
    q.push(" AND (allocated_tenant_id IS NULL OR allocated_tenant_id = ")
        .push_bind(tenant.id)
        .push(")");
    // Aging after release: only the tenant that released a number is offered it back.
    q.push(" AND (aging_until IS NULL OR aging_until <= now() OR released_by = ")
        .push_bind(tenant.id)
        .push(")");
    if let Some(state) = &c.state {
        q.push(" AND state = ").push_bind(state).push("::bpchar");
    }
    if let Some(npa) = &c.npa {
        q.push(" AND npa = ").push_bind(npa).push("::bpchar");
    }
    if let Some(nxx) = &c.nxx {
        q.push(" AND nxx = ").push_bind(nxx).push("::bpchar");
    }
    if let Some(rate_center) = &c.rate_center {
        q.push(" AND rate_center = ").push_bind(rate_center);
    }
    if let Some(city) = &c.city {
        q.push(" AND lower(city) = lower(")
            .push_bind(city)
            .push(")");
    }
    let inlined = c.pattern.as_ref().map(|p| p.sql_like()).filter(|like| {
        like.bytes()
            .all(|b| b.is_ascii_digit() || b == b'_' || b == b'%')
    });
    if let Some(pattern) = &c.pattern {
        // The LIKE pattern is written into the SQL when it is only digits and wildcards
        // (always, for a parsed VanityPattern): a bound parameter lets PostgreSQL switch to
        // a generic plan after five runs, and a generic plan cannot tell which trigrams or
        // prefix the pattern has. Such statements are not kept prepared.
        //
        // With fixed trailing digits the suffix index below is the selective one, but from
        // `national LIKE '512___2274'` PostgreSQL also derives a range on the prefix index
        // and, misjudging it, walked every number of the area code (70 ms against 3 ms).
        // `national || ''` is not the indexed expression, so only the suffix index applies.
        let suffix = pattern.fixed_suffix_reversed();
        let by_suffix = suffix.len() >= 3 && suffix.bytes().all(|b| b.is_ascii_digit());
        let column = if by_suffix {
            "(national || '')"
        } else {
            "national"
        };
        match &inlined {
            Some(like) => q.push(format_args!(" AND {column} LIKE '{like}'")),
            None => q
                .push(format_args!(" AND {column} LIKE "))
                .push_bind(pattern.sql_like()),
        };
        // The fixed leading digits name the area code and maybe the exchange: indexed.
        let prefix = pattern.fixed_prefix();
        if prefix.len() >= 3 && c.npa.is_none() {
            q.push(" AND npa = ")
                .push_bind(prefix[..3].to_string())
                .push("::bpchar");
        }
        // The fixed trailing digits (`XXX-XXX-CALL`, `8XX-OUR-FOOD`) are a prefix of the
        // reversed number: numbers_search_suffix_kind finds the few numbers that end that
        // way, of the kind, state and area code asked for.
        if by_suffix {
            q.push(format_args!(" AND reverse(national) LIKE '{suffix}%'"));
        }
        if prefix.len() >= 6 && c.nxx.is_none() {
            q.push(" AND nxx = ")
                .push_bind(prefix[3..6].to_string())
                .push("::bpchar");
        }
    }
    if let Some(after) = &c.after {
        q.push(" AND national > ").push_bind(after);
    }
    q.push(" ORDER BY national LIMIT ").push_bind(c.limit);
    (q, inlined.is_none())
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
