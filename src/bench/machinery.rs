//! `inward bench --only machinery`: what each performance mechanism is worth. Each is
//! measured on its own benchmark with and without it (`tuning.*`), on the same data and
//! binary, in alternating runs (with, without, three times), by a server started afresh
//! for every run; the medians are compared. A mechanism that gains less than 10% on its
//! benchmark does not pay for the code it takes.

use sqlx::PgPool;

use super::scenarios::Http;
use super::server::Servers;
use super::{Bench, holds, load, search};
use crate::config::TuningConfig;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Reservations per second of a sandbox tenant (the hold, the sandbox's reservation
    /// and its reference: every group-commit writer).
    Holds,
    /// Searches per second over four kinds (state, area code, vanity, toll-free).
    Search,
}

struct Mechanism {
    name: &'static str,
    measures: &'static [Measure],
    off: fn(&mut TuningConfig),
}

const MECHANISMS: [Mechanism; 7] = [
    Mechanism {
        name: "group commit",
        measures: &[Measure::Holds],
        off: |t| t.group_commit = false,
    },
    Mechanism {
        name: "one-statement hold",
        measures: &[Measure::Holds],
        off: |t| t.one_statement_hold = false,
    },
    Mechanism {
        name: "generic plans",
        measures: &[Measure::Holds, Measure::Search],
        off: |t| t.generic_plans = false,
    },
    Mechanism {
        name: "search pools",
        measures: &[Measure::Search],
        off: |t| t.search_pools = false,
    },
    Mechanism {
        name: "deferred SEARCH audit",
        measures: &[Measure::Search],
        off: |t| t.deferred_search_audit = false,
    },
    Mechanism {
        name: "caller and adapter caches",
        measures: &[Measure::Holds, Measure::Search],
        off: |t| t.caches = false,
    },
    Mechanism {
        name: "codes written into the search SQL",
        measures: &[Measure::Search],
        off: |t| t.inline_codes = false,
    },
];

const ROUNDS: usize = 3;
const SEARCH_KINDS: [&str; 4] = ["state", "npa", "vanity (local)", "toll-free"];

/// Runs every mechanism's comparison on `served` (the server's connections), printing one
/// line per run and a verdict per mechanism and benchmark.
pub async fn run(b: &mut Bench, served: &PgPool) -> anyhow::Result<()> {
    println!(
        "\n== Machinery: each mechanism with and without, {ROUNDS} alternating runs each, {} clients, {}s a run",
        b.clients,
        b.duration.as_secs()
    );
    for mechanism in &MECHANISMS {
        for &measure in mechanism.measures {
            let mut with = Vec::new();
            let mut without = Vec::new();
            for _ in 0..ROUNDS {
                with.push(one_run(b, served, measure, None).await?);
                without.push(one_run(b, served, measure, Some(mechanism.off)).await?);
            }
            let (on, off) = (median(&with), median(&without));
            let gain = on / off.max(1e-9) - 1.0;
            println!(
                "{:<34} {:<7} with {} (median {on:.0}/s), without {} (median {off:.0}/s): {:+.1}%",
                mechanism.name,
                format!("{measure:?}"),
                runs(&with),
                runs(&without),
                gain * 100.0
            );
            b.report.check(
                format!(
                    "{} pays on {measure:?}: {:+.1}% >= +10%",
                    mechanism.name,
                    gain * 100.0
                ),
                gain >= 0.10,
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
    };
    drop(servers);
    state.close_own_pools().await;
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
                t.generic_plans,
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
            let off: Vec<usize> = (0..7).filter(|&i| !flags(&t)[i]).collect();
            assert_eq!(off.len(), 1, "{} switches off one setting", mechanism.name);
            switched.push(off[0]);
        }
        switched.sort();
        switched.dedup();
        assert_eq!(switched.len(), 7, "each mechanism its own setting");
    }
}
