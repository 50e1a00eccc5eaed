use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::search::SearchCriteria;
use crate::numbers::offer;
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
    pub voice: bool,
    pub sms: bool,
    pub fax: bool,
    pub mms: bool,
    pub e911: bool,
}

/// The stock is read through its view (migration 0031), aliased as the table the offer rule
/// names: under the policy on `numbers`, the search's conditions could not walk its indexes.
const SELECT: &str =
    "SELECT e164, national, kind, region, state, rate_center, city, voice, sms, fax, mms,
            coalesce(e911_capable, kind = 'local') AS e911
     FROM numbers_in_stock numbers";

/// Keyset-paginated over `national`; the lifecycle predicate matches the partial indexes.
/// `inline`: validated codes written into the SQL (`tuning.inline_codes`; see `build`).
pub async fn search(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
    inline: bool,
) -> sqlx::Result<Vec<NumberRow>> {
    let (mut q, persistent) = build(SELECT, tenant, c, inline);
    q.build_query_as()
        .persistent(persistent)
        .fetch_all(conn)
        .await
}

/// The statement `search` runs, as text (`inward bench` hands it to pgbench).
pub fn statement(tenant: &TenantProfile, c: &SearchCriteria, inline: bool) -> String {
    build(SELECT, tenant, c, inline).0.sql().to_string()
}

/// The plan PostgreSQL picks for `search` with these values (`EXPLAIN`, one line a row).
/// Statements that keep their plan run a generic plan instead: `inward bench` checks which
/// indexes that one uses from the statistics of its own transaction.
pub async fn explain(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
) -> sqlx::Result<String> {
    let (mut q, _) = build(&format!("EXPLAIN {SELECT}"), tenant, c, true);
    let lines: Vec<(String,)> = q.build_query_as().persistent(false).fetch_all(conn).await?;
    Ok(lines
        .into_iter()
        .map(|(l,)| l)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `AND column = 'code'` for a country, state, area code or exchange: validated codes
/// (two letters, three digits) are written into the SQL; anything else is bound instead.
fn push_code(q: &mut QueryBuilder<'_, Postgres>, column: &str, code: &str, inline: bool) {
    if inline
        && !code.is_empty()
        && code.len() <= 3
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        q.push(format_args!(" AND {column} = '{code}'::bpchar"));
    } else {
        q.push(format_args!(" AND {column} = "))
            .push_bind(code.to_string())
            .push("::bpchar");
    }
}

/// The LIKE pattern, when it is written into the SQL (only digits and wildcards).
fn inlined_pattern(c: &SearchCriteria) -> Option<String> {
    c.pattern.as_ref().map(|p| p.sql_like()).filter(|like| {
        like.bytes()
            .all(|b| b.is_ascii_digit() || b == b'_' || b == b'%')
    })
}

/// Whether the statement is kept prepared on `state::search_pool`, where PostgreSQL's plan
/// cache may settle on a generic plan of it after five runs: unless a vanity pattern had to
/// be bound (never, for a parsed pattern), since a generic plan cannot tell what a bound
/// pattern fixes. Such a search is planned every time for
/// its pattern, on the main pool.
pub fn keeps_its_plan(c: &SearchCriteria) -> bool {
    c.pattern.is_none() || inlined_pattern(c).is_some()
}
// `build` decides the same from the pattern it has already rendered.

/// The pool a search runs on: `search` when it keeps its plan, else `main`.
pub fn pool_for<'p>(c: &SearchCriteria, main: &'p PgPool, search: &'p PgPool) -> &'p PgPool {
    if keeps_its_plan(c) { search } else { main }
}

/// The offer rule, with the tenant's identifiers written in: ids and validated country
/// codes, never the caller's text (see `build`).
fn offer_clause(tenant: &TenantProfile) -> String {
    let orgs: Vec<String> = tenant
        .inventory_orgs()
        .iter()
        .map(Uuid::to_string)
        .collect();
    let countries: Vec<String> = tenant
        .allowed_countries
        .iter()
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .cloned()
        .collect();
    offer::offered_sql(
        "numbers",
        &format!("'{}'::uuid", tenant.id),
        &format!("'{{{}}}'::uuid[]", orgs.join(",")),
        &format!("'{{{}}}'::bpchar[]", countries.join(",")),
    )
}

/// Those of `wanted` that are in stock and offered to the tenant now, in national order.
pub async fn offered(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    wanted: &[String],
) -> sqlx::Result<Vec<NumberRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    q.push(" WHERE ")
        .push(offer_clause(tenant))
        .push(" AND numbers.e164 = ANY(")
        .push_bind(wanted.to_vec())
        .push(") ORDER BY numbers.national");
    q.build_query_as().persistent(false).fetch_all(conn).await
}

/// The search statement, and whether it may be kept as a prepared statement.
fn build<'a>(
    select: &str,
    tenant: &TenantProfile,
    c: &'a SearchCriteria,
    inline: bool,
) -> (QueryBuilder<'a, Postgres>, bool) {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(select);
    let keeps_plan = push_conditions(&mut q, tenant, c, inline);
    if let Some(after) = &c.after {
        q.push(" AND national > ").push_bind(after);
    }
    q.push(format_args!(" ORDER BY national LIMIT {}", c.limit));
    (q, keeps_plan)
}

/// How many numbers match the search, counted up to `cap`.
pub async fn count(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
    inline: bool,
    cap: i64,
) -> sqlx::Result<i64> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM numbers_in_stock numbers");
    let keeps_plan = push_conditions(&mut q, tenant, c, inline);
    q.push(format_args!(" LIMIT {cap}) matching"));
    q.build_query_scalar()
        .persistent(keeps_plan)
        .fetch_one(conn)
        .await
}

/// Numbers in stock matching a search, counted per area code or, with `by_rate_center`,
/// per rate center of it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Coverage {
    pub npa: String,
    pub rate_center: Option<String>,
    pub city: Option<String>,
    pub available: i64,
}

/// At most this many rows of coverage (rate centers of one area code fit).
pub const COVERAGE_ROWS: i64 = 500;

pub async fn coverage(
    conn: &mut PgConnection,
    tenant: &TenantProfile,
    c: &SearchCriteria,
    by_rate_center: bool,
) -> sqlx::Result<Vec<Coverage>> {
    let (select, group) = if by_rate_center {
        (
            "SELECT npa::text AS npa, rate_center, min(city) AS city, count(*) AS available
             FROM numbers_in_stock numbers",
            " GROUP BY npa, rate_center ORDER BY rate_center NULLS LAST",
        )
    } else {
        (
            "SELECT npa::text AS npa, NULL::text AS rate_center, NULL::text AS city,
                    count(*) AS available
             FROM numbers_in_stock numbers",
            " GROUP BY npa ORDER BY npa",
        )
    };
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(select);
    push_conditions(&mut q, tenant, c, true);
    q.push(group).push(format_args!(" LIMIT {COVERAGE_ROWS}"));
    q.build_query_as().persistent(false).fetch_all(conn).await
}

/// The search's WHERE clause, and whether its statement may be kept prepared.
fn push_conditions<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    tenant: &TenantProfile,
    c: &'a SearchCriteria,
    inline: bool,
) -> bool {
    // Everything that decides the plan is written into the SQL: the kind, country, state,
    // area code, exchange, limit and the tenant's identifiers, all validated codes or ids,
    // never the caller's text. Searches keep their plans (`state::search_pool`), and a
    // kept plan is generic in its parameters: one that saw `npa = $1` or `country = $1`
    // misjudged how many rows each index yields (a toll-free area-code search took 36 ms
    // instead of under 1 ms). Only free text (rate center, city) and the cursor are bound.
    // country, state, npa and nxx are char(n) columns, hence the casts to bpchar.
    q.push(" WHERE ");
    q.push(offer_clause(tenant));
    push_code(q, "country", &c.country, inline);
    q.push(format_args!(" AND kind = '{}'", c.kind.as_str()));
    if let Some(state) = &c.state {
        push_code(q, "state", state, inline);
    }
    // A vanity pattern with fixed trailing digits is found by its suffix, with the area code
    // and exchange as columns of that index (below); any other search with them walks the
    // range of `national` they begin (a CHECK in migration 0011 makes them its first digits).
    let suffix = c
        .pattern
        .as_ref()
        .map(|p| p.fixed_suffix_reversed())
        .unwrap_or_default();
    let by_suffix = suffix.len() >= 3 && suffix.bytes().all(|b| b.is_ascii_digit());
    let leading = format!(
        "{}{}",
        c.npa.as_deref().unwrap_or(""),
        c.nxx.as_deref().unwrap_or("")
    );
    if !by_suffix && !leading.is_empty() && leading.bytes().all(|b| b.is_ascii_digit()) {
        if inline {
            q.push(format_args!(" AND national LIKE '{leading}%'"));
        } else {
            q.push(" AND national LIKE ")
                .push_bind(format!("{leading}%"));
        }
    } else {
        if let Some(npa) = &c.npa {
            push_code(q, "npa", npa, inline);
        }
        if let Some(nxx) = &c.nxx {
            push_code(q, "nxx", nxx, inline);
        }
    }
    if let Some(rate_center) = &c.rate_center {
        q.push(" AND rate_center = ").push_bind(rate_center);
    }
    if let Some(city) = &c.city {
        q.push(" AND lower(city) = lower(")
            .push_bind(city)
            .push(")");
    }
    // Fixed column names from the enum, never the caller's text.
    for capability in &c.capabilities {
        q.push(format_args!(" AND {}", capability.column()));
    }
    let inlined = inlined_pattern(c);
    push_pattern(
        q,
        c,
        inlined.as_deref(),
        by_suffix.then_some(suffix.as_str()),
        inline,
    );
    c.pattern.is_none() || inlined.is_some()
}

/// The vanity pattern's conditions: its LIKE, written into the SQL when `inlined`, and,
/// with fixed trailing digits (`suffix`, reversed), the suffix index's conditions.
fn push_pattern(
    q: &mut QueryBuilder<'_, Postgres>,
    c: &SearchCriteria,
    inlined: Option<&str>,
    suffix: Option<&str>,
    inline: bool,
) {
    let Some(pattern) = &c.pattern else {
        return;
    };
    // The LIKE pattern is written into the SQL when it is only digits and wildcards
    // (always, for a parsed VanityPattern): a generic plan cannot tell which prefix or
    // suffix a bound pattern fixes. A bound one is not kept prepared.
    //
    // With fixed trailing digits the suffix index below is the selective one, but from
    // `national LIKE '512___2274'` PostgreSQL also derives a range on the prefix index
    // and, misjudging it, walked every number of the area code (70 ms against 3 ms).
    // `national || ''` is not the indexed expression, so only the suffix index applies.
    let column = if suffix.is_some() {
        "(national || '')"
    } else {
        "national"
    };
    match inlined {
        Some(like) => q.push(format_args!(" AND {column} LIKE '{like}'")),
        None => q
            .push(format_args!(" AND {column} LIKE "))
            .push_bind(pattern.sql_like()),
    };
    // The fixed trailing digits (`XXX-XXX-CALL`, `8XX-OUR-FOOD`) are a prefix of the
    // reversed number: numbers_search_suffix_kind finds the few numbers that end that
    // way, of the kind, state and area code asked for, the area code and exchange
    // taken from the fixed leading digits too. Without them, the pattern's own LIKE
    // is a range of numbers_search_national.
    if let Some(suffix) = suffix {
        q.push(format_args!(" AND reverse(national) LIKE '{suffix}%'"));
        let prefix = pattern.fixed_prefix();
        if prefix.len() >= 3 && c.npa.is_none() {
            push_code(q, "npa", &prefix[..3], inline);
        }
        if prefix.len() >= 6 && c.nxx.is_none() {
            push_code(q, "nxx", &prefix[3..6], inline);
        }
    }
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
