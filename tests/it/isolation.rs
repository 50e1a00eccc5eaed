use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app;

/// Tenant B's user tries every route against tenant A's reservation and numbers.
#[test]
fn a_tenant_never_sees_or_changes_another_tenants_data() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let a = app.api("agent@globex.test").await;
        let b = app.api("agent@initech.test").await;
        let b_admin = app.api("admin@initech.test").await;
        let numbers = a.find("npa=512", 2).await;
        let (_, reservation) = a.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        let queue = a.target_id("queue", "Sales").await;
        let (status, _) = a
        .post(&format!("/api/v1/reservations/{id}/provision"), json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "id": queue } }] }))
        .await;
        assert_eq!(status, StatusCode::OK);

        assert_eq!(
            b.get(&format!("/api/v1/reservations/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            b.delete(&format!("/api/v1/reservations/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        let (status, _) = b
        .post(&format!("/api/v1/reservations/{id}/provision"), json!({ "assignments": [{ "number": numbers[1], "target": { "type": "queue", "name": "Sales" } }] }))
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            b.get(&format!("/api/v1/numbers/{}", numbers[0])).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            b.post(
                &format!("/api/v1/numbers/{}/release", numbers[0]),
                json!({})
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert!(
            b.get("/api/v1/numbers").await.1["numbers"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(
            b.get("/api/v1/reservations").await.1["reservations"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let b_targets = b.get("/api/v1/targets").await.1;
        assert!(
            b_targets["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["id"] != queue.as_str())
        );
        let b_audit = b_admin.get("/api/v1/audit").await.1;
        assert!(
            b_audit["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["phone_number"] != numbers[0].as_str())
        );
        let (_, filtered) = b_admin
            .get(&format!("/api/v1/audit?number={}", numbers[0]))
            .await;
        assert!(filtered["entries"].as_array().unwrap().is_empty());
        // Tenant A's provisioned target cannot be used by B even with its id.
        let b_numbers = b.find("npa=718", 1).await;
        let (_, b_res) = b.reserve(&b_numbers).await;
        let b_id = b_res["id"].as_str().unwrap();
        let (status, body) = b
        .post(&format!("/api/v1/reservations/{b_id}/provision"), json!({ "assignments": [{ "number": b_numbers[0], "target": { "type": "queue", "id": queue } }] }))
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        // Pages too.
        let browser = app.browser("agent@initech.test").await;
        assert_eq!(
            browser.get(&format!("/reservations/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            browser.get(&format!("/numbers/{}", numbers[0])).await.0,
            StatusCode::NOT_FOUND
        );
        let response = browser
            .post_form(&format!("/numbers/{}/release", numbers[0]), &[])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.number_state(&numbers[0]).await, "active");
    })
}

#[test]
fn tenant_users_cannot_read_the_audit_log_but_admins_can() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let user = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let reseller = app.api("reseller@acme.test").await;
        assert_eq!(user.get("/api/v1/audit").await.0, StatusCode::FORBIDDEN);
        user.find("npa=512", 1).await;
        app.assert_flushed_search_count(1).await;
        let (status, body) = admin.get("/api/v1/audit?action=SEARCH").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["entries"].as_array().unwrap().len(), 1);
        assert_eq!(
            reseller.get("/api/v1/audit").await.1["entries"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let (status, _) = reseller.get("/api/v1/numbers/available?state=TX").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "resellers do not reserve for themselves"
        );
    })
}
