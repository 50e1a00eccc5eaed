//! The webhook outbox across a crash: `inward serve` aborted (`INWARD_TEST_CRASH_AT`, as a
//! `kill -9` there would) after the event committed and before it was sent, and after the
//! receiver had it but before that was recorded.

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::Api;
use crate::crash::{Server, serve_with};
use crate::receiver::{Receiver, verified};
use crate::webhooks::register;

/// `inward serve` as a child process, its dispatcher fast, aborting at `crash_at` if given.
fn serve(url: &str, crash_at: &str) -> (Server, String) {
    serve_with(
        url,
        crash_at,
        &[
            ("INWARD_OUTBOUND__ALLOW_HOSTS", "127.0.0.1"),
            ("INWARD_WEBHOOKS__POLL_INTERVAL_MS", "50"),
            ("INWARD_WEBHOOKS__TIMEOUT_SECONDS", "1"),
            ("INWARD_WEBHOOKS__LEASE_SECONDS", "2"),
            ("INWARD_RATE_LIMITS__TENANT_ADMIN_PER_MINUTE", "0"),
            ("INWARD_RATE_LIMITS__TENANT_USER_PER_MINUTE", "0"),
        ],
    )
}

async fn api_on(pool: &sqlx::PgPool, base: &str, email: &str) -> Api {
    Api {
        base: base.to_string(),
        token: inward::admin::create_token(pool, email).await.unwrap(),
        http: reqwest::Client::new(),
    }
}

/// Holds `number` on a server set to crash at a dispatcher step. The dispatcher claims the
/// event as soon as the hold commits, so the crash may come before the answer is written: the
/// request may then end without one, and the hold is checked in the database instead.
async fn reserve_before_the_crash(pool: &sqlx::PgPool, agent: &Api, number: &str) {
    let answer = agent
        .http
        .post(format!("{}/api/v1/reservations", agent.base))
        .bearer_auth(&agent.token)
        .json(&serde_json::json!({ "numbers": [number] }))
        .send()
        .await;
    if let Ok(answer) = answer {
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    let lifecycle: String = sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
        .bind(number)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(lifecycle, "reserved", "the hold committed");
}

/// Waits for the child to end by itself (it aborts at its crash point).
async fn aborted(mut server: Server) {
    for _ in 0..200 {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(!status.success(), "the server aborted at the crash point");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not reach its crash point");
}

#[test]
fn an_event_committed_before_a_crash_is_delivered_after_restart_with_its_id() {
    crate::db::db_test(|pool| async move {
        inward::seed::demo(&pool, 3, Some(&["512"])).await.unwrap();
        let url = crate::db::runtime_url(&pool.connect_options());
        let receiver = Receiver::start(0).await;

        // Killed after the event committed and the dispatcher claimed it, before sending.
        let (server, base) = serve(&url, "webhook.before_send");
        let admin = api_on(&pool, &base, "admin@globex.test").await;
        let (_, secret) = register(&admin, &receiver.url, &["number.reserved"]).await;
        let agent = api_on(&pool, &base, "agent@globex.test").await;
        let number = agent.find("npa=512", 1).await.remove(0);
        reserve_before_the_crash(&pool, &agent, &number).await;
        aborted(server).await;
        assert!(
            receiver.got().is_empty(),
            "nothing was sent before the crash"
        );

        let (server, _) = serve(&url, "");
        let got = receiver.wait_for(1, Duration::from_secs(20)).await;
        let first = verified(&secret, &got[0]);
        assert_eq!(
            (first["type"].as_str(), first["data"]["number"].as_str()),
            (Some("number.reserved"), Some(number.as_str()))
        );
        // Past another lease: still once.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(receiver.got().len(), 1, "delivered exactly once");
        drop(server);

        // Killed after the receiver had it, before recording so: sent again after restart,
        // with the same id and body, for the receiver to de-duplicate.
        let (server, base) = serve(&url, "webhook.after_send");
        let agent = api_on(&pool, &base, "agent@globex.test").await;
        let number = agent.find("npa=512", 1).await.remove(0);
        reserve_before_the_crash(&pool, &agent, &number).await;
        aborted(server).await;
        let (_server, _) = serve(&url, "");
        let got = receiver.wait_for(3, Duration::from_secs(20)).await;
        assert_eq!(got[1].body, got[2].body, "the same event again");
        assert_eq!(
            verified(&secret, &got[2])["data"]["number"],
            number.as_str()
        );
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(pending, 0);
    })
}
