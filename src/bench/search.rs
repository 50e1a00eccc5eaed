//! Search scenarios: one per search kind, each with a handful of real values drawn from the
//! data so that requests do not all hit the same cached page.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use super::load::{self, Stats};
use crate::domain::TenantId;
use crate::domain::search::{Limits, SearchCriteria, SearchParams};
use crate::tenants::TenantProfile;

/// npa, nxx, state, rate center, city of one real exchange.
type Exchange = (String, String, String, String, String);

pub struct Kind {
    pub name: &'static str,
    /// Query strings for `/api/v1/numbers/available`.
    pub queries: Vec<String>,
}

/// Real states, area codes, exchanges, rate centers and cities from the rate-center table.
pub async fn kinds(pool: &PgPool) -> anyhow::Result<Vec<Kind>> {
    let sample: Vec<Exchange> = sqlx::query_as(
        "SELECT npa::text, nxx::text, state::text, rate_center, city FROM rate_centers
         WHERE country = 'US' ORDER BY md5(npa || nxx) LIMIT 8",
    )
    .fetch_all(pool)
    .await?;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let map = |f: &dyn Fn(&Exchange) -> String| sample.iter().map(f).collect::<Vec<_>>();
    Ok(vec![
        Kind {
            name: "state",
            queries: ["TX", "CA", "NY", "FL", "IL", "OH", "GA", "WA"]
                .iter()
                .map(|s| format!("state={s}"))
                .collect(),
        },
        Kind {
            name: "npa",
            queries: map(&|r| format!("npa={}", r.0)),
        },
        Kind {
            name: "npa-nxx",
            queries: map(&|r| format!("npa={}&nxx={}", r.0, r.1)),
        },
        Kind {
            name: "rate center",
            queries: map(&|r| format!("state={}&rate_center={}", r.2, enc(&r.3))),
        },
        Kind {
            name: "city",
            queries: map(&|r| format!("state={}&city={}", r.2, enc(&r.4))),
        },
        Kind {
            name: "vanity (local)",
            queries: vec![
                "state=TX&pattern=XXX-XXX-CALL".into(),
                "state=CA&pattern=XXX-XXX-HELP".into(),
                "npa=512&pattern=512-XXX-CASH".into(),
                "npa=212&pattern=212-XXX-TAXI".into(),
                "state=NY&pattern=XXX-XXX-7777".into(),
                "state=FL&pattern=XXX-XXX-5000".into(),
            ],
        },
        Kind {
            name: "vanity (toll-free)",
            queries: vec![
                "kind=toll_free&pattern=8XX-OUR-FOOD".into(),
                "kind=toll_free&pattern=888-XXX-1000".into(),
                "kind=toll_free&pattern=8XX-XXX-HELP".into(),
                "kind=toll_free&pattern=877-555-XXXX".into(),
            ],
        },
        Kind {
            name: "toll-free",
            queries: vec![
                "kind=toll_free".into(),
                "kind=toll_free&npa=888".into(),
                "kind=toll_free&npa=800".into(),
                "kind=toll_free&npa=866".into(),
            ],
        },
    ])
}

pub struct Plans {
    pub explain: String,
    /// None for statements planned for their values every time.
    pub generic: Option<String>,
}

/// A bench query string as the API parses it.
pub(super) fn criteria(query: &str, limits: Limits) -> anyhow::Result<SearchCriteria> {
    let params: SearchParams = serde_urlencoded::from_str(query)?;
    params
        .parse(limits)
        .map_err(|e| anyhow::anyhow!("{query}: {e}"))
}

pub(super) async fn profile(pool: &PgPool, tenant: uuid::Uuid) -> anyhow::Result<TenantProfile> {
    crate::tenants::profile(&mut *pool.acquire().await?, TenantId(tenant))
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))
}

/// How the first query of a kind is planned for `tenant`: its `EXPLAIN` for these values,
/// and, when the API keeps the statement's generic plan (`state::search_pool`), the
/// indexes and sequential scans that plan actually made, read from the statistics of the
/// transaction it ran in (`pg_stat_xact_user_tables` and `pg_stat_get_xact_numscans` count
/// this connection's own scans only).
pub async fn explain(
    pool: &PgPool,
    search_pool: &PgPool,
    limits: Limits,
    tenant: uuid::Uuid,
    query: &str,
) -> anyhow::Result<Plans> {
    let criteria = criteria(query, limits)?;
    let profile = profile(pool, tenant).await?;
    let explain =
        crate::search::repo::explain(&mut *pool.acquire().await?, &profile, &criteria).await?;
    if !crate::search::repo::keeps_its_plan(&criteria) {
        return Ok(Plans {
            explain,
            generic: None,
        });
    }
    // The first run prepares the statement and plans it (planning itself probes index
    // ends, which count as scans); the second runs the cached generic plan, and the counts
    // it adds are the plan's own scans.
    let mut tx = search_pool.begin().await?;
    crate::search::repo::search(&mut tx, &profile, &criteria, true).await?;
    let before = scans(&mut tx).await?;
    crate::search::repo::search(&mut tx, &profile, &criteria, true).await?;
    let after = scans(&mut tx).await?;
    tx.rollback().await?;
    let ran = |name: &str| {
        after.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c)
            - before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, c)| *c)
    };
    let seq_scans = ran("numbers");
    let indexes: Vec<&str> = after
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "numbers" && ran(n) > 0)
        .collect();
    let generic = if seq_scans > 0 {
        "SEQ SCAN".to_string()
    } else {
        indexes.join(" + ")
    };
    Ok(Plans {
        explain,
        generic: Some(generic),
    })
}

/// Scans so far by this connection (flushed or not): sequential scans of `numbers` under
/// its own name, index scans under each index's name.
async fn scans(conn: &mut sqlx::PgConnection) -> anyhow::Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT c.relname::text, pg_stat_get_xact_numscans(c.oid) FROM pg_class c
         WHERE c.oid = 'numbers'::regclass
            OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'numbers'::regclass)
         ORDER BY 1",
    )
    .fetch_all(conn)
    .await?)
}

/// The indexes a plan uses, or `SEQ SCAN` when it reads the table.
pub fn plan_summary(plan: &str) -> String {
    if plan.contains("Seq Scan") {
        return "SEQ SCAN".into();
    }
    let words: Vec<&str> = plan.split_whitespace().collect();
    let mut indexes: Vec<&str> = words
        .windows(2)
        .filter(|w| (w[0] == "using" || w[0] == "on") && w[1].starts_with("numbers_"))
        .map(|w| w[1])
        .collect();
    indexes.dedup();
    indexes.join(" + ")
}

pub async fn run(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    kind: &Kind,
    clients: usize,
    duration: Duration,
) -> Stats {
    let urls: Arc<Vec<String>> = Arc::new(
        kind.queries
            .iter()
            .map(|q| format!("{base}/api/v1/numbers/available?{q}"))
            .collect(),
    );
    let auth = Arc::new(format!("Bearer {token}"));
    let client = client.clone();
    load::run(clients, duration, move |c, i| {
        let (client, urls, auth) = (client.clone(), urls.clone(), auth.clone());
        async move {
            let url = &urls[(c + i) % urls.len()];
            load::get(&client, url, &[("authorization", auth.as_str())]).await
        }
    })
    .await
}

/// The same searches without HTTP, authentication or JSON: `clients` tasks each running
/// the search statement on a pool connection, as the API does. This is the database's share,
/// and the floor under what any server in front of it can reach on this machine.
pub async fn database_alone(
    pool: &PgPool,
    search_pool: &PgPool,
    limits: Limits,
    tenant: uuid::Uuid,
    kind: &Kind,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Stats> {
    let profile = profile(pool, tenant).await?;
    let criteria = kind
        .queries
        .iter()
        .map(|query| criteria(query, limits))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pools = Arc::new((pool.clone(), search_pool.clone()));
    let (profile, criteria) = (Arc::new(profile), Arc::new(criteria));
    Ok(load::run(clients, duration, move |c, i| {
        let (pools, profile, criteria) = (pools.clone(), profile.clone(), criteria.clone());
        async move {
            let criteria = &criteria[(c + i) % criteria.len()];
            // The pool the API would take (`search::run`).
            let pool = crate::search::repo::pool_for(criteria, &pools.0, &pools.1);
            let Ok(mut conn) = pool.acquire().await else {
                return false;
            };
            crate::search::repo::search(&mut conn, &profile, criteria, true)
                .await
                .is_ok()
        }
    })
    .await)
}
