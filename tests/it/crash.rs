//! `inward serve` aborted at each step of a provisioning and of a release
//! (`INWARD_TEST_CRASH_AT`, as a `kill -9` there would), then one pass of the jobs in a new
//! process (`inward sweep`) once the saga's lease has run out: Inward and the platform
//! agree afterwards (a number Inward routes is routed on the platform, any other is
//! routed nowhere), and the audit log has one outcome for the operation.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::Api;

/// An `inward serve` child process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const LEASE: &str = "3";

fn serve(url: &str, crash_at: &str) -> (Server, String) {
    serve_with(url, crash_at, &[("INWARD_SAGAS__LEASE_SECONDS", LEASE)])
}

/// `inward serve` on `url` as a child process, aborting at `crash_at` (if not empty), with
/// `settings` in its environment; and the address it serves on.
pub fn serve_with(url: &str, crash_at: &str, settings: &[(&str, &str)]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
        .env("DATABASE_URL", url)
        .env("INWARD_TEST_CRASH_AT", crash_at)
        .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", "3600")
        .env("RUST_LOG", "error")
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    (Server(child), base)
}

fn aborted(mut server: Server) {
    let status = server.0.wait().unwrap();
    assert!(!status.success(), "the server aborted at the crash point");
}

/// `inward check-consistency`: whether it found Inward and the platform in agreement, and
/// what it printed.
fn consistent(url: &str) -> (bool, String) {
    let check = Command::new(env!("CARGO_BIN_EXE_inward"))
        .arg("check-consistency")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        check.status.success(),
        String::from_utf8_lossy(&check.stdout).into_owned(),
    )
}

/// Waits for the saga's lease to run out, then runs one pass of the jobs in a process of
/// its own, and checks that Inward and the platform agree.
async fn recover(url: &str) {
    tokio::time::sleep(Duration::from_secs(LEASE.parse::<u64>().unwrap() + 1)).await;
    let sweep = Command::new(env!("CARGO_BIN_EXE_inward"))
        .arg("sweep")
        .env("DATABASE_URL", url)
        .env("INWARD_SAGAS__LEASE_SECONDS", LEASE)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(sweep.status.success(), "{sweep:?}");
    let (agree, report) = consistent(url);
    assert!(agree, "after recovery: {report}");
    assert!(report.contains("0 difference(s)"), "{report}");
}

/// (Inward's state of the number, whether the platform routes it).
async fn both_sides(pool: &PgPool, number: &str) -> (String, bool) {
    sqlx::query_as(
        "SELECT lifecycle, EXISTS (SELECT 1 FROM sandbox_assignments s WHERE s.e164 = n.e164)
         FROM numbers n WHERE e164 = $1",
    )
    .bind(number)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The outcomes audited for the number since the entry `since` (a number released by one
/// case may be found again by the next).
async fn audit(pool: &PgPool, since: i64, number: &str, action: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT status FROM audit_log WHERE id > $1 AND phone_number = $2 AND action = $3 ORDER BY id",
    )
    .bind(since)
    .bind(number)
    .bind(action)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn last_entry(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM audit_log")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn client(pool: &PgPool, base: String) -> Api {
    Api {
        base,
        token: inward::admin::create_token(pool, "agent@globex.test")
            .await
            .unwrap(),
        http: reqwest::Client::new(),
    }
}

fn provision_body(number: &str) -> serde_json::Value {
    json!({ "assignments": [{ "number": number, "target": { "type": "queue", "name": "Sales" } }] })
}

#[test]
fn a_provisioning_killed_at_any_step_ends_unrouted_and_held() {
    crate::db::db_test(|pool| async move {
        inward::seed::demo(&pool, 3, Some(&["512"])).await.unwrap();
        let url = crate::db::runtime_url(&pool.connect_options());
        for step in ["provision.after_intent", "provision.after_platform_call"] {
            let since = last_entry(&pool).await;
            let (server, base) = serve(&url, step);
            let api = client(&pool, base).await;
            let number = api.find("npa=512", 1).await.remove(0);
            let (status, reservation) = api.reserve(std::slice::from_ref(&number)).await;
            assert_eq!(status, StatusCode::CREATED, "{reservation}");
            let id = reservation["id"].as_str().unwrap();
            let cut = api
                .http
                .post(format!("{}/api/v1/reservations/{id}/provision", api.base))
                .bearer_auth(&api.token)
                .json(&provision_body(&number))
                .send()
                .await;
            assert!(cut.is_err(), "{step}: the server died mid-request");
            aborted(server);
            recover(&url).await;

            assert_eq!(
                both_sides(&pool, &number).await,
                ("reserved".to_string(), false),
                "{step}: held again, routed nowhere"
            );
            assert!(
                audit(&pool, since, &number, "PROVISION").await.is_empty(),
                "{step}: no provisioning outcome was told to anyone"
            );
        }
    })
}

#[test]
fn a_release_killed_at_any_step_ends_released_and_unrouted() {
    crate::db::db_test(|pool| async move {
        inward::seed::demo(&pool, 3, Some(&["512"])).await.unwrap();
        let url = crate::db::runtime_url(&pool.connect_options());
        for step in ["release.after_intent", "release.after_platform_call"] {
            let since = last_entry(&pool).await;
            let (server, base) = serve(&url, step);
            let api = client(&pool, base).await;
            let number = api.find("npa=512", 1).await.remove(0);
            let (_, reservation) = api.reserve(std::slice::from_ref(&number)).await;
            let id = reservation["id"].as_str().unwrap();
            let (status, body) = api
                .post(
                    &format!("/api/v1/reservations/{id}/provision"),
                    provision_body(&number),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(both_sides(&pool, &number).await, ("active".into(), true));

            let cut = api
                .http
                .post(format!("{}/api/v1/numbers/{number}/release", api.base))
                .bearer_auth(&api.token)
                .send()
                .await;
            assert!(cut.is_err(), "{step}: the server died mid-request");
            aborted(server);
            if step == "release.after_platform_call" {
                // Until recovery, Inward shows the number active while nothing routes it.
                let (agree, report) = consistent(&url);
                assert!(!agree, "{report}");
                assert!(
                    report.contains(&number) && report.contains("routed nowhere"),
                    "{report}"
                );
            }
            recover(&url).await;

            assert_eq!(
                both_sides(&pool, &number).await,
                ("released".to_string(), false),
                "{step}: released and routed nowhere"
            );
            assert_eq!(
                audit(&pool, since, &number, "RELEASE").await,
                ["SUCCESS"],
                "{step}: one release recorded"
            );
        }
    })
}

/// (Inward's target, the platform's target) of `number`, by name.
async fn targets_on_both_sides(pool: &PgPool, number: &str) -> (Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT n.target_name, (SELECT t.name FROM sandbox_assignments a
                                  JOIN sandbox_targets t ON t.id = a.target_id WHERE a.e164 = n.e164)
         FROM numbers n WHERE e164 = $1",
    )
    .bind(number)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[test]
fn a_reroute_killed_at_any_step_ends_on_the_new_target() {
    crate::db::db_test(|pool| async move {
        inward::seed::demo(&pool, 5, Some(&["512"])).await.unwrap();
        let url = crate::db::runtime_url(&pool.connect_options());
        for step in [
            "reroute.after_intent",
            "reroute.after_unassign",
            "reroute.after_assign",
        ] {
            let since = last_entry(&pool).await;
            let (server, base) = serve(&url, step);
            let api = client(&pool, base).await;
            let number = api.provisioned(1).await.remove(0);
            let support = api.target_id("queue", "Support").await;
            assert_eq!(
                targets_on_both_sides(&pool, &number).await,
                (Some("Sales".into()), Some("Sales".into()))
            );

            let cut = api
                .http
                .post(format!("{}/api/v1/numbers/{number}/reroute", api.base))
                .bearer_auth(&api.token)
                .json(&json!({ "target": { "type": "queue", "id": support } }))
                .send()
                .await;
            assert!(cut.is_err(), "{step}: the server died mid-request");
            aborted(server);
            if step == "reroute.after_unassign" {
                // Until recovery, Inward shows the number routed while nothing routes it.
                let (agree, report) = consistent(&url);
                assert!(!agree && report.contains(&number), "{report}");
            }
            recover(&url).await;

            assert_eq!(
                targets_on_both_sides(&pool, &number).await,
                (Some("Support".into()), Some("Support".into())),
                "{step}: moved on both sides"
            );
            assert_eq!(both_sides(&pool, &number).await.0, "active");
            assert_eq!(
                audit(&pool, since, &number, "REROUTE").await,
                ["SUCCESS"],
                "{step}: one re-route recorded"
            );
        }
    })
}
