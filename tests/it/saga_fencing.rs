//! Two real `inward serve` processes on one database. A provisioning saga on the first is
//! paused past its lease (SIGSTOP while the platform holds its answer), and the second
//! instance's jobs take it over and undo it; when the first resumes, its saga finds itself
//! fenced out: it does not record the number as active, it undoes its own platform write,
//! and it answers an error.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::Api;

/// Starts `inward serve` with a three-second saga lease and the given sweep interval.
fn serve(url: &str, sweep_seconds: &str) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
        .env("DATABASE_URL", url)
        .env("INWARD_SAGAS__LEASE_SECONDS", "3")
        .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", sweep_seconds)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    (server, base)
}

/// The server process, resumed and killed when the test ends, whether it passed or not.
struct Server(Child);

impl Server {
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until(pool: &PgPool, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if sqlx::query_scalar::<_, bool>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
        {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_saga_paused_past_its_lease_is_fenced_out_and_undoes_its_write() {
    crate::db::db_test(|pool| async move {
        inward::seed::demo(&pool, 3, Some(&["512"])).await.unwrap();
        let url = crate::db::runtime_url(&pool.connect_options());
        let (server, base) = serve(&url, "3600");
        let api = Api {
            base,
            token: inward::admin::create_token(&pool, "agent@globex.test")
                .await
                .unwrap(),
            http: reqwest::Client::new(),
        };
        let number = api.find("npa=512", 1).await.remove(0);
        let (status, reservation) = api.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let reservation = reservation["id"].as_str().unwrap().to_string();
        let target = api.target_id("queue", "Sales").await;
        let tenant: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'globex'")
                .fetch_one(&pool)
                .await
                .unwrap();

        // The platform holds its answer: an uncommitted row on the number makes the
        // sandbox's assignment wait.
        let mut blocker = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO sandbox_assignments (e164, tenant_id, target_id, active_at) VALUES ($1, $2, $3, now())")
            .bind(&number)
            .bind(tenant)
            .bind(target.parse::<uuid::Uuid>().unwrap())
            .execute(&mut *blocker)
            .await
            .unwrap();

        let provisioning = {
            let api = Api {
                base: api.base.clone(),
                token: api.token.clone(),
                http: api.http.clone(),
            };
            let body = json!({ "assignments": [{ "number": number, "target": { "type": "queue", "id": target } }] });
            let path = format!("/api/v1/reservations/{reservation}/provision");
            tokio::spawn(async move { api.post(&path, body).await })
        };
        wait_until(
            &pool,
            "SELECT count(*) = 1 FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE 'INSERT INTO sandbox_assignments%'",
            "the saga to wait on the platform",
        )
        .await;

        // The first process stops: no more lease renewals. The second instance's jobs (every
        // second) take the attempt over once its lease has run out, and undo it.
        server.signal("-STOP");
        let (recovering, _) = serve(&url, "1");
        wait_until(
            &pool,
            "SELECT bool_and(step = 'compensated') FROM provisioning_attempts",
            "the other instance to recover the saga",
        )
        .await;
        let state: String = sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
            .bind(&number)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            state, "reserved",
            "recovery handed the number back to its hold"
        );

        // The platform answers and the process resumes: its assignment lands, then its
        // commit finds the attempt taken over.
        blocker.rollback().await.unwrap();
        server.signal("-CONT");
        let (status, body) = provisioning.await.unwrap();
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "provisioning_taken_over", "{body}");

        let (state, step): (String, String) = sqlx::query_as(
            "SELECT n.lifecycle, a.step FROM numbers n JOIN provisioning_attempts a USING (e164) WHERE e164 = $1",
        )
        .bind(&number)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((state.as_str(), step.as_str()), ("reserved", "compensated"));
        let routed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments WHERE e164 = $1")
                .bind(&number)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            routed, 0,
            "the fenced-out saga undid its assignment on the platform"
        );
        let successes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'PROVISION' AND status = 'SUCCESS'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            successes, 0,
            "no success recorded for a number Inward does not route"
        );
        drop(recovering);
        drop(server);
    })
}
