//! `inward bench --only machinery`: what each performance mechanism is worth. Each is
//! measured on its own benchmark with and without it (`tuning.*`), on the same data and
//! binary, in alternating runs (with, without, three times), by a server started afresh
//! for every run; the medians are compared. A mechanism that gains less than 10% on its
//! benchmark does not pay for the code it takes.

use sqlx::PgPool;

use super::say;
use super::scenarios::Http;
use super::server::Servers;
use super::{Bench, holds, load, pages, search};
use crate::config::TuningConfig;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Reservations per second of a sandbox tenant (the hold, the sandbox's reservation
    /// and its reference: every group-commit writer).
    Holds,
    /// Searches per second over four kinds (state, area code, vanity, toll-free).
    Search,
    /// List pages per second: a tenant's numbers page and the operator's inventory pages
    /// (first, cursor, prefix, tenant, status), half the run each.
    Lists,
}

struct Mechanism {
    name: &'static str,
    /// Its `[tuning]` key, by which `--mechanism` picks it.
    key: &'static str,
    measures: &'static [Measure],
    off: fn(&mut TuningConfig),
}

const MECHANISMS: [Mechanism; 6] = [
    Mechanism {
        name: "group commit",
        key: "group_commit",
        measures: &[Measure::Holds],
        off: |t| t.group_commit = false,
    },
    Mechanism {
        name: "one-statement hold",
        key: "one_statement_hold",
        measures: &[Measure::Holds],
        off: |t| t.one_statement_hold = false,
    },
    Mechanism {
        name: "search pools",
        key: "search_pools",
        measures: &[Measure::Search, Measure::Lists],
        off: |t| t.search_pools = false,
    },
    Mechanism {
        name: "deferred SEARCH audit",
        key: "deferred_search_audit",
        measures: &[Measure::Search],
        off: |t| t.deferred_search_audit = false,
    },
    Mechanism {
        name: "caller and adapter caches",
        key: "caches",
        measures: &[Measure::Holds, Measure::Search],
        off: |t| t.caches = false,
    },
    Mechanism {
        name: "codes written into the search SQL",
        key: "inline_codes",
        measures: &[Measure::Search],
        off: |t| t.inline_codes = false,
    },
];

const ROUNDS: usize = 3;
const SEARCH_KINDS: [&str; 4] = ["state", "npa", "vanity (local)", "toll-free"];

/// Runs each mechanism's comparison (those named by their keys in `only`, or all) on
/// `served` (the server's connections), printing its runs and a verdict per benchmark.
pub async fn run(b: &mut Bench, served: &PgPool, only: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = only
        .iter()
        .find(|k| !MECHANISMS.iter().any(|m| m.key == *k))
    {
        let keys: Vec<&str> = MECHANISMS.iter().map(|m| m.key).collect();
        anyhow::bail!(
            "unknown mechanism `{unknown}`: choose from {}",
            keys.join(", ")
        );
    }
    say!(
        "\n== Machinery: each mechanism with and without, {ROUNDS} alternating runs each, {} clients, {}s a run",
        b.clients,
        b.duration.as_secs()
    );
    let chosen = MECHANISMS
        .iter()
        .filter(|m| only.is_empty() || only.iter().any(|k| k == m.key));
    for mechanism in chosen {
        for &measure in mechanism.measures {
            let mut with = Vec::new();
            let mut without = Vec::new();
            for _ in 0..ROUNDS {
                with.push(one_run(b, served, measure, None).await?);
                // Without a mechanism a benchmark may fail outright (requests refused once
                // the pool's wait runs out): that run counts as nothing done.
                let run = one_run(b, served, measure, Some(mechanism.off)).await;
                without.push(run.unwrap_or_else(|err| {
                    say!("  {} off, {measure:?}: {err}", mechanism.name);
                    0.0
                }));
            }
            let (on, off) = (median(&with), median(&without));
            let gain = if off > 0.0 {
                format!("{:+.1}%", (on / off - 1.0) * 100.0)
            } else {
                "fails without it".to_string()
            };
            say!(
                "{:<34} {:<7} with {} (median {on:.0}/s), without {} (median {off:.0}/s): {gain}",
                mechanism.name,
                format!("{measure:?}"),
                runs(&with),
                runs(&without),
            );
            b.report.check(
                format!("{} pays on {measure:?}: {gain} >= +10%", mechanism.name),
                off == 0.0 || on / off >= 1.10,
            );
        }
    }
    Ok(())
}

/// One run: a server with the bench's configuration (less one mechanism, with `off`), its
/// benchmark, and the server stopped with the pools it opened.
async fn one_run(
    b: &Bench,
    served: &PgPool,
    measure: Measure,
    off: Option<fn(&mut TuningConfig)>,
) -> anyhow::Result<f64> {
    let mut config = b.config.clone();
    if let Some(off) = off {
        off(&mut config.tuning);
    }
    // A pool of the run's own: its connections live on the server's runtime, which ends
    // with the run, and a shared pool would keep them for the next run.
    let options = (*served.connect_options()).clone();
    let served =
        crate::state::pool_options(config.database.max_connections).connect_lazy_with(options);
    let state = AppState::new(served.clone(), config);
    if measure == Measure::Holds {
        holds::end_earlier_runs(&state).await?;
        super::data::tidy(&b.pool).await?;
    }
    let worker_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let servers = Servers::start(state.clone(), worker_threads)?;
    let http = Http {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(b.clients * 2)
            .build()?,
        base: format!("http://{}", servers.inward),
        bare: servers.bare,
    };
    let rate = match measure {
        Measure::Holds => {
            let stock = holds::available(&b.pool, "CA", 100_000).await?;
            let warm = stock.len() / 10;
            let (first, rest) = stock.split_at(warm);
            holds::api_throughput(
                &http.client,
                &http.base,
                &b.token,
                first.to_vec(),
                b.clients,
                b.warmup,
            )
            .await;
            let stats = holds::api_throughput(
                &http.client,
                &http.base,
                &b.token,
                rest.to_vec(),
                b.clients,
                b.duration,
            )
            .await;
            checked(stats)?
        }
        Measure::Search => searches(b, &http).await?,
        Measure::Lists => lists(b, &http).await?,
    };
    // The server's jobs stop with its runtime before its pools close under them.
    drop(servers);
    state.close_own_pools().await;
    served.close().await;
    Ok(rate)
}

/// Searches per second over the four kinds, each run for the run's duration.
async fn searches(b: &Bench, http: &Http) -> anyhow::Result<f64> {
    let (mut done, mut took) = (0.0, 0.0);
    for kind in b.kinds.iter().filter(|k| SEARCH_KINDS.contains(&k.name)) {
        let client = &http.client;
        search::run(client, &http.base, &b.token, kind, b.clients, b.warmup).await;
        let stats = search::run(client, &http.base, &b.token, kind, b.clients, b.duration).await;
        took += b.duration.as_secs_f64();
        done += checked(stats)? * b.duration.as_secs_f64();
    }
    Ok(done / took.max(1e-9))
}

/// List pages per second: the numbers page as Globex's agent, then the inventory pages as
/// the operator, over 10,000,000 numbers.
async fn lists(b: &Bench, http: &Http) -> anyhow::Result<f64> {
    let base = &http.base;
    let password = crate::seed::DEMO_PASSWORD;
    let agent = pages::login(base, "agent@globex.test", password).await?;
    let operator = pages::login(base, "operator@inward.test", password).await?;
    let inventory = pages::inventory_pages(base);
    let half = b.duration / 2;
    let (mut done, mut took) = (0.0, 0.0);
    for (urls, cookie) in [
        (vec![format!("{base}/numbers")], &agent),
        (inventory, &operator),
    ] {
        pages::run(
            &http.client,
            urls.clone(),
            Some(cookie),
            b.clients,
            b.warmup,
        )
        .await;
        let stats = pages::run(&http.client, urls, Some(cookie), b.clients, half).await;
        took += half.as_secs_f64();
        done += checked(stats)? * half.as_secs_f64();
    }
    Ok(done / took.max(1e-9))
}

/// The run's rate; a run with failed requests measures something else.
fn checked(stats: load::Stats) -> anyhow::Result<f64> {
    anyhow::ensure!(
        stats.errors == 0,
        "{} of the run's requests failed: its figure would not be comparable",
        stats.errors
    );
    Ok(stats.rps())
}

fn median(runs: &[f64]) -> f64 {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn runs(rates: &[f64]) -> String {
    rates
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_three_runs_is_the_middle_one() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[5.0]), 5.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn each_mechanism_switches_off_its_own_setting_and_no_other() {
        let on = crate::config::AppConfig::defaults().tuning;
        let flags = |t: &TuningConfig| {
            [
                t.search_pools,
                t.group_commit,
                t.one_statement_hold,
                t.deferred_search_audit,
                t.caches,
                t.inline_codes,
            ]
        };
        assert!(
            flags(&on).iter().all(|f| *f),
            "every mechanism is on by default"
        );
        let mut switched = Vec::new();
        for mechanism in &MECHANISMS {
            let mut t = on.clone();
            (mechanism.off)(&mut t);
            let off: Vec<usize> = (0..MECHANISMS.len()).filter(|&i| !flags(&t)[i]).collect();
            assert_eq!(off.len(), 1, "{} switches off one setting", mechanism.name);
            switched.push(off[0]);
        }
        switched.sort();
        switched.dedup();
        assert_eq!(
            switched.len(),
            MECHANISMS.len(),
            "each mechanism its own setting"
        );
    }
}
