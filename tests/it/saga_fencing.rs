//! A provisioning saga that is paused past its lease (a real `inward serve` process,
//! stopped with SIGSTOP while the platform holds its answer) is taken over by recovery;
//! when the process resumes, the saga finds itself fenced out: it does not record the
//! number as active, it undoes its own platform write, and it answers an error.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inward::config::AppConfig;
use inward::state::AppState;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::common::Api;

fn database_url(options: &PgConnectOptions) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(options.get_database().unwrap());
    url.to_string()
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
        let url = database_url(&pool.connect_options());
        let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env("INWARD_SAGAS__LEASE_SECONDS", "3")
            .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", "3600")
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
             WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO sandbox_assignments%'",
            "the saga to wait on the platform",
        )
        .await;

        // The process stops: no more lease renewals. Once the lease has run out, recovery
        // (another instance, here the test's own) takes the attempt over and undoes it.
        server.signal("-STOP");
        wait_until(
            &pool,
            "SELECT bool_and(lease_expires_at < now()) FROM provisioning_attempts",
            "the saga's lease to expire",
        )
        .await;
        let mut config = AppConfig::defaults();
        config.sagas.lease_seconds = 3;
        let recovery = AppState::new(pool.clone(), config);
        let recovered = inward::reservations::provision::recover_stalled(&recovery)
            .await
            .unwrap();
        assert_eq!(recovered, 1);
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
        drop(server);
    })
}
