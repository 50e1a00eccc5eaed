//! `inward bench`: sets up 10 million numbers, serves Inward in-process on a random port
//! and drives it with a real HTTP client (reqwest, closed loop, 64 clients by default),
//! printing medians, p99 and ratios against the performance targets. Not a test: nothing
//! here fails a build, it reports figures.

mod data;
mod holds;
mod limits;
mod load;
mod machinery;
mod pages;
mod rss;
mod scenarios;
mod search;
mod server;

use std::time::Duration;

use sqlx::PgPool;

use crate::config::AppConfig;
use crate::domain::TenantId;
use crate::state::AppState;

pub struct Options {
    pub numbers: i64,
    /// The concurrency of every scenario: the largest of `client_counts`.
    pub clients: usize,
    /// Each concurrency the limits scenario measures at.
    pub client_counts: Vec<usize>,
    /// Print the limits scenario's figures as one JSON object on standard output (the rest
    /// goes to standard error); runs that scenario alone unless `only` names others.
    pub json: bool,
    /// Rows the limits scenario uploads; 0 leaves the upload out.
    pub upload_rows: usize,
    pub seconds: u64,
    /// Scenario names to run; empty runs all.
    pub only: Vec<String>,
    /// The role the server under test connects as; DATABASE_URL's when None.
    pub server_role: Option<String>,
    /// The machinery scenario's mechanisms to measure, by `[tuning]` key; empty: all.
    pub mechanisms: Vec<String>,
}

impl Options {
    /// Every scenario runs by default but `machinery` (half an hour) and `limits` (medians of
    /// three at each concurrency), which run when named; `--json` runs `limits`.
    fn runs(&self, scenario: &str) -> bool {
        if self.only.is_empty() {
            if self.json {
                return scenario == "limits";
            }
            return !["machinery", "limits"].contains(&scenario);
        }
        self.only.iter().any(|s| s == scenario)
    }
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether standard output is kept for the JSON object.
pub(crate) fn json_mode() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// `println!`, or `eprintln!` while standard output is kept for the JSON object.
macro_rules! say {
    ($($arg:tt)*) => {
        if $crate::bench::json_mode() {
            eprintln!($($arg)*)
        } else {
            println!($($arg)*)
        }
    };
}
pub(crate) use say;

const SCENARIOS: [&str; 8] = [
    "limits",
    "explain",
    "search",
    "holds",
    "fight",
    "pages",
    "memory",
    "machinery",
];

/// The benchmarks create users with the public demo password, drop and rebuild the indexes
/// of `numbers` under an exclusive lock and expire every hold: never against a database
/// that people use by mistake.
pub fn refuse_unless_bench_database(url: &str, destroy_data: bool) -> anyhow::Result<()> {
    if destroy_data {
        return Ok(());
    }
    let name = database_name(url);
    anyhow::ensure!(
        name.starts_with("bench"),
        "the benchmarks write demo users with a published password, rebuild the indexes of \
         `numbers` under an exclusive lock and expire every hold, so they run only on a \
         database whose name starts with `bench` (this is `{name}`); point DATABASE_URL at \
         one, or pass --destroy-data to run here anyway"
    );
    Ok(())
}

fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .unwrap_or_default()
}

/// Target checks, printed at the end as one table.
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, what: String, ok: bool) {
        let verdict = if ok { "met" } else { "MISSED" };
        say!("  -> {what}: {verdict}");
        self.0.push(format!("{verdict:<7} {what}"));
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    format!(
        "{cores} cores ({model}), {:.1} GiB RAM",
        mem_kib as f64 / 1024.0 / 1024.0
    )
}

/// What every scenario works with, set up once by `run`.
pub(crate) struct Bench {
    config: AppConfig,
    /// The bench's own connections (as DATABASE_URL's role).
    pool: PgPool,
    /// The server's available-number search pool, for the statement run alone.
    search_pool: PgPool,
    /// Globex, a sandbox tenant, and an API token of its agent.
    tenant: TenantId,
    token: String,
    kinds: Vec<search::Kind>,
    clients: usize,
    duration: Duration,
    warmup: Duration,
    report: Report,
}

pub async fn run(config: AppConfig, options: Options) -> anyhow::Result<()> {
    if let Some(unknown) = options
        .only
        .iter()
        .find(|s| !SCENARIOS.contains(&s.as_str()))
    {
        anyhow::bail!(
            "unknown scenario `{unknown}`: choose from {}",
            SCENARIOS.join(", ")
        );
    }
    JSON.store(options.json, std::sync::atomic::Ordering::Relaxed);
    let config = bench_config(config, options.clients.max(1));
    say!("machine: {}", machine());
    let Prepared {
        mut b,
        state,
        served,
        routed,
    } = prepare(config, &options).await?;

    if options.runs("explain") {
        scenarios::explain(&mut b).await?;
    }
    let raw_limits = if options.runs("limits") {
        say!("\n== Limits: the raw statements under pgbench, medians of three");
        Some(limits::raw(&b, &state, &options.client_counts).await?)
    } else {
        None
    };
    // pgbench runs before the server opens its connections: both want one per client, and
    // together they would pass PostgreSQL's default max_connections of 100.
    let pgbench = if options.runs("holds") {
        let url = b.config.database.url.clone();
        Some(holds::before_server(&state, &b.pool, &url, b.clients, b.duration).await?)
    } else {
        None
    };
    let pairs = over_http(&mut b, state, &options, pgbench, routed, raw_limits).await?;
    let upload = match options.runs("limits") && options.upload_rows > 0 {
        true => {
            say!("\n== Limits: upload beside COPY of the same file, medians of three");
            // The server's runtime is gone, and with it the connections it opened in
            // the shared pool: the upload gets its own.
            let pool = crate::database::connect(&b.config).await?;
            Some(limits::upload(&pool, options.upload_rows).await?)
        }
        false => None,
    };
    if options.runs("machinery") {
        machinery::run(&mut b, &served, &options.mechanisms).await?;
    }
    if options.runs("memory") {
        scenarios::memory(&mut b).await?;
    }

    if options.runs("limits") {
        say!("\n== Limits: each path over HTTP against PostgreSQL alone");
        say!("{}", limits::table(&pairs, upload.as_ref()));
        for p in &pairs {
            b.report.check(
                format!(
                    "{} at {} clients: {:.2} of the raw statement >= {:.1}",
                    p.path, p.clients, p.ratio, p.target
                ),
                p.ratio >= p.target,
            );
        }
        if let Some(u) = &upload {
            b.report.check(
                format!(
                    "upload of {} rows within 3x of COPY ({:.1}s vs {:.1}s)",
                    u.rows, u.upload_seconds, u.copy_seconds
                ),
                u.ratio >= u.target,
            );
        }
    }
    say!("\n== Summary");
    for line in &b.report.0 {
        say!("{line}");
    }
    if options.json {
        println!(
            "{}",
            limits::json(&machine(), options.numbers, &pairs, upload.as_ref())
        );
    }
    Ok(())
}

struct Prepared {
    b: Bench,
    /// The server under test's state, not serving yet.
    state: AppState,
    /// The server's connections (as `--server-role`).
    served: PgPool,
    /// How many numbers Globex has routed, for the numbers page.
    routed: i64,
}

/// The data every scenario needs (10 million numbers, a tenant's routed numbers, tidied
/// tables), the bench's own connections and the server's state.
async fn prepare(config: AppConfig, options: &Options) -> anyhow::Result<Prepared> {
    let pool = crate::database::connect(&config).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let clients = options.clients.max(1);
    let duration = Duration::from_secs(options.seconds.max(1));
    say!(
        "PostgreSQL {version}; pool {} connections per instance and {} for searches; {clients} clients, {}s per scenario",
        config.database.max_connections,
        config.database.search_connections,
        duration.as_secs()
    );
    data::ensure(&pool, options.numbers).await?;
    let routed = data::ensure_tenant_numbers(&pool, "globex").await?;
    if data::tidy(&pool).await? {
        say!(
            "autovacuum is off on this server: the bench vacuums and analyzes the tables it churns itself"
        );
    }
    let served = served_pool(&pool, &config, options).await?;
    let state = AppState::new(served.clone(), config.clone());
    let b = Bench {
        tenant: sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'globex'")
            .fetch_one(&pool)
            .await?,
        token: crate::admin::create_token(&pool, "agent@globex.test").await?,
        kinds: search::kinds(&pool).await?,
        search_pool: state.offer_pool.clone(),
        config,
        pool,
        clients,
        duration,
        warmup: Duration::from_secs(1),
        report: Report(Vec::new()),
    };
    Ok(Prepared {
        b,
        state,
        served,
        routed,
    })
}

/// The scenarios that drive one in-process server over HTTP, stopped when they are done.
async fn over_http(
    b: &mut Bench,
    state: AppState,
    options: &Options,
    pgbench: Option<anyhow::Result<f64>>,
    routed: i64,
    raw_limits: Option<limits::Raw>,
) -> anyhow::Result<Vec<limits::Pair>> {
    let worker_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let servers = server::Servers::start(state, worker_threads)?;
    let http = scenarios::Http {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(b.clients * 2)
            .build()?,
        base: format!("http://{}", servers.inward),
        bare: servers.bare,
    };
    let pairs = match &raw_limits {
        Some(raw) => {
            say!("\n== Limits: the same paths over HTTP, medians of three");
            let pairs = limits::http(b, &http, raw, &options.client_counts).await?;
            say!("{}", limits::table(&pairs, None));
            pairs
        }
        None => Vec::new(),
    };
    if options.runs("search") {
        scenarios::searches(b, &http).await?;
    }
    if let Some(pgbench) = pgbench {
        scenarios::holds(b, &http, pgbench).await?;
    }
    if options.runs("fight") {
        scenarios::fight(b, &http).await?;
    }
    if options.runs("pages") {
        scenarios::pages(b, &http, routed).await?;
    }
    Ok(pairs)
}

/// The configuration the server under test runs with.
fn bench_config(mut config: AppConfig, clients: usize) -> AppConfig {
    // pgbench, the yardstick of the holds scenario, runs one connection per client; the
    // server gets as many, so that both can have as many commits waiting on the same WAL
    // flush. The configured pool is kept when it is larger.
    config.database.max_connections = config.database.max_connections.max(clients as u32);
    // The bench measures what the server can do: 64 clients on one token would pass any
    // caller's limit in a second.
    config.rate_limits = crate::config::RateLimitsConfig::unlimited();
    // The holds scenario's platform is a simulator on this machine.
    config.outbound.allow_hosts = vec!["127.0.0.1".into()];
    if config.secrets.key.is_empty() {
        // The holds scenario connects a tenant to a platform simulator, whose credentials
        // are sealed like any connection's; a key for this run only.
        config.secrets.key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
    }
    config
}

/// The connections of the server under test: as `--server-role` when given.
async fn served_pool(
    pool: &PgPool,
    config: &AppConfig,
    options: &Options,
) -> anyhow::Result<PgPool> {
    let served = match &options.server_role {
        Some(role) => {
            crate::roles::check_name(role).map_err(anyhow::Error::msg)?;
            let options = (*pool.connect_options()).clone().username(role);
            crate::state::pool_options(config.database.max_connections).connect_lazy_with(options)
        }
        None => pool.clone(),
    };
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&served)
        .await?;
    say!("the server under test connects as {role}");
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bench_databases_unless_told_to_destroy_data() {
        let ok = |url: &str, destroy| refuse_unless_bench_database(url, destroy).is_ok();
        assert!(ok("postgres://postgres@127.0.0.1:5432/bench", false));
        assert!(ok("postgres://postgres@127.0.0.1:5432/bench_upload", false));
        assert!(!ok("postgres://postgres@127.0.0.1:5432/inward", false));
        assert!(!ok("postgres://postgres@127.0.0.1:5432/", false));
        assert!(!ok("not a url", false));
        assert!(ok("postgres://postgres@127.0.0.1:5432/inward", true));
        let refusal = refuse_unless_bench_database("postgres://h/inward", false).unwrap_err();
        assert!(refusal.to_string().contains("`inward`"), "{refusal}");
    }
}
