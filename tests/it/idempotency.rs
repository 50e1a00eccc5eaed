//! Provisioning answers for every number, and an Idempotency-Key replays that answer: to a
//! duplicate that arrives while the first request runs, and after a first request that
//! died is taken over.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, spawn_app};

async fn send(api: &Api, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let r = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[test]
fn a_hold_that_ends_mid_request_fails_its_number_alone_and_the_answer_is_replayed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 3).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        let tenant = app.tenant_id("globex").await;
        let target = api.target_id("queue", "Sales").await;

        // The platform holds its answer on the first number while the second one's hold
        // runs out.
        let mut blocker = app.pool.begin().await.unwrap();
        sqlx::query("INSERT INTO sandbox_assignments (e164, tenant_id, target_id, active_at) VALUES ($1, $2, $3, now())")
            .bind(&numbers[0])
            .bind(tenant)
            .bind(target.parse::<uuid::Uuid>().unwrap())
            .execute(&mut *blocker)
            .await
            .unwrap();
        let path = format!("/api/v1/reservations/{id}/provision");
        let body = json!({ "assignments": numbers.iter().map(|n| json!({ "number": n, "target": { "type": "queue", "id": target } })).collect::<Vec<_>>() });
        let first = tokio::spawn({
            let api = app.api("agent@globex.test").await;
            let (path, body) = (path.clone(), body.clone());
            async move { send(&api, &path, "order-7", &body).await }
        });
        loop {
            let waiting: bool = sqlx::query_scalar(
                "SELECT count(*) = 1 FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE 'INSERT INTO sandbox_assignments%'",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            if waiting {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        sqlx::query("UPDATE holds SET expires_at = now() - interval '1 second' WHERE e164 = $1")
            .bind(&numbers[1])
            .execute(&app.pool)
            .await
            .unwrap();
        // A duplicate meanwhile waits for the first request's answer.
        let duplicate = tokio::spawn({
            let api = app.api("agent@globex.test").await;
            let (path, body) = (path.clone(), body.clone());
            async move { send(&api, &path, "order-7", &body).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        blocker.rollback().await.unwrap();

        let (status, answer) = first.await.unwrap();
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
        let results = answer["error"]["details"]["results"].as_array().unwrap();
        let outcome: Vec<(bool, &str)> = results
            .iter()
            .map(|r| (r["ok"].as_bool().unwrap(), r["state"].as_str().unwrap()))
            .collect();
        assert_eq!(
            outcome,
            [(true, "active"), (false, "reserved"), (true, "active")],
            "every number's outcome, the ones after the failure included: {answer}"
        );
        assert_eq!(app.number_state(&numbers[2]).await, "active");
        assert_eq!(duplicate.await.unwrap(), (status, answer.clone()));
        assert_eq!(send(&api, &path, "order-7", &body).await, (status, answer));
    })
}

#[test]
fn a_key_whose_first_request_died_is_taken_over_by_a_retry() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        let body = json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] });
        // What a request leaves behind when its process dies after claiming its key.
        sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, locked_until)
             VALUES ($1, 'order-9', $2, now() - interval '1 second')",
        )
        .bind(app.tenant_id("globex").await)
        .bind(inward::idempotency::fingerprint(
            &format!("provision:{id}"),
            &body,
        ))
        .execute(&app.pool)
        .await
        .unwrap();

        let path = format!("/api/v1/reservations/{id}/provision");
        let (status, answer) = send(&api, &path, "order-9", &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(app.number_state(&numbers[0]).await, "active");
        assert_eq!(send(&api, &path, "order-9", &body).await, (status, answer));

        // Keys past their lifetime are pruned by the jobs.
        sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
            .execute(&app.pool)
            .await
            .unwrap();
        let report = inward::jobs::run_once(&app.state).await;
        assert!(report.failed.is_empty(), "{report:?}");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    })
}
