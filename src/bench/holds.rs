//! Hold scenarios: reservation throughput over the JSON API, the same single-row hold
//! statement through `pgbench`, and 64 clients fighting over 100 numbers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Mutex;

use super::load::{self, Stats};
use super::say;
use crate::state::AppState;

/// Available local numbers of one state, for scenarios that take them out of stock.
pub async fn available(pool: &PgPool, state: &str, count: i64) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT e164 FROM numbers WHERE lifecycle = 'available' AND tenant_id IS NULL
         AND country = 'US' AND kind = 'local' AND state = $1::bpchar ORDER BY national LIMIT $2",
    )
    .bind(state)
    .bind(count)
    .fetch_all(pool)
    .await?)
}

/// What the holds scenario does before the server starts: ends earlier runs' holds, then
/// measures the bare hold statement under pgbench (its figure, or why it did not run).
pub async fn before_server(
    state: &AppState,
    pool: &PgPool,
    url: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<anyhow::Result<f64>> {
    let (ended, took) = end_earlier_runs(state).await?;
    if ended > 0 {
        say!(
            "\nholds left by earlier runs: {ended} expired by the sweeper's own code in {:.1}s",
            took.as_secs_f64()
        );
        super::data::tidy(pool).await?;
    }
    let stock = available(pool, "OH", 200_000).await?;
    Ok(pgbench(pool, url, &stock, clients, duration)
        .await
        .map(|f| f.per_second))
}

/// Ends the holds earlier runs left behind (they last 15 minutes, runs are minutes apart),
/// so that each run finds its states' stock available again: they are made due and expired
/// by the sweeper's own step, as the server would after their time.
pub async fn end_earlier_runs(state: &AppState) -> anyhow::Result<(u64, Duration)> {
    let started = std::time::Instant::now();
    sqlx::query(
        "UPDATE holds h SET expires_at = now() FROM reservations r, organizations o
         WHERE h.ended_at IS NULL AND h.expires_at > now() AND r.id = h.reservation_id
           AND o.id = r.tenant_id AND o.slug IN ('globex', 'initech')",
    )
    .execute(&state.pool)
    .await?;
    let mut ended = 0;
    loop {
        let expired = crate::reservations::holds::expire_due(state, 1_000).await?;
        if expired == 0 {
            return Ok((ended, started.elapsed()));
        }
        ended += expired as u64;
    }
}

/// The mean of each `group_commit_batch_size{writer}` histogram in a Prometheus text
/// rendering (its `_sum` over its `_count`).
pub fn batch_sizes(rendered: &str) -> Vec<(String, f64)> {
    let series = |suffix: &str| -> Vec<(String, f64)> {
        let prefix = format!("group_commit_batch_size_{suffix}{{writer=\"");
        rendered
            .lines()
            .filter_map(|line| line.strip_prefix(prefix.as_str()))
            .filter_map(|rest| {
                let (writer, value) = rest.split_once("\"} ")?;
                Some((writer.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    };
    let counts = series("count");
    series("sum")
        .into_iter()
        .filter_map(|(writer, sum)| {
            let (_, count) = counts.iter().find(|(w, _)| *w == writer)?;
            (*count > 0.0).then(|| (writer, sum / count))
        })
        .collect()
}

async fn post_reservation(
    client: &reqwest::Client,
    url: &str,
    auth: &str,
    numbers: &[&str],
) -> Option<(u16, Option<String>)> {
    let body = serde_json::json!({ "numbers": numbers });
    let response = client
        .post(url)
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let value: serde_json::Value = response.json().await.ok()?;
    let id = value["id"].as_str().map(str::to_string);
    Some((status, id))
}

/// One number per reservation, each client taking fresh numbers from a shared list.
pub async fn api_throughput(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    numbers: Vec<String>,
    clients: usize,
    duration: Duration,
) -> Stats {
    let numbers = Arc::new(numbers);
    let next = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(format!("{base}/api/v1/reservations"));
    let auth = Arc::new(format!("Bearer {token}"));
    let client = client.clone();
    load::run(clients, duration, move |_, _| {
        let (client, numbers, next, url, auth) = (
            client.clone(),
            numbers.clone(),
            next.clone(),
            url.clone(),
            auth.clone(),
        );
        async move {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(number) = numbers.get(i) else {
                return false;
            };
            matches!(
                post_reservation(&client, &url, &auth, &[number.as_str()]).await,
                Some((201, _))
            )
        }
    })
    .await
}

/// The hold as one SQL statement, run by `pgbench` with the same number of clients.
const PGBENCH_SCRIPT: &str = "\\set id random(1, :pool)
UPDATE numbers SET lifecycle = 'reserved', reservation_id = '00000000-0000-0000-0000-0000000000b1',
       state_changed_at = now()
 WHERE e164 = (SELECT e164 FROM bench_pgbench_pool WHERE id = :id) AND lifecycle = 'available';
";

/// Runs `pgbench` and returns its rate and latencies; puts the numbers back after.
pub async fn pgbench(
    pool: &PgPool,
    url: &str,
    numbers: &[String],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<super::limits::Figure> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_pgbench_pool (id int PRIMARY KEY, e164 text NOT NULL)",
    )
    .execute(pool)
    .await?;
    sqlx::query("TRUNCATE bench_pgbench_pool")
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO bench_pgbench_pool SELECT i::int, e164 FROM unnest($1::text[]) WITH ORDINALITY AS t(e164, i)",
    )
    .bind(numbers)
    .execute(pool)
    .await?;
    let figure = super::limits::pgbench(
        url,
        &[PGBENCH_SCRIPT.to_string()],
        &[("pool", numbers.len().to_string())],
        clients,
        duration,
    );
    sqlx::query(
        "UPDATE numbers SET lifecycle = 'available', reservation_id = NULL
         WHERE reservation_id = '00000000-0000-0000-0000-0000000000b1'",
    )
    .execute(pool)
    .await?;
    figure
}

pub struct Fight {
    pub attempts: usize,
    pub won: usize,
    pub conflicts: usize,
    pub other: usize,
    /// Numbers that ended up in two live holds, or in two winning reservations.
    pub double_held: i64,
    pub numbers_held: i64,
}

/// `clients` clients each try `rounds` reservations of two numbers out of `numbers`.
pub async fn fight(
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    numbers: Vec<String>,
    clients: usize,
    rounds: usize,
) -> anyhow::Result<Fight> {
    let numbers = Arc::new(numbers);
    let url = Arc::new(format!("{base}/api/v1/reservations"));
    let auth = Arc::new(format!("Bearer {token}"));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, numbers, url, auth, outcomes) = (
            client.clone(),
            numbers.clone(),
            url.clone(),
            auth.clone(),
            outcomes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for r in 0..rounds {
                let n = numbers.len();
                let a = &numbers[(c * 7 + r * 13) % n];
                let b = &numbers[(c * 11 + r * 17 + 1) % n];
                let result =
                    post_reservation(&client, &url, &auth, &[a.as_str(), b.as_str()]).await;
                outcomes.lock().await.push(result);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let outcomes = outcomes.lock().await;
    let mut fight = Fight {
        attempts: outcomes.len(),
        won: 0,
        conflicts: 0,
        other: 0,
        double_held: 0,
        numbers_held: 0,
    };
    let mut won = Vec::new();
    for outcome in outcomes.iter() {
        match outcome {
            Some((201, Some(id))) => {
                fight.won += 1;
                won.push(uuid::Uuid::parse_str(id)?);
            }
            Some((409, _)) => fight.conflicts += 1,
            _ => fight.other += 1,
        }
    }
    // Every number of every winning reservation, counted across those reservations.
    let (double, held): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE c > 1), count(*) FROM (
             SELECT e164, count(*) AS c FROM holds WHERE reservation_id = ANY($1) GROUP BY e164) t",
    )
    .bind(&won)
    .fetch_one(pool)
    .await?;
    let live_twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT e164 FROM holds WHERE e164 = ANY($1) AND ended_at IS NULL
         GROUP BY e164 HAVING count(*) > 1) t",
    )
    .bind(numbers.as_slice())
    .fetch_one(pool)
    .await?;
    fight.double_held = double + live_twice;
    fight.numbers_held = held;
    // Give the numbers back for the next run.
    for id in won {
        let _ = client
            .delete(format!("{base}/api/v1/reservations/{id}"))
            .header("authorization", auth.as_str())
            .send()
            .await;
    }
    Ok(fight)
}

/// A tenant connected to a contact-center platform (a Genesys Cloud simulator in this
/// process, over real HTTP) for the length of a scenario. None of the three real platforms
/// has native reservations, so its holds are Inward's alone, unlike the sandbox's.
pub struct PlatformTenant {
    client: reqwest::Client,
    base: String,
    admin: String,
    connection: String,
}

impl PlatformTenant {
    /// Connects the tenant of `admin_token` through the API and tests the connection.
    pub async fn connect(
        client: &reqwest::Client,
        base: &str,
        admin_token: &str,
    ) -> anyhow::Result<PlatformTenant> {
        use crate::providers::simulator::{self, FaultConfig, Platform, genesys};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let simulator = format!("http://{}", listener.local_addr()?);
        tokio::spawn(simulator::serve(
            Platform::Genesys,
            listener,
            // No faults; tokens live an hour, as the platform's do (the default is 0).
            FaultConfig {
                token_ttl_seconds: 3600,
                ..FaultConfig::default()
            },
        ));
        let admin = format!("Bearer {admin_token}");
        let created: serde_json::Value = client
            .post(format!("{base}/api/v1/connections"))
            .header("authorization", &admin)
            .json(&serde_json::json!({
                "kind": "genesys",
                "base_url": simulator,
                "credentials": { "client_id": genesys::CLIENT_ID, "client_secret": genesys::CLIENT_SECRET },
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let connection = created["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no connection id in {created}"))?
            .to_string();
        let tenant = PlatformTenant {
            client: client.clone(),
            base: base.to_string(),
            admin,
            connection,
        };
        let tested: serde_json::Value = client
            .post(format!(
                "{base}/api/v1/connections/{}/test",
                tenant.connection
            ))
            .header("authorization", &tenant.admin)
            .json(&serde_json::json!({}))
            .send()
            .await?
            .json()
            .await?;
        if tested["ok"] != serde_json::Value::Bool(true) {
            tenant.disconnect().await;
            anyhow::bail!("the simulator connection failed its test: {tested}");
        }
        Ok(tenant)
    }

    /// Puts the tenant back on the sandbox, as the demo has it.
    pub async fn disconnect(self) {
        let removed = self
            .client
            .delete(format!(
                "{}/api/v1/connections/{}",
                self.base, self.connection
            ))
            .header("authorization", &self.admin)
            .send()
            .await;
        if let Err(err) = removed.and_then(|r| r.error_for_status()) {
            eprintln!("could not remove the bench's platform connection: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn batch_sizes_are_each_writers_sum_over_count() {
        let rendered = "# TYPE group_commit_batch_size histogram
group_commit_batch_size_bucket{writer=\"holds\",le=\"1\"} 3
group_commit_batch_size_sum{writer=\"holds\"} 30
group_commit_batch_size_count{writer=\"holds\"} 4
group_commit_batch_size_sum{writer=\"hold_references\"} 5
group_commit_batch_size_count{writer=\"hold_references\"} 5
holds_created_total 12
";
        assert_eq!(
            super::batch_sizes(rendered),
            [
                ("holds".to_string(), 7.5),
                ("hold_references".to_string(), 1.0)
            ]
        );
        assert!(super::batch_sizes("holds_created_total 1").is_empty());
    }
}
