use inward::providers::sandbox::Sandbox;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{error_code, spawn_app};

#[test]
fn a_failing_assignment_is_compensated_audited_and_retryable() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        Sandbox::inject_fault(&app.pool, "assign", 1, "carrier timeout (injected)")
            .await
            .unwrap();

        let body = json!({ "assignments": [{ "number": numbers[0], "target": { "type": "extension", "name": "Temp Desk" } }] });
        let (status, failed) = api
            .post(
                &format!("/api/v1/reservations/{id}/provision"),
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{failed}");
        assert_eq!(error_code(&failed), "provider_error");
        assert!(
            failed["error"]["message"]
                .as_str()
                .unwrap()
                .contains("carrier timeout")
        );
        assert_eq!(
            app.number_state(&numbers[0]).await,
            "reserved",
            "not active, still held"
        );
        let error: Option<String> = sqlx::query_scalar(
        "SELECT error_message FROM audit_log WHERE phone_number = $1 AND action = 'PROVISION' AND status = 'FAILURE'",
    )
    .bind(&numbers[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert!(error.unwrap().contains("carrier timeout"));
        let leftover: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sandbox_targets WHERE name = 'Temp Desk' AND deleted_at IS NULL",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            leftover, 0,
            "the extension created for the failed saga was removed"
        );
        let assigned: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(assigned, 0);

        let (status, retried) = api
            .post(&format!("/api/v1/reservations/{id}/provision"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(app.number_state(&numbers[0]).await, "active");
    })
}

#[test]
fn one_failure_does_not_undo_the_numbers_that_succeeded() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=718", 2).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        let queue = api.target_id("queue", "Support").await;
        sqlx::query("INSERT INTO sandbox_faults (operation, remaining) VALUES ('assign', 0)")
            .execute(&app.pool)
            .await
            .unwrap();
        // Fail only the second call.
        let assignments = json!({ "assignments": [
            { "number": numbers[0], "target": { "type": "queue", "id": queue } },
            { "number": numbers[1], "target": { "type": "queue", "id": queue } },
        ]});
        sqlx::raw_sql(
        "CREATE FUNCTION arm_fault() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN UPDATE sandbox_faults SET remaining = 1 WHERE operation = 'assign'; RETURN NEW; END $$;
         CREATE TRIGGER arm AFTER INSERT ON sandbox_assignments FOR EACH ROW EXECUTE FUNCTION arm_fault();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
        let (status, body) = api
            .post(&format!("/api/v1/reservations/{id}/provision"), assignments)
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        let results = body["error"]["details"]["results"].as_array().unwrap();
        assert_eq!(results[0]["ok"], true);
        assert_eq!(results[1]["ok"], false);
        assert_eq!(app.number_state(&numbers[0]).await, "active");
        assert_eq!(app.number_state(&numbers[1]).await, "reserved");
    })
}

#[test]
fn a_saga_interrupted_mid_way_is_compensated_by_recovery() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id: uuid::Uuid = reservation["id"].as_str().unwrap().parse().unwrap();
        let tenant = app.tenant_id("globex").await;
        let target: uuid::Uuid = api.target_id("queue", "Sales").await.parse().unwrap();
        // Simulate a crash after the platform assignment but before the database commit.
        sqlx::query("UPDATE numbers SET lifecycle = 'provisioning' WHERE e164 = $1")
            .bind(&numbers[0])
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO sandbox_assignments (e164, tenant_id, target_id, active_at) VALUES ($1, $2, $3, now())")
        .bind(&numbers[0])
        .bind(tenant)
        .bind(target)
        .execute(&app.pool)
        .await
        .unwrap();
        sqlx::query(
        "INSERT INTO provisioning_attempts (id, reservation_id, e164, tenant_id, target_type, target_id, step, updated_at,
                                            lease_owner, lease_expires_at)
         VALUES ($1, $2, $3, $4, 'queue', $5, 'assigned', now() - interval '1 hour', $1, now() - interval '1 second')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(id)
    .bind(&numbers[0])
    .bind(tenant)
    .bind(target.to_string())
    .execute(&app.pool)
    .await
    .unwrap();

        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.recovered, 1);
        assert_eq!(app.number_state(&numbers[0]).await, "reserved");
        let assigned: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(assigned, 0, "nothing left provisioned on the platform");
    })
}

#[test]
fn an_assignment_whose_answer_was_lost_is_undone_on_the_platform() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        // The platform makes the assignment, and the answer never comes back.
        Sandbox::inject_fault(&app.pool, "assign_answer", 1, "gateway timeout (injected)")
            .await
            .unwrap();
        let body = json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] });
        let (status, failed) = api
            .post(
                &format!("/api/v1/reservations/{id}/provision"),
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{failed}");
        assert_eq!(app.number_state(&numbers[0]).await, "reserved");
        let routed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments WHERE e164 = $1")
                .bind(&numbers[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(routed, 0, "a number Inward offers again is routed nowhere");

        let (status, done) = api
            .post(&format!("/api/v1/reservations/{id}/provision"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(app.number_state(&numbers[0]).await, "active");
    })
}

#[test]
fn a_release_whose_platform_answer_was_lost_is_finished_by_recovery() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app_with(pool, |c| c.sagas.lease_seconds = 3).await;
        let api = app.api("agent@globex.test").await;
        let number = api.provisioned(1).await.remove(0);
        Sandbox::inject_fault(&app.pool, "unassign", 1, "gateway timeout (injected)")
            .await
            .unwrap();
        let (status, body) = api
            .post(&format!("/api/v1/numbers/{number}/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "release_pending");
        assert_eq!(
            app.number_state(&number).await,
            "active",
            "not released yet"
        );

        // The intent stays open until its lease runs out; then recovery finishes it.
        assert_eq!(
            inward::jobs::run_once(&app.state).await.releases_finished,
            0
        );
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        assert_eq!(
            inward::jobs::run_once(&app.state).await.releases_finished,
            1
        );
        assert_eq!(app.number_state(&number).await, "released");
        let routed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments WHERE e164 = $1")
                .bind(&number)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(routed, 0);
        assert_eq!(app.audit_count(&number, "RELEASE", "SUCCESS").await, 1);
    })
}
