//! Three `inward serve` processes on one database behave as one: concurrent reservations
//! spread over them never hold a number twice, each expired hold is expired (and audited)
//! exactly once although three sweepers run, each pending number is activated once, and
//! a session made on one instance is valid on the others.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::PASSWORD;

/// The server processes; killed when the test ends, whether it passed or not.
pub(crate) struct Instances {
    children: Vec<Child>,
    pub(crate) bases: Vec<String>,
}

impl Drop for Instances {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn start(url: &str, count: usize) -> Instances {
    let mut instances = Instances {
        children: Vec::new(),
        bases: Vec::new(),
    };
    for _ in 0..count {
        // Port 0: each process gets its own free port and prints it.
        let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
            .env("DATABASE_URL", url)
            .env("INWARD_HOLDS__TTL_SECONDS", "1")
            .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", "1")
            .env("INWARD_SANDBOX__ACTIVATION_DELAY_SECONDS", "1")
            .env("INWARD_DATABASE__MAX_CONNECTIONS", "5")
            // Many clients share a user's token here as fast as the instances answer; the
            // API's limits have a test of their own (`api_limits`).
            .env("INWARD_RATE_LIMITS__TENANT_USER_PER_MINUTE", "0")
            .env("INWARD_RATE_LIMITS__TENANT_ADMIN_PER_MINUTE", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start inward serve");
        let stdout = child.stdout.take().unwrap();
        instances.children.push(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|b| b.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected output from inward serve: {line:?}"))
            .to_string();
        instances.bases.push(base);
    }
    let ports: std::collections::HashSet<&String> = instances.bases.iter().collect();
    assert_eq!(ports.len(), count, "each instance listens on its own port");
    instances
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn available(pool: &PgPool, npa: &str, n: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e164 FROM numbers WHERE npa = $1 AND lifecycle = 'available' ORDER BY e164 LIMIT $2",
    )
    .bind(npa)
    .bind(n)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn wait_for(pool: &PgPool, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done: bool = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sum of one counter over every instance's /metrics.
async fn counter_sum(http: &reqwest::Client, bases: &[String], name: &str) -> f64 {
    let mut sum = 0.0;
    for base in bases {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        sum += text
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    sum
}

/// Migrates the test database with `inward migrate`, seeds the demo in `npas` and returns an
/// API token of agent@globex.test: ready for `inward serve` processes.
pub(crate) async fn migrated_demo(pool: &PgPool, url: &str, npas: &[&str]) -> String {
    let migrated = Command::new(env!("CARGO_BIN_EXE_inward"))
        .arg("migrate")
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    inward::seed::demo(pool, 4, Some(npas)).await.unwrap();
    inward::admin::create_token(pool, "agent@globex.test")
        .await
        .unwrap()
}

#[test]
fn three_instances_share_holds_job_claims_and_sessions() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let token = migrated_demo(&pool, &url, &["512", "907"]).await;
        let instances = start(&url, 3);
        let bases = instances.bases.clone();
        let http = reqwest::Client::new();

        // 1. 60 concurrent reservations of overlapping pairs out of 6 numbers, round-robin
        //    over the three instances.
        let contested = available(&pool, "512", 6).await;
        let mut tasks = Vec::new();
        for i in 0..60 {
            let url = format!("{}/api/v1/reservations", bases[i % 3]);
            let pair = json!([contested[i % 6], contested[(i * 5 + 1) % 6]]);
            let (http, token) = (http.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                post(&http, &url, &token, json!({ "numbers": pair })).await
            }));
        }
        let mut created = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(created >= 1, "some reservation won");
        // Never two live holds on one number: whenever a number was held again (the TTL is one
        // second, so it may be won again after an expiry), its earlier hold had ended.
        let overlapping: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM holds a JOIN holds b ON a.e164 = b.e164 AND a.id < b.id
         WHERE a.e164 = ANY($1) AND a.ended_at IS NULL",
        )
        .bind(&contested)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(overlapping, 0, "a number was held twice at once");
        let winners_per_number: Vec<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM holds WHERE e164 = ANY($1) AND ended_at IS NULL GROUP BY e164",
        )
        .bind(&contested)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(winners_per_number.iter().all(|&n| n == 1));

        // 2. 20 more holds, one number each, then nobody touches them: the three sweepers
        //    (every second each) race to expire them, and each is expired exactly once.
        let quiet = available(&pool, "512", 26).await;
        let quiet: Vec<String> = quiet
            .into_iter()
            .filter(|n| !contested.contains(n))
            .take(20)
            .collect();
        for (i, number) in quiet.iter().enumerate() {
            let url = format!("{}/api/v1/reservations", bases[i % 3]);
            let (status, body) = post(&http, &url, &token, json!({ "numbers": [number] })).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        wait_for(
            &pool,
            "SELECT count(*) = 0 FROM holds WHERE ended_at IS NULL",
            "every hold to expire",
        )
        .await;
        let per_hold: Vec<(String, i64)> = sqlx::query_as(
            "SELECT h.e164, (SELECT count(*) FROM audit_log a WHERE a.action = 'EXPIRE'
                           AND a.phone_number = h.e164
                           AND a.details->>'reservation_id' = h.reservation_id::text)
         FROM holds h WHERE h.end_reason = 'expired'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(per_hold.len() >= 20, "the quiet holds expired");
        for number in &quiet {
            assert!(
                per_hold.iter().any(|(n, _)| n == number),
                "{number} expired"
            );
        }
        for (number, audits) in &per_hold {
            assert_eq!(
                *audits, 1,
                "{number}: EXPIRE audited {audits} times for one hold"
            );
        }
        let expire_rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'EXPIRE'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(expire_rows as usize, per_hold.len());
        // The instances' own counters agree: together they expired each hold once.
        let counted = counter_sum(&http, &bases, "holds_expired_total").await;
        assert_eq!(counted as usize, per_hold.len());
        let sweeps = counter_sum(
            &http,
            &bases,
            "job_runs_total{job=\"expire_holds\",outcome=\"ok\"}",
        )
        .await;
        assert!(
            sweeps >= 3.0,
            "every instance runs the sweeper ({sweeps} runs)"
        );

        // 3. A number in a slow-activation state (AK) goes `pending`; the status-sync job on
        //    three instances activates it once.
        let slow = available(&pool, "907", 1).await.remove(0);
        let mut provisioned = false;
        for _ in 0..5 {
            let (status, body) = post(
                &http,
                &format!("{}/api/v1/reservations", bases[0]),
                &token,
                json!({ "numbers": [slow] }),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let id = body["id"].as_str().unwrap();
            let (status, body) = post(
            &http,
            &format!("{}/api/v1/reservations/{id}/provision", bases[1]),
            &token,
            json!({ "assignments": [{ "number": slow, "target": { "type": "queue", "name": "Sales" } }] }),
        )
        .await;
            if status == StatusCode::OK {
                provisioned = true;
                break;
            }
            // Only a one-second hold running out before provisioning may get in the way.
            assert_eq!(status, StatusCode::GONE, "{body}");
        }
        assert!(provisioned, "provisioned within a one-second hold");
        wait_for(
            &pool,
            &format!("SELECT lifecycle = 'active' FROM numbers WHERE e164 = '{slow}'"),
            "the pending number to become active",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await; // a few more sweeps on every instance
        let activations: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE phone_number = $1 AND action = 'PROVISION'
         AND details->>'activation' = 'completed'",
        )
        .bind(&slow)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(activations, 1, "activated exactly once");

        // 4. Log in on the first instance; the session cookie works on all three (each now has
        //    the caller cached), and a logout on the third ends it everywhere: at once there,
        //    and on the others as soon as the database's notification arrives.
        let no_redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = crate::common::sign_in(
            &no_redirect,
            &bases[0],
            &[
                ("email", "agent@globex.test"),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        let cookie = login
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        let mut csrf = None;
        for base in &bases {
            let page = no_redirect
                .get(format!("{base}/numbers"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), StatusCode::OK, "session valid on {base}");
            let html = page.text().await.unwrap();
            assert!(html.contains("agent@globex.test"), "{base} knows the user");
            csrf = crate::common::extract_csrf(&html);
        }
        let logout = no_redirect
            .post(format!("{}/logout", bases[2]))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.expect("csrf token").as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
        let started = std::time::Instant::now();
        for base in &bases {
            loop {
                let after = no_redirect
                    .get(format!("{base}/numbers"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                if after.status() == StatusCode::SEE_OTHER {
                    break;
                }
                assert_eq!(after.status(), StatusCode::OK);
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(5),
                    "{base} still honours the session 5 s after the logout"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        drop(instances);
    })
}
