//! Background jobs claim their work with a lease and call the platform with nothing locked:
//! a person acting on the same number meanwhile is never kept waiting, and the job's answer
//! never overwrites what the person changed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use crate::common::{Api, TestApp, settle, spawn_app_with, spawn_fast_features};
use inward::numbers::activation;
use inward::providers::sandbox::Sandbox;

/// Waits until some backend waits for a row lock (the job's platform call, stalled).
async fn until_a_backend_waits_for_a_lock(app: &TestApp) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the job never reached the platform call");
}

/// Makes the sandbox stall on `operation` while the returned transaction is open: it holds
/// the fault row that the sandbox's call updates first. Committing it lets the call finish
/// normally (no fault is left to inject).
async fn stall_sandbox(app: &TestApp, operation: &str) -> Transaction<'static, Postgres> {
    Sandbox::inject_fault(&app.pool, operation, 1, "never sent")
        .await
        .unwrap();
    let mut stall = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE sandbox_faults SET remaining = 0 WHERE operation = $1")
        .bind(operation)
        .execute(&mut *stall)
        .await
        .unwrap();
    stall
}

/// A number of the agent's tenant provisioned in a region whose activation is slow.
async fn pending_number(app: &TestApp, api: &Api) -> String {
    let number = api.find("state=AK", 1).await.remove(0);
    let (_, reservation) = api.reserve(std::slice::from_ref(&number)).await;
    let id = reservation["id"].as_str().unwrap();
    let assignment = json!({ "assignments": [{ "number": number, "target": { "type": "queue", "name": "Support" } }] });
    let (status, body) = api
        .post(&format!("/api/v1/reservations/{id}/provision"), assignment)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.number_state(&number).await, "pending");
    number
}

#[test]
fn a_name_changed_while_the_platform_is_slow_is_sent_and_the_old_answer_dropped() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let cnam = format!("/api/v1/numbers/{number}/cnam");
        let (status, body) = admin.put(&cnam, json!({ "name": "Globex Sales" })).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The platform stalls on the job's CNAM submission.
        let stall = stall_sandbox(&app, "cnam").await;
        let job = tokio::spawn({
            let state = app.state.clone();
            async move { inward::jobs::run_once(&state).await }
        });
        until_a_backend_waits_for_a_lock(&app).await;

        // Meanwhile the admin renames the number: answered at once, not after the job's call.
        let renamed = tokio::time::timeout(
            Duration::from_secs(5),
            admin.put(&cnam, json!({ "name": "Globex Billing" })),
        )
        .await
        .expect("the change waited for the job's platform call");
        assert_eq!(renamed.0, StatusCode::OK, "{}", renamed.1);

        stall.commit().await.unwrap();
        job.await.unwrap();
        // The platform got the old name; its reference must not land on the new name's row,
        // or the next check would call the new name synced.
        let (name, reference, status): (String, Option<String>, String) =
            sqlx::query_as("SELECT name, provider_ref, status FROM cnam_records WHERE e164 = $1")
                .bind(&number)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            (name.as_str(), reference, status.as_str()),
            ("Globex Billing", None, "pending")
        );

        settle(&app, 5).await;
        let sent: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sandbox_cnam_requests WHERE e164 = $1 ORDER BY submitted_at",
        )
        .bind(&number)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(sent, ["Globex Sales", "Globex Billing"]);
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["cnam"]["name"], "Globex Billing", "{shown}");
        assert_eq!(shown["cnam"]["status"], "synced", "{shown}");
    })
}

#[test]
fn a_pending_number_is_asked_about_by_one_instance_and_a_release_meanwhile_stands() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.sandbox.activation_delay_seconds = 1).await;
        let api = app.api("agent@globex.test").await;
        let number = pending_number(&app, &api).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;

        let claimed = crate::common::as_jobs(activation::claim(&app.state, 200))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].e164, number);
        assert!(
            crate::common::as_jobs(activation::claim(&app.state, 200))
                .await
                .unwrap()
                .is_empty(),
            "another instance's pass leaves a claimed number alone"
        );

        // While the platform is being asked, the tenant releases the number: nothing waits.
        let (status, body) = tokio::time::timeout(
            Duration::from_secs(5),
            api.post(&format!("/api/v1/numbers/{number}/release"), json!({})),
        )
        .await
        .expect("the release waited for the job");
        assert_eq!(status, StatusCode::OK, "{body}");

        // The platform's "active" arrives for a number that is no longer pending: it stays released.
        assert!(
            !crate::common::as_jobs(activation::record(&app.state, &claimed[0], true))
                .await
                .unwrap()
        );
        assert_eq!(app.number_state(&number).await, "released");
        let activations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE phone_number = $1 AND details->>'activation' = 'completed'",
    )
    .bind(&number)
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(activations, 0);
    })
}

#[test]
fn a_claim_answered_not_yet_is_asked_again_on_the_next_pass() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.sandbox.activation_delay_seconds = 3600).await;
        let api = app.api("agent@globex.test").await;
        let number = pending_number(&app, &api).await;

        assert_eq!(
            crate::common::as_jobs(activation::activate_pending(&app.state))
                .await
                .unwrap(),
            0
        );
        let claimed = crate::common::as_jobs(activation::claim(&app.state, 200))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the lease ends with the answer");
        assert!(
            crate::common::as_jobs(activation::record(&app.state, &claimed[0], true))
                .await
                .unwrap()
        );
        assert_eq!(app.number_state(&number).await, "active");
    })
}

#[test]
fn a_port_cancelled_while_the_carrier_is_slow_stays_cancelled() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let id = crate::porting::submitted_port(&admin, &["+13126200101"], "1234").await;

        // The carrier stalls on the job's submission.
        let stall = stall_sandbox(&app, "port").await;
        let job = tokio::spawn({
            let state = app.state.clone();
            async move { crate::common::as_jobs(inward::porting::sync(&state)).await }
        });
        until_a_backend_waits_for_a_lock(&app).await;

        let (status, body) = tokio::time::timeout(
            Duration::from_secs(5),
            admin.post(&format!("/api/v1/ports/{id}/cancel"), json!({})),
        )
        .await
        .expect("the cancel waited for the job's carrier call");
        assert_eq!(status, StatusCode::OK, "{body}");

        stall.commit().await.unwrap();
        assert_eq!(job.await.unwrap().unwrap(), 0, "nothing moved");
        let (status, reference): (String, Option<String>) = sqlx::query_as(
            "SELECT status, provider_ref FROM port_numbers WHERE port_id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((status.as_str(), reference), ("cancelled", None));
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(detail["numbers"][0]["status"], "cancelled", "{detail}");
    })
}
