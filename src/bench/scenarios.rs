//! The scenarios of `inward bench`, each given the run's setup (`Bench`) and, for those
//! that speak HTTP, the in-process server (`Http`).

use std::time::Duration;

use super::say;
use super::{Bench, holds, load, pages, rss, search};

/// The server under test: its address and the client that loads it.
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
    /// A bare axum handler beside it, the yardstick of the pages.
    pub bare: std::net::SocketAddr,
}

/// Prints the plan of the first query of each search kind; checks each uses an index.
pub async fn explain(b: &mut Bench) -> anyhow::Result<()> {
    say!("\n== EXPLAIN (the first query of each search kind)");
    for kind in b.kinds.iter() {
        let plans = search::explain(
            &b.pool,
            &b.search_pool,
            b.config.search.limits(),
            b.tenant.0,
            &kind.queries[0],
        )
        .await?;
        let summary = search::plan_summary(&plans.explain);
        say!("{:<20} {:<40} {summary}", kind.name, kind.queries[0]);
        let mut uses_index = summary != "SEQ SCAN" && !summary.is_empty();
        if let Some(generic) = &plans.generic {
            say!(
                "{:<20} {:<40} {generic}",
                "",
                "  generic plan, as the API runs it:"
            );
            uses_index &= generic != "SEQ SCAN" && !generic.is_empty();
        }
        b.report.check(
            format!(
                "{} search uses an index ({})",
                kind.name,
                plans.generic.as_deref().unwrap_or(&summary)
            ),
            uses_index,
        );
    }
    Ok(())
}

/// Each search kind over HTTP beside the same statement run alone.
pub async fn searches(b: &mut Bench, http: &Http) -> anyhow::Result<()> {
    let (client, base) = (&http.client, &http.base);
    say!("\n== Search over HTTP (JSON API), {} clients", b.clients);
    for kind in b.kinds.iter() {
        search::run(client, base, &b.token, kind, b.clients, b.warmup).await;
        let stats = search::run(client, base, &b.token, kind, b.clients, b.duration).await;
        say!("{}", stats.line(kind.name));
        let alone = search::database_alone(
            &b.pool,
            &b.search_pool,
            b.config.search.limits(),
            b.tenant.0,
            kind,
            b.clients,
            b.duration,
        )
        .await?;
        say!("{}", alone.line("  the statement alone, no HTTP"));
        // A closed loop of N clients at X requests per second waits N / X on average
        // (Little's law), however fast each request is served alone.
        say!(
            "{:<34} {} clients / {:.0} per second = {:.1} ms mean at best",
            "  queueing floor",
            b.clients,
            alone.rps(),
            1000.0 * b.clients as f64 / alone.rps().max(1e-9)
        );
        b.report.check(
            format!(
                "search {}: p99 {:.1} ms <= 15 ms",
                kind.name,
                load::ms(stats.quantile(0.99))
            ),
            stats.errors == 0 && stats.quantile(0.99) <= Duration::from_millis(15),
        );
    }
    Ok(())
}

/// Holds over HTTP, on a platform tenant and a sandbox tenant, against pgbench's rate for
/// the bare hold statement (measured before the server started).
pub async fn holds(b: &mut Bench, http: &Http, pgbench: anyhow::Result<f64>) -> anyhow::Result<()> {
    let (client, base) = (&http.client, &http.base);
    say!("\n== Holds: POST /api/v1/reservations (one number each) vs pgbench (run first)");
    let tps = match pgbench {
        Ok(tps) => {
            say!(
                "{:<34} {tps:>8.0} tx/s   (single-row UPDATE … WHERE lifecycle = 'available')",
                "pgbench hold statement"
            );
            Some(tps)
        }
        Err(err) => {
            say!("pgbench: {err}");
            b.report
                .check(format!("holds: pgbench did not run ({err})"), false);
            None
        }
    };
    // Tenants on the real platforms (none has native reservations): Inward's hold only.
    let admin = crate::admin::create_token(&b.pool, "admin@initech.test").await?;
    let agent = crate::admin::create_token(&b.pool, "agent@initech.test").await?;
    let stock = holds::available(&b.pool, "NV", 100_000).await?;
    // Each request takes a fresh number: without stock the figures would be nonsense.
    anyhow::ensure!(
        stock.len() >= 10_000,
        "only {} available numbers in NV for the platform tenant's holds; the scenario needs the default inventory (--numbers 10000000)",
        stock.len()
    );
    let platform = holds::PlatformTenant::connect(client, base, &admin).await?;
    let on_platform =
        holds::api_throughput(client, base, &agent, stock, b.clients, b.duration).await;
    platform.disconnect().await;
    // Sandbox tenants: the hold, then the sandbox's own reservation of each number and
    // its reference on the hold (two more statements).
    let stock = holds::available(&b.pool, "CA", 100_000).await?;
    let on_sandbox =
        holds::api_throughput(client, base, &b.token, stock, b.clients, b.duration).await;
    for (name, api) in [
        ("reserve, tenant on Genesys Cloud", &on_platform),
        ("reserve, tenant on the sandbox", &on_sandbox),
    ] {
        say!("{}", api.line(name));
        if let Some(tps) = tps {
            let ratio = api.rps() / tps;
            say!("{:<34} API / pgbench = {ratio:.2}", "");
            b.report.check(
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
        say!(
            "{:<34} {mean:.1} requests per statement on average",
            format!("  group commit `{writer}`")
        );
    }
    Ok(())
}

/// Many clients fighting over a few numbers: none may end up held twice.
pub async fn fight(b: &mut Bench, http: &Http) -> anyhow::Result<()> {
    let (client, base) = (&http.client, &http.base);
    say!(
        "\n== {} clients fighting over 100 numbers (two per reservation)",
        b.clients
    );
    let contested = holds::available(&b.pool, "WY", 100).await?;
    let fight = holds::fight(&b.pool, client, base, &b.token, contested, b.clients, 10).await?;
    say!(
        "{} attempts: {} reserved, {} refused with 409, {} other; {} numbers held, {} held twice",
        fight.attempts,
        fight.won,
        fight.conflicts,
        fight.other,
        fight.numbers_held,
        fight.double_held
    );
    b.report.check(
        format!("fight: {} numbers held twice", fight.double_held),
        fight.double_held == 0 && fight.other == 0,
    );
    Ok(())
}

/// Logged-in pages against a bare axum handler.
pub async fn pages(b: &mut Bench, http: &Http, routed: i64) -> anyhow::Result<()> {
    let (client, base) = (&http.client, &http.base);
    say!("\n== Pages (logged-in browser session) vs a bare axum handler");
    let agent = pages::login(base, "agent@globex.test", crate::seed::DEMO_PASSWORD).await?;
    // The operator's inventory holds the generated 10,000,000 numbers.
    let operator = pages::login(base, "operator@inward.test", crate::seed::DEMO_PASSWORD).await?;
    let bare_url = vec![format!("http://{}/", http.bare)];
    pages::run(client, bare_url.clone(), None, b.clients, b.warmup).await;
    let bare = pages::run(client, bare_url, None, b.clients, b.duration).await;
    say!("{}", bare.line("bare axum handler"));
    let search_pages: Vec<String> = ["TX", "CA", "NY", "FL"]
        .iter()
        .map(|s| format!("{base}/search?kind=local&state={s}"))
        .collect();
    say!("(the numbers page: Globex's first 100 of {routed} active numbers)");
    let numbers_page = vec![format!("{base}/numbers")];
    let inventory_pages = pages::inventory_pages(base);
    for (name, urls, cookie) in [
        ("search results page", search_pages, &agent),
        ("numbers page", numbers_page, &agent),
        ("inventory page", inventory_pages, &operator),
    ] {
        pages::run(client, urls.clone(), Some(cookie), b.clients, b.warmup).await;
        let stats = pages::run(client, urls, Some(cookie), b.clients, b.duration).await;
        say!("{}", stats.line(name));
        let ratio = stats.rps() / bare.rps();
        say!("{name} / bare = {:.1}%", ratio * 100.0);
        b.report.check(
            format!(
                "{name}: {:.1}% of bare rps >= 30%, p99 {:.1} ms <= 25 ms",
                ratio * 100.0,
                load::ms(stats.quantile(0.99))
            ),
            stats.errors == 0 && ratio >= 0.3 && stats.quantile(0.99) <= Duration::from_millis(25),
        );
    }
    Ok(())
}

/// The resident memory of an idle `inward serve`.
pub async fn memory(b: &mut Bench) -> anyhow::Result<()> {
    say!("\n== Idle memory of `inward serve`");
    let rss = rss::idle_serve_rss_kib(&b.config.database.url).await?;
    say!("VmRSS {:.1} MiB", rss as f64 / 1024.0);
    b.report.check(
        format!("idle RSS {:.1} MiB <= 50 MiB", rss as f64 / 1024.0),
        rss <= 50 * 1024,
    );
    Ok(())
}
