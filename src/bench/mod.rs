//! `inward bench`: sets up 10 million numbers, serves Inward in-process on a random port
//! and drives it with a real HTTP client (reqwest, closed loop, 64 clients by default),
//! printing medians, p99 and ratios against the performance targets. Not a test: nothing
//! here fails a build, it reports figures.

mod data;
mod holds;
mod load;
mod pages;
mod rss;
mod search;
mod server;

use std::time::Duration;

use crate::config::AppConfig;
use crate::state::AppState;

pub struct Options {
    pub numbers: i64,
    pub clients: usize,
    pub seconds: u64,
    /// Scenario names to run; empty runs all.
    pub only: Vec<String>,
    /// The role the server under test connects as; DATABASE_URL's when None.
    pub server_role: Option<String>,
}

impl Options {
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

const SCENARIOS: [&str; 6] = ["explain", "search", "holds", "fight", "pages", "memory"];

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
        println!("  -> {what}: {verdict}");
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

pub async fn run(mut config: AppConfig, options: Options) -> anyhow::Result<()> {
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
    let clients = options.clients.max(1);
    // pgbench, the yardstick of the holds scenario, runs one connection per client; the
    // server gets as many, so that both can have as many commits waiting on the same WAL
    // flush. The configured pool is kept when it is larger.
    config.database.max_connections = config.database.max_connections.max(clients as u32);
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
    let duration = Duration::from_secs(options.seconds.max(1));
    let warmup = Duration::from_secs(1);
    let url = config.database.url.clone();
    println!("machine: {}", machine());
    let pool = crate::database::connect(&config).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    println!(
        "PostgreSQL {version}; pool {} connections per instance and {} for searches; {clients} clients, {}s per scenario",
        config.database.max_connections,
        config.database.search_connections,
        duration.as_secs()
    );
    data::ensure(&pool, options.numbers).await?;
    let routed = data::ensure_tenant_numbers(&pool, "globex").await?;
    if data::tidy(&pool).await? {
        println!(
            "autovacuum is off on this server: the bench vacuums and analyzes the tables it churns itself"
        );
    }
    let tenant: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'globex'")
            .fetch_one(&pool)
            .await?;
    let token = crate::admin::create_token(&pool, "agent@globex.test").await?;
    let mut report = Report(Vec::new());
    let kinds = search::kinds(&pool).await?;
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
    println!("the server under test connects as {role}");
    let state = AppState::new(served, config.clone());
    let search_pool = state.offer_pool.clone();

    if options.runs("explain") {
        println!("\n== EXPLAIN (the first query of each search kind)");
    }
    for kind in kinds.iter().filter(|_| options.runs("explain")) {
        let plans = search::explain(
            &pool,
            &search_pool,
            config.search.limits(),
            tenant,
            &kind.queries[0],
        )
        .await?;
        let summary = search::plan_summary(&plans.explain);
        println!("{:<20} {:<40} {summary}", kind.name, kind.queries[0]);
        let mut uses_index = summary != "SEQ SCAN" && !summary.is_empty();
        if let Some(generic) = &plans.generic {
            println!(
                "{:<20} {:<40} {generic}",
                "", "  generic plan, as the API runs it:"
            );
            uses_index &= generic != "SEQ SCAN" && !generic.is_empty();
        }
        report.check(
            format!(
                "{} search uses an index ({})",
                kind.name,
                plans.generic.as_deref().unwrap_or(&summary)
            ),
            uses_index,
        );
    }

    // pgbench runs before the server opens its connections: both want one per client, and
    // together they would pass PostgreSQL's default max_connections of 100.
    let pgbench = if options.runs("holds") {
        let (ended, took) = holds::end_earlier_runs(&state).await?;
        if ended > 0 {
            println!(
                "\nholds left by earlier runs: {ended} expired by the sweeper's own code in {:.1}s",
                took.as_secs_f64()
            );
            data::tidy(&pool).await?;
        }
        let pg_stock = holds::available(&pool, "OH", 200_000).await?;
        Some(holds::pgbench(&pool, &url, &pg_stock, clients, duration).await)
    } else {
        None
    };

    let worker_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let servers = server::Servers::start(state, worker_threads)?;
    let base = format!("http://{}", servers.inward);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()?;

    if options.runs("search") {
        println!("\n== Search over HTTP (JSON API), {clients} clients");
    }
    for kind in kinds.iter().filter(|_| options.runs("search")) {
        search::run(&client, &base, &token, kind, clients, warmup).await;
        let stats = search::run(&client, &base, &token, kind, clients, duration).await;
        println!("{}", stats.line(kind.name));
        let alone = search::database_alone(
            &pool,
            &search_pool,
            config.search.limits(),
            tenant,
            kind,
            clients,
            duration,
        )
        .await?;
        println!("{}", alone.line("  the statement alone, no HTTP"));
        // A closed loop of N clients at X requests per second waits N / X on average
        // (Little's law), however fast each request is served alone.
        println!(
            "{:<34} {clients} clients / {:.0} per second = {:.1} ms mean at best",
            "  queueing floor",
            alone.rps(),
            1000.0 * clients as f64 / alone.rps().max(1e-9)
        );
        report.check(
            format!(
                "search {}: p99 {:.1} ms <= 15 ms",
                kind.name,
                load::ms(stats.quantile(0.99))
            ),
            stats.errors == 0 && stats.quantile(0.99) <= Duration::from_millis(15),
        );
    }

    if let Some(pgbench) = pgbench {
        println!("\n== Holds: POST /api/v1/reservations (one number each) vs pgbench (run first)");
        let tps = match pgbench {
            Ok(tps) => {
                println!(
                    "{:<34} {tps:>8.0} tx/s   (single-row UPDATE … WHERE lifecycle = 'available')",
                    "pgbench hold statement"
                );
                Some(tps)
            }
            Err(err) => {
                println!("pgbench: {err}");
                report.check(format!("holds: pgbench did not run ({err})"), false);
                None
            }
        };
        // Tenants on the real platforms (none has native reservations): Inward's hold only.
        let admin = crate::admin::create_token(&pool, "admin@initech.test").await?;
        let agent = crate::admin::create_token(&pool, "agent@initech.test").await?;
        let stock = holds::available(&pool, "NV", 100_000).await?;
        // Each request takes a fresh number: without stock the figures would be nonsense.
        anyhow::ensure!(
            stock.len() >= 10_000,
            "only {} available numbers in NV for the platform tenant's holds; the scenario needs the default inventory (--numbers 10000000)",
            stock.len()
        );
        let platform = holds::PlatformTenant::connect(&client, &base, &admin).await?;
        let on_platform =
            holds::api_throughput(&client, &base, &agent, stock, clients, duration).await;
        platform.disconnect().await;
        // Sandbox tenants: the hold, then the sandbox's own reservation of each number and
        // its reference on the hold (two more statements).
        let stock = holds::available(&pool, "CA", 100_000).await?;
        let on_sandbox =
            holds::api_throughput(&client, &base, &token, stock, clients, duration).await;
        for (name, api) in [
            ("reserve, tenant on Genesys Cloud", &on_platform),
            ("reserve, tenant on the sandbox", &on_sandbox),
        ] {
            println!("{}", api.line(name));
            if let Some(tps) = tps {
                let ratio = api.rps() / tps;
                println!("{:<34} API / pgbench = {ratio:.2}", "");
                report.check(
                    format!(
                        "holds ({}): API {:.0}/s vs pgbench {tps:.0}/s = {ratio:.2} >= 0.5",
                        name.trim_start_matches("reserve, "),
                        api.rps()
                    ),
                    api.errors == 0 && ratio >= 0.5,
                );
            }
        }
        // Over both runs (and the warm-ups), from the server's own /metrics series.
        for (writer, mean) in holds::batch_sizes(&crate::metrics::handle().render()) {
            println!(
                "{:<34} {mean:.1} requests per statement on average",
                format!("  group commit `{writer}`")
            );
        }
    }

    if options.runs("fight") {
        println!("\n== {clients} clients fighting over 100 numbers (two per reservation)");
        let contested = holds::available(&pool, "WY", 100).await?;
        let fight = holds::fight(&pool, &client, &base, &token, contested, clients, 10).await?;
        println!(
            "{} attempts: {} reserved, {} refused with 409, {} other; {} numbers held, {} held twice",
            fight.attempts,
            fight.won,
            fight.conflicts,
            fight.other,
            fight.numbers_held,
            fight.double_held
        );
        report.check(
            format!("fight: {} numbers held twice", fight.double_held),
            fight.double_held == 0 && fight.other == 0,
        );
    }

    if options.runs("pages") {
        println!("\n== Pages (logged-in browser session) vs a bare axum handler");
        let agent = pages::login(&base, "agent@globex.test", crate::seed::DEMO_PASSWORD).await?;
        // The operator's inventory holds the generated 10,000,000 numbers.
        let operator =
            pages::login(&base, "operator@inward.test", crate::seed::DEMO_PASSWORD).await?;
        let bare_url = vec![format!("http://{}/", servers.bare)];
        pages::run(&client, bare_url.clone(), None, clients, warmup).await;
        let bare = pages::run(&client, bare_url, None, clients, duration).await;
        println!("{}", bare.line("bare axum handler"));
        let search_pages: Vec<String> = ["TX", "CA", "NY", "FL"]
            .iter()
            .map(|s| format!("{base}/search?kind=local&state={s}"))
            .collect();
        println!("(the numbers page: Globex's first 100 of {routed} active numbers)");
        let numbers_page = vec![format!("{base}/numbers")];
        // The first page, a page further in (keyset cursor), and the filters: a number
        // prefix, a tenant's name, a status.
        let inventory_pages: Vec<String> = [
            "",
            "?cursor=%2B17135550000",
            "?q=512",
            "?q=globex",
            "?status=released",
        ]
        .iter()
        .map(|q| format!("{base}/inventory{q}"))
        .collect();
        for (name, urls, cookie) in [
            ("search results page", search_pages, &agent),
            ("numbers page", numbers_page, &agent),
            ("inventory page", inventory_pages, &operator),
        ] {
            pages::run(&client, urls.clone(), Some(cookie), clients, warmup).await;
            let stats = pages::run(&client, urls, Some(cookie), clients, duration).await;
            println!("{}", stats.line(name));
            let ratio = stats.rps() / bare.rps();
            println!("{name} / bare = {:.1}%", ratio * 100.0);
            report.check(
                format!(
                    "{name}: {:.1}% of bare rps >= 30%, p99 {:.1} ms <= 25 ms",
                    ratio * 100.0,
                    load::ms(stats.quantile(0.99))
                ),
                stats.errors == 0
                    && ratio >= 0.3
                    && stats.quantile(0.99) <= Duration::from_millis(25),
            );
        }
    }
    drop(servers);

    if options.runs("memory") {
        println!("\n== Idle memory of `inward serve`");
        let rss = rss::idle_serve_rss_kib(&url).await?;
        println!("VmRSS {:.1} MiB", rss as f64 / 1024.0);
        report.check(
            format!("idle RSS {:.1} MiB <= 50 MiB", rss as f64 / 1024.0),
            rss <= 50 * 1024,
        );
    }

    println!("\n== Summary");
    for line in &report.0 {
        println!("{line}");
    }
    Ok(())
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
