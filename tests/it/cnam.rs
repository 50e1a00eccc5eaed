//! CNAM: tenant default, per-number override, rules, and the sync with the provider.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{error_code, settle, spawn_fast_features};

#[test]
fn the_override_wins_over_the_default_and_each_change_goes_pending_then_synced() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let (a, b) = (&numbers[0], &numbers[1]);

        let (status, body) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "cnam_default": "Globex Support" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["cnam_default"], "Globex Support");
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{a}")).await;
        assert_eq!(shown["cnam"]["status"], "pending");
        assert_eq!(shown["cnam"]["name"], "Globex Support");

        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{a}/cnam"),
                json!({ "name": "  Globex   Sales " }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["cnam"]["name"], "Globex Sales");
        assert_eq!(body["cnam"]["override"], "Globex Sales");
        assert_eq!(body["cnam"]["status"], "pending");

        settle(&app, 5).await;
        let (_, list) = admin.get("/api/v1/numbers").await;
        let row = |e: &str| {
            list["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["e164"] == e)
                .unwrap()
                .clone()
        };
        assert_eq!(
            row(a)["cnam"],
            json!({ "name": "Globex Sales", "status": "synced" })
        );
        assert_eq!(
            row(b)["cnam"],
            json!({ "name": "Globex Support", "status": "synced" })
        );
        let sent: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sandbox_cnam_requests WHERE e164 = $1 ORDER BY submitted_at",
        )
        .bind(a)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            sent.last().map(String::as_str),
            Some("Globex Sales"),
            "the provider got the override"
        );

        // A new default leaves the override alone; removing the override falls back to it.
        admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "cnam_default": "Globex" }),
            )
            .await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{a}")).await;
        assert_eq!(shown["cnam"]["name"], "Globex Sales");
        assert_eq!(shown["cnam"]["status"], "synced");
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{b}")).await;
        assert_eq!(shown["cnam"]["name"], "Globex");
        assert_eq!(shown["cnam"]["status"], "pending");
        let (_, body) = admin
            .put(
                &format!("/api/v1/numbers/{a}/cnam"),
                json!({ "name": null }),
            )
            .await;
        assert_eq!(body["cnam"]["name"], "Globex");
        assert_eq!(body["cnam"]["override"], json!(null));
        assert_eq!(body["cnam"]["status"], "pending");
        settle(&app, 5).await;
        assert_eq!(
            app.audit_count(a, "CNAM", "SUCCESS").await,
            4,
            "2 changes + 2 syncs"
        );

        // The number page shows the status.
        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get(&format!("/numbers/{a}")).await;
        assert!(
            page.contains("id=\"cnam-status\" data-status=\"synced\""),
            "{page}"
        );
        let (_, page) = browser.get("/numbers").await;
        assert!(page.contains("data-cnam=\"synced\""));
    })
}

#[test]
fn names_breaking_a_rule_are_refused_with_the_rule_and_change_nothing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let path = format!("/api/v1/numbers/{number}/cnam");

        let (status, body) = admin
            .put(&path, json!({ "name": "ACME PLUMBING CO" }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&body), "invalid_cnam");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("16 characters; carriers store at most 15")
        );

        let (status, body) = admin.put(&path, json!({ "name": "ACME*PLUMBING" })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("“*” (character 5) is not allowed")
        );

        let (status, body) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "cnam_default": "Ünïcode" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["details"]["field"], "cnam_default");

        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["cnam"]["status"], "not_set");
        assert_eq!(app.audit_count(&number, "CNAM", "SUCCESS").await, 0);

        // The page keeps the user on the number with the rule named.
        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                &format!("/numbers/{number}/cnam"),
                &[("name", "Way too long a name")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"cnam-error\"") && page.contains("at most 15"),
            "{page}"
        );
    })
}

#[test]
fn a_name_the_carrier_refuses_shows_failed_with_the_reason() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let (status, _) = admin
            .put(
                &format!("/api/v1/numbers/{number}/cnam"),
                json!({ "name": "Free Pizza" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["cnam"]["status"], "failed");
        let reason = shown["cnam"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("promotional words such as “FREE”"),
            "{reason}"
        );
        assert_eq!(app.audit_count(&number, "CNAM", "FAILURE").await, 1);

        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get(&format!("/numbers/{number}")).await;
        assert!(
            page.contains("id=\"cnam-reason\"") && page.contains("promotional words"),
            "{page}"
        );
        let (_, page) = browser.get("/compliance").await;
        assert!(page.contains("id=\"count-cnam-failed\">1<"), "{page}");
        assert!(page.contains(&format!("/numbers/{number}#cnam")));

        // Correcting it sends it again.
        admin
            .put(
                &format!("/api/v1/numbers/{number}/cnam"),
                json!({ "name": "Pizza Place" }),
            )
            .await;
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["cnam"]["status"], "synced");
        assert_eq!(shown["cnam"]["reason"], json!(null));
    })
}

#[test]
fn an_unreachable_provider_is_retried_then_gives_up_with_the_reason() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        inward::providers::sandbox::Sandbox::inject_fault(
            &app.pool,
            "cnam",
            1,
            "CNAM gateway timeout",
        )
        .await
        .unwrap();
        admin
            .put(
                &format!("/api/v1/numbers/{}/cnam", numbers[0]),
                json!({ "name": "Retry Me" }),
            )
            .await;
        inward::jobs::run_once(&app.state).await;
        let (status, attempts, reason): (String, i32, Option<String>) =
            sqlx::query_as("SELECT status, attempts, reason FROM cnam_records WHERE e164 = $1")
                .bind(&numbers[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!((status.as_str(), attempts), ("pending", 1));
        assert!(reason.unwrap().contains("retrying (1 of 5)"));
        // The retry waits for its backoff; make it due now.
        sqlx::query("UPDATE cnam_records SET next_attempt_at = now()")
            .execute(&app.pool)
            .await
            .unwrap();
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{}", numbers[0])).await;
        assert_eq!(shown["cnam"]["status"], "synced");

        // A provider that stays down: failed after five attempts, with its error.
        inward::providers::sandbox::Sandbox::inject_fault(
            &app.pool,
            "cnam",
            100,
            "CNAM gateway down",
        )
        .await
        .unwrap();
        admin
            .put(
                &format!("/api/v1/numbers/{}/cnam", numbers[1]),
                json!({ "name": "Never" }),
            )
            .await;
        for _ in 0..5 {
            inward::jobs::run_once(&app.state).await;
            sqlx::query("UPDATE cnam_records SET next_attempt_at = now()")
                .execute(&app.pool)
                .await
                .unwrap();
        }
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{}", numbers[1])).await;
        assert_eq!(shown["cnam"]["status"], "failed");
        let reason = shown["cnam"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("after 5 attempts") && reason.contains("CNAM gateway down"),
            "{reason}"
        );
    })
}

#[test]
fn only_tenant_admins_change_caller_id_names() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let (status, _) = agent
            .put(
                &format!("/api/v1/numbers/{number}/cnam"),
                json!({ "name": "Agent" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = agent
            .put(
                "/api/v1/tenant/settings",
                json!({ "cnam_default": "Agent" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, settings) = agent.get("/api/v1/tenant/settings").await;
        assert_eq!(status, StatusCode::OK, "tenant users may read the settings");
        assert_eq!(settings["cnam_default"], json!(null));
    })
}
