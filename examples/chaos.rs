//! Chaos run (`scripts/chaos`): provisionings and releases across three `inward serve`
//! processes on one database while the sandbox platform fails, loses answers, an instance
//! is paused past the saga lease and instances are killed with SIGKILL; then, once
//! recovery has run, it prints what went wrong. Every count but the first three must be 0.
//!
//!   DATABASE_URL=postgres://…/chaos_x cargo run --example chaos -- [OPERATIONS] [KILLS]
//!
//! The run prepares and checks the database as DATABASE_URL's role; the servers connect as
//! INWARD_CHAOS_SERVER_URL (the runtime role, which `scripts/chaos` sets up), or as the same
//! role with `--allow-owner` when it is not set.
//!
//! The database's name must start with `chaos`: the run seeds demo users and injects
//! faults into the sandbox.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use sqlx::PgPool;

const LEASE_SECONDS: u64 = 3;
const INSTANCES: usize = 3;
const CLIENTS: usize = 6;
const FAULT_SHARE: f64 = 0.2;

/// A release a client was told is pending: recovery must record it, after the
/// provisioning entry `after`.
struct PendingRelease {
    number: String,
    after: i64,
}

struct Instances {
    url: String,
    children: Mutex<Vec<Child>>,
    bases: Mutex<Vec<String>>,
}

impl Instances {
    fn start_one(url: &str) -> (Child, String) {
        let bin = std::env::var("INWARD_BIN").unwrap_or_else(|_| "target/debug/inward".into());
        let (url, extra) = match std::env::var("INWARD_CHAOS_SERVER_URL") {
            Ok(server) => (server, None),
            Err(_) => (url.to_string(), Some("--allow-owner")),
        };
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("DATABASE_URL", url)
            // A key made for this run: the chaos run stores no credentials.
            .env("INWARD_SECRETS__KEY", "5a".repeat(32))
            .env("INWARD_SAGAS__LEASE_SECONDS", LEASE_SECONDS.to_string())
            .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", "1")
            .env("INWARD_DATABASE__MAX_CONNECTIONS", "8")
            .env("INWARD_DATABASE__SEARCH_CONNECTIONS", "2")
            // Six clients share one agent's token as fast as the instances answer; the run
            // is about recovery, and the API's limits have tests of their own.
            .env("INWARD_RATE_LIMITS__TENANT_USER_PER_MINUTE", "0")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start inward serve (build it first: cargo build)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        (child, base)
    }

    fn start(url: &str) -> Instances {
        let (mut children, mut bases) = (Vec::new(), Vec::new());
        for _ in 0..INSTANCES {
            let (child, base) = Instances::start_one(url);
            children.push(child);
            bases.push(base);
        }
        Instances {
            url: url.to_string(),
            children: Mutex::new(children),
            bases: Mutex::new(bases),
        }
    }

    fn base(&self, i: usize) -> String {
        self.bases.lock().unwrap()[i % INSTANCES].clone()
    }

    fn kill_and_restart(&self, i: usize) {
        let mut children = self.children.lock().unwrap();
        let _ = children[i].kill();
        let _ = children[i].wait();
        let (child, base) = Instances::start_one(&self.url);
        children[i] = child;
        self.bases.lock().unwrap()[i] = base;
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.children.lock().unwrap()[i].id().to_string();
        let _ = Command::new("kill").args([signal, &pid]).status();
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for child in self.children.lock().unwrap().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Run {
    instances: Instances,
    http: reqwest::Client,
    token: String,
    operations: AtomicUsize,
    target: usize,
    /// Answers that contradicted Inward's own record, checked as they came.
    lies: Mutex<Vec<String>>,
    provisioned: AtomicUsize,
    pending_releases: Mutex<Vec<PendingRelease>>,
    pool: PgPool,
    injected: AtomicUsize,
}

impl Run {
    /// Arms one sandbox fault for the next call of `operation` on FAULT_SHARE of the
    /// platform calls; whichever client's call comes next meets it.
    async fn maybe_fault(&self, operations: &[&str]) {
        let (hit, operation) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_bool(FAULT_SHARE),
                operations[rng.gen_range(0..operations.len())],
            )
        };
        if hit
            && inward::providers::sandbox::Sandbox::inject_fault(&self.pool, operation, 1, "chaos")
                .await
                .is_ok()
        {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Sends a request to one instance, then the others while they do not answer (killed
    /// or restarting); the same Idempotency-Key goes with every try.
    async fn send(
        &self,
        start: usize,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> Option<(u16, Value)> {
        for attempt in 0..12 {
            let base = self.instances.base(start + attempt);
            let mut request = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(&self.token)
                .timeout(Duration::from_secs(30))
                .json(&body);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.json().await.unwrap_or(Value::Null);
                    if status == 409 && body["error"]["code"] == "request_in_progress" {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    return Some((status, body));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
        None
    }

    async fn client(self: Arc<Self>, id: usize) {
        let mut round = 0;
        while self.operations.fetch_add(1, Ordering::SeqCst) < self.target {
            round += 1;
            let start = id + round;
            let Some((200, found)) = self
                .send(
                    start,
                    reqwest::Method::GET,
                    "/api/v1/numbers/available?state=TX&npa=512&limit=40",
                    None,
                    Value::Null,
                )
                .await
            else {
                continue;
            };
            let numbers: Vec<String> = found["numbers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| n["premium"].is_null())
                .filter_map(|n| n["e164"].as_str().map(str::to_string))
                .collect();
            if numbers.is_empty() {
                continue;
            }
            let number = numbers[rand::thread_rng().gen_range(0..numbers.len())].clone();
            let Some((201, reservation)) = self
                .send(
                    start,
                    reqwest::Method::POST,
                    "/api/v1/reservations",
                    None,
                    json!({ "numbers": [number] }),
                )
                .await
            else {
                continue;
            };
            let reservation = reservation["id"].as_str().unwrap_or_default().to_string();
            let key = format!("chaos-{reservation}");
            let body = json!({ "assignments": [{ "number": number, "target": { "type": "queue", "name": "Sales" } }] });
            // A failed assignment, or one made whose answer is lost.
            self.maybe_fault(&["assign", "assign_answer"]).await;
            let provisioned = self
                .send(
                    start,
                    reqwest::Method::POST,
                    &format!("/api/v1/reservations/{reservation}/provision"),
                    Some(&key),
                    body,
                )
                .await;
            if !matches!(&provisioned, Some((200, answer)) if answer["results"][0]["ok"] == true) {
                continue;
            }
            // Told "active": while this client holds the number nobody else can change it,
            // so Inward must show it routed now.
            self.provisioned.fetch_add(1, Ordering::SeqCst);
            let (shown, entry): (String, Option<i64>) = sqlx::query_as(
                "SELECT lifecycle, (SELECT max(id) FROM audit_log WHERE phone_number = $1
                                     AND action = 'PROVISION' AND status = 'SUCCESS')
                 FROM numbers WHERE e164 = $1",
            )
            .bind(&number)
            .fetch_one(&self.pool)
            .await
            .expect("read the number");
            if !matches!(shown.as_str(), "active" | "pending") {
                self.lies
                    .lock()
                    .unwrap()
                    .push(format!("{number}: told active, Inward shows {shown}"));
                continue;
            }
            let after = entry.unwrap_or(0);
            self.maybe_fault(&["unassign"]).await;
            let released = self
                .send(
                    start + 1,
                    reqwest::Method::POST,
                    &format!("/api/v1/numbers/{number}/release"),
                    None,
                    json!({}),
                )
                .await;
            // No answer, or one about a retry after a lost answer: the client cannot know,
            // and the consistency check judges the number.
            let told_released = matches!(released, Some((200, _)));
            if told_released && released_since(&self.pool, &number, after).await == 0 {
                self.lies
                    .lock()
                    .unwrap()
                    .push(format!("{number}: told released, no release recorded"));
            }
            if let Some((409, answer)) = &released
                && answer["error"]["code"] == "release_pending"
            {
                self.pending_releases
                    .lock()
                    .unwrap()
                    .push(PendingRelease { number, after });
            }
        }
    }
}

/// Release entries recorded for the number after the audit entry `after`.
async fn released_since(pool: &PgPool, number: &str, after: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE phone_number = $1 AND action = 'RELEASE'
         AND status = 'SUCCESS' AND id > $2",
    )
    .bind(number)
    .bind(after)
    .fetch_one(pool)
    .await
    .unwrap_or(0)
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let target: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let kills: usize = args.next().map_or(Ok(10), |a| a.parse())?;
    let url = std::env::var("DATABASE_URL")?;
    let name = url.rsplit('/').next().unwrap_or_default();
    anyhow::ensure!(
        name.starts_with("chaos"),
        "the database's name must start with `chaos` (this is `{name}`)"
    );

    let pool = PgPool::connect(&url).await?;
    inward::database::migrate(&pool).await?;
    inward::seed::demo(&pool, 4, Some(&["512"])).await?;
    let token = inward::admin::create_token(&pool, "agent@globex.test").await?;
    let run = Arc::new(Run {
        instances: Instances::start(&url),
        http: reqwest::Client::new(),
        token,
        operations: AtomicUsize::new(0),
        target,
        lies: Mutex::default(),
        provisioned: AtomicUsize::new(0),
        pending_releases: Mutex::default(),
        pool: pool.clone(),
        injected: AtomicUsize::new(0),
    });
    println!(
        "chaos: {target} operations, {CLIENTS} clients, {INSTANCES} instances, {kills} kills, \
         {:.0}% of platform writes faulted",
        FAULT_SHARE * 100.0
    );

    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(run.clone().client(i)))
        .collect();
    let chaos = tokio::spawn({
        let run = run.clone();
        async move {
            let mut done = 0;
            let mut stalled = false;
            while run.operations.load(Ordering::SeqCst) < run.target {
                let progress =
                    run.operations.load(Ordering::SeqCst) * (kills + 1) / run.target.max(1);
                if progress > done && done < kills {
                    done += 1;
                    let victim = rand::thread_rng().gen_range(0..INSTANCES);
                    run.instances.kill_and_restart(victim);
                }
                if !stalled && run.operations.load(Ordering::SeqCst) > run.target / 2 {
                    stalled = true;
                    run.instances.signal(0, "-STOP");
                    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS + 2)).await;
                    run.instances.signal(0, "-CONT");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done
        }
    });
    for client in clients {
        client.await?;
    }
    let killed = chaos.await?;
    let injected = run.injected.load(Ordering::SeqCst);
    sqlx::query("DELETE FROM sandbox_faults")
        .execute(&pool)
        .await?;

    // Recovery: leases run out, the instances' sweeps (every second) finish what is open.
    let mut open = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        open = count(
            &pool,
            "SELECT (SELECT count(*) FROM provisioning_attempts WHERE step IN ('started', 'target_ready', 'assigned'))
                  + (SELECT count(*) FROM release_attempts WHERE step = 'started')",
        )
        .await;
        if open == 0 {
            break;
        }
    }

    let state = inward::state::AppState::new(pool.clone(), inward::config::AppConfig::defaults());
    let tenant: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'globex'")
            .fetch_one(&pool)
            .await?;
    let inward::drift::Comparison {
        drift: differences,
        compared: checked,
        ..
    } = inward::drift::compare_tenant(&state, inward::domain::TenantId(tenant))
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    for d in &differences {
        println!(
            "  difference: {} {} Inward: {} platform: {}",
            d.number,
            d.class.as_str(),
            d.inward,
            d.platform
        );
    }
    let mut lies = run.lies.lock().unwrap().clone();
    let pending: Vec<PendingRelease> = std::mem::take(&mut *run.pending_releases.lock().unwrap());
    for release in &pending {
        if released_since(&pool, &release.number, release.after).await == 0 {
            lies.push(format!(
                "{}: told the release would be finished; it was not",
                release.number
            ));
        }
    }
    for lie in &lies {
        println!("  {lie}");
    }
    // A key whose request died is taken over by a retry once its claim (30 s) has lapsed;
    // after that, a key still claimed with no request running is stuck.
    let unanswered = count(
        &pool,
        "SELECT count(*) FROM idempotency_keys WHERE response_status IS NULL",
    )
    .await;
    if unanswered > 0 {
        tokio::time::sleep(Duration::from_secs(31)).await;
    }
    let stuck_keys = count(&pool, "SELECT count(*) FROM idempotency_keys WHERE response_status IS NULL AND locked_until > now()").await;
    let double_holds = count(&pool, "SELECT count(*) FROM (SELECT e164 FROM holds WHERE ended_at IS NULL GROUP BY e164 HAVING count(*) > 1) d").await;
    let provisioned = run.provisioned.load(Ordering::SeqCst);

    println!("operations                        {target}");
    println!("numbers provisioned (told so)     {provisioned}");
    println!(
        "faults injected                   {injected} (+ {killed} SIGKILLs, 1 pause past the lease)"
    );
    println!("sagas still open after recovery   {open}");
    println!(
        "differences Inward vs platform    {} (of {checked} numbers checked)",
        differences.len()
    );
    println!("told success, Inward disagrees    {}", lies.len());
    println!(
        "releases left to recovery         {} (all recorded: see above)",
        pending.len()
    );
    println!(
        "stuck idempotency keys            {stuck_keys} ({unanswered} unanswered, whose claim lapsed)"
    );
    println!("numbers held twice                {double_holds}");
    let bad = open + differences.len() as i64 + lies.len() as i64 + stuck_keys + double_holds;
    anyhow::ensure!(bad == 0, "{bad} thing(s) went wrong");
    Ok(())
}
