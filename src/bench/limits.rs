//! `inward bench --only limits`: each hot path over HTTP set against what PostgreSQL does for
//! the same work alone, measured in the same run on the same cores. The limit is `pgbench
//! -M prepared` running the exact statement the server runs (the search statement as
//! `search::repo` writes it, the bare hold `UPDATE`), and for the upload a COPY of the same
//! file into a table with no index, key or check. Each figure is the median of three runs,
//! at each `--clients`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;

use super::load::{self, Stats};
use super::{Bench, holds, search};
use crate::state::AppState;

/// Runs of each measurement; their median is reported.
const ROUNDS: usize = 3;

/// What one measurement gave.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figure {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Figure {
    fn of(stats: &Stats) -> Figure {
        Figure {
            per_second: stats.rps(),
            p50_ms: load::ms(stats.quantile(0.50)),
            p99_ms: load::ms(stats.quantile(0.99)),
        }
    }
}

/// The median of each quantity over the runs (each on its own).
pub fn median(runs: &[Figure]) -> Figure {
    let mid = |f: fn(&Figure) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Figure {
        per_second: mid(|f| f.per_second),
        p50_ms: mid(|f| f.p50_ms),
        p99_ms: mid(|f| f.p99_ms),
    }
}

/// One path at one concurrency: the raw limit, the server, and their ratio.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub path: &'static str,
    pub clients: usize,
    pub raw: Figure,
    pub http: Figure,
    /// HTTP requests per second over the raw statement's.
    pub ratio: f64,
    pub target: f64,
}

/// The paths and the ratio each must reach.
const SEARCH_NPA: (&str, &str, f64) = ("search_npa", "npa", 0.6);
const SEARCH_VANITY: (&str, &str, f64) = ("search_vanity", "vanity (local)", 0.7);
fn holds_target(clients: usize) -> f64 {
    if clients >= 64 { 0.8 } else { 0.5 }
}

/// The raw limits, measured before the server opens its connections (pgbench takes one per
/// client, and both together would pass PostgreSQL's default `max_connections`).
pub struct Raw(Vec<(&'static str, usize, Figure)>);

pub async fn raw(b: &Bench, state: &AppState, counts: &[usize]) -> anyhow::Result<Raw> {
    holds::end_earlier_runs(state).await?;
    let url = b.config.database.url.clone();
    let stock = holds::available(&b.pool, "OH", 200_000).await?;
    let scripts = [
        search_scripts(b, SEARCH_NPA.1).await?,
        search_scripts(b, SEARCH_VANITY.1).await?,
    ];
    let mut out = Vec::new();
    for &clients in counts {
        for ((path, _, _), scripts) in [SEARCH_NPA, SEARCH_VANITY].into_iter().zip(&scripts) {
            let mut runs = Vec::new();
            for _ in 0..ROUNDS {
                runs.push(pgbench(&url, scripts, &[], clients, b.duration)?);
            }
            out.push((path, clients, median(&runs)));
        }
        let mut runs = Vec::new();
        for _ in 0..ROUNDS {
            runs.push(holds::pgbench(&b.pool, &url, &stock, clients, b.duration).await?);
        }
        out.push(("holds", clients, median(&runs)));
    }
    Ok(Raw(out))
}

/// The statement of each query of a search kind as the server writes it for the bench's
/// tenant (every value written into the SQL, as the server's plan-keeping searches are).
async fn search_scripts(b: &Bench, kind: &str) -> anyhow::Result<Vec<String>> {
    let kind = b
        .kinds
        .iter()
        .find(|k| k.name == kind)
        .ok_or_else(|| anyhow::anyhow!("no search kind {kind}"))?;
    let profile = search::profile(&b.pool, b.tenant.0).await?;
    kind.queries
        .iter()
        .map(|q| {
            let criteria = search::criteria(q, b.config.search.limits())?;
            let sql = crate::search::repo::statement(&profile, &criteria, true);
            anyhow::ensure!(
                !sql.contains('$'),
                "{q}: the statement binds parameters, pgbench cannot run it as written"
            );
            Ok(format!("{sql};\n"))
        })
        .collect()
}

/// Runs pgbench with `scripts` (chosen at random, equally) and reads every transaction's
/// latency from its log.
pub fn pgbench(
    url: &str,
    scripts: &[String],
    defines: &[(&str, String)],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Figure> {
    let dir = std::env::temp_dir().join(format!(
        "inward-pgbench-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let result = run_pgbench(&dir, url, scripts, defines, clients, duration);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_pgbench(
    dir: &Path,
    url: &str,
    scripts: &[String],
    defines: &[(&str, String)],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Figure> {
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", "prepared", "-j", "2", "-l"])
        .arg(format!("--log-prefix={}", dir.join("tx").display()))
        .arg(format!("-c{clients}"))
        .arg(format!("-T{}", duration.as_secs().max(1)));
    for (name, value) in defines {
        command.arg(format!("-D{name}={value}"));
    }
    for (i, script) in scripts.iter().enumerate() {
        let file = dir.join(format!("script-{i}.sql"));
        std::fs::write(&file, script)?;
        command.arg("-f").arg(format!("{}@1", file.display()));
    }
    let output = command
        .arg(url)
        .current_dir(dir)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run pgbench: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let per_second = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {stdout}"))?;
    let mut micros = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("tx."))
        {
            micros.extend(latencies(&std::fs::read_to_string(&path)?));
        }
    }
    micros.sort_unstable();
    Ok(Figure {
        per_second,
        p50_ms: quantile(&micros, 0.50) / 1000.0,
        p99_ms: quantile(&micros, 0.99) / 1000.0,
    })
}

/// The latencies (µs) of a pgbench transaction log: `client tx latency script epoch µs`.
pub fn latencies(log: &str) -> impl Iterator<Item = u64> + '_ {
    log.lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
}

fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// The same paths over HTTP, each beside its raw limit.
pub async fn http(
    b: &Bench,
    http: &super::scenarios::Http,
    raw: &Raw,
    counts: &[usize],
) -> anyhow::Result<Vec<Pair>> {
    let (client, base) = (&http.client, &http.base);
    // Fresh stock for every hold: six states, none of pgbench's.
    let mut stock = Vec::new();
    for state in ["CA", "TX", "NY", "FL", "PA", "IL"] {
        stock.extend(holds::available(&b.pool, state, 100_000).await?);
    }
    let share = stock.len() / (ROUNDS * counts.len()).max(1);
    let mut chunks = stock.chunks(share.max(1));
    let mut pairs = Vec::new();
    for &clients in counts {
        for (path, kind, target) in [SEARCH_NPA, SEARCH_VANITY] {
            let kind = b.kinds.iter().find(|k| k.name == kind).expect("bench kind");
            search::run(client, base, &b.token, kind, clients, b.warmup).await;
            let mut runs = Vec::new();
            for _ in 0..ROUNDS {
                let stats = search::run(client, base, &b.token, kind, clients, b.duration).await;
                anyhow::ensure!(stats.errors == 0, "{path}: {} errors", stats.errors);
                runs.push(Figure::of(&stats));
            }
            pairs.push(pair(path, clients, raw, median(&runs), target));
        }
        let mut runs = Vec::new();
        for _ in 0..ROUNDS {
            let numbers = chunks.next().unwrap_or_default().to_vec();
            let stats =
                holds::api_throughput(client, base, &b.token, numbers, clients, b.duration).await;
            anyhow::ensure!(
                stats.errors == 0,
                "holds: {} errors (out of stock?)",
                stats.errors
            );
            runs.push(Figure::of(&stats));
        }
        pairs.push(pair(
            "holds",
            clients,
            raw,
            median(&runs),
            holds_target(clients),
        ));
    }
    Ok(pairs)
}

fn pair(path: &'static str, clients: usize, raw: &Raw, http: Figure, target: f64) -> Pair {
    let raw = raw
        .0
        .iter()
        .find(|(p, c, _)| *p == path && *c == clients)
        .map(|(_, _, f)| *f)
        .unwrap_or(Figure {
            per_second: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
        });
    Pair {
        path,
        clients,
        ratio: http.per_second / raw.per_second.max(1e-9),
        raw,
        http,
        target,
    }
}

/// The upload of `rows` generated rows beside COPY of the same file into a bare table.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub rows: usize,
    pub megabytes: f64,
    pub copy_seconds: f64,
    pub upload_seconds: f64,
    /// Bare COPY time over upload time.
    pub ratio: f64,
    pub target: f64,
}

pub async fn upload(pool: &PgPool, rows: usize) -> anyhow::Result<Upload> {
    let mut runs = Vec::new();
    for _ in 0..ROUNDS {
        runs.push(crate::inventory::bench::timed_upload(pool, rows).await?);
    }
    let mid = |f: fn(&crate::inventory::bench::TimedUpload) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (copy_seconds, upload_seconds) = (mid(|t| t.copy_seconds), mid(|t| t.total_seconds));
    Ok(Upload {
        rows,
        megabytes: runs[0].bytes as f64 / 1e6,
        copy_seconds,
        upload_seconds,
        ratio: copy_seconds / upload_seconds.max(1e-9),
        target: 1.0 / 3.0,
    })
}

/// The run's figures as one object: `ratios` maps each path to its lowest ratio over the
/// concurrencies measured.
pub fn json(
    machine: &str,
    numbers: i64,
    pairs: &[Pair],
    upload: Option<&Upload>,
) -> serde_json::Value {
    let mut ratios = serde_json::Map::new();
    for p in pairs {
        let lowest = ratios
            .get(p.path)
            .and_then(serde_json::Value::as_f64)
            .map_or(p.ratio, |r| r.min(p.ratio));
        ratios.insert(p.path.to_string(), serde_json::json!(lowest));
    }
    if let Some(u) = upload {
        ratios.insert("upload".into(), serde_json::json!(u.ratio));
    }
    serde_json::json!({
        "machine": machine,
        "numbers": numbers,
        "rounds": ROUNDS,
        "ratios": ratios,
        "paths": pairs,
        "upload": upload,
    })
}

/// The table, as text.
pub fn table(pairs: &[Pair], upload: Option<&Upload>) -> String {
    let mut out = format!(
        "{:<14} {:>7} {:>10} {:>8} {:>8} {:>10} {:>8} {:>8} {:>6} {:>7}\n",
        "path",
        "clients",
        "raw /s",
        "p50 ms",
        "p99 ms",
        "HTTP /s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "target"
    );
    for p in pairs {
        out.push_str(&format!(
            "{:<14} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>10.0} {:>8.2} {:>8.2} {:>6.2} {:>7}\n",
            p.path,
            p.clients,
            p.raw.per_second,
            p.raw.p50_ms,
            p.raw.p99_ms,
            p.http.per_second,
            p.http.p50_ms,
            p.http.p99_ms,
            p.ratio,
            format!(">= {:.1}", p.target)
        ));
    }
    if let Some(u) = upload {
        out.push_str(&format!(
            "upload         {} rows ({:.0} MB): COPY into a bare table {:.1}s, upload {:.1}s, ratio {:.2} (target >= 0.33, within 3x)\n",
            u.rows, u.megabytes, u.copy_seconds, u.upload_seconds, u.ratio
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_taken_quantity_by_quantity() {
        let f = |per_second, p50_ms, p99_ms| Figure {
            per_second,
            p50_ms,
            p99_ms,
        };
        let m = median(&[f(100.0, 3.0, 9.0), f(300.0, 1.0, 30.0), f(200.0, 2.0, 10.0)]);
        assert_eq!((m.per_second, m.p50_ms, m.p99_ms), (200.0, 2.0, 10.0));
    }

    #[test]
    fn a_pgbench_log_gives_each_transactions_latency() {
        let log = "0 1 1520 0 1733520000 123456\n1 1 980 1 1733520000 123999\n";
        assert_eq!(latencies(log).collect::<Vec<_>>(), [1520, 980]);
        assert_eq!(quantile(&[980, 1520], 0.5), 980.0);
        assert_eq!(quantile(&[980, 1520], 0.99), 1520.0);
    }

    #[test]
    fn the_ratios_keep_each_paths_lowest() {
        let f = Figure {
            per_second: 1.0,
            p50_ms: 1.0,
            p99_ms: 1.0,
        };
        let p = |clients, ratio| Pair {
            path: "holds",
            clients,
            raw: f,
            http: f,
            ratio,
            target: 0.5,
        };
        let j = json("m", 10, &[p(8, 0.4), p(64, 0.7)], None);
        assert_eq!(j["ratios"]["holds"], 0.4);
        assert!(j["ratios"]["upload"].is_null());
    }
}
