//! Tenant isolation on every route added for CNAM, E911, settings and compliance.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{settle, spawn_fast_features};

#[test]
fn another_tenant_can_neither_see_nor_change_cnam_e911_settings_or_compliance() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let a = app.api("admin@globex.test").await;
        let b = app.api("admin@initech.test").await;
        let numbers = a.provisioned(1).await;
        let mine = &numbers[0];
        a.put(
            "/api/v1/tenant/settings",
            json!({ "cnam_default": "Globex" }),
        )
        .await;
        a.put(
        &format!("/api/v1/numbers/{mine}/e911"),
        json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
    )
    .await;
        settle(&app, 5).await;
        let address =
            json!({ "street": "1 Evil St", "city": "Austin", "state": "TX", "zip": "78701" });

        let (status, _) = b
            .put(
                &format!("/api/v1/numbers/{mine}/cnam"),
                json!({ "name": "Hijack" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = b
            .put(&format!("/api/v1/numbers/{mine}/e911"), address.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let mut all = address.clone();
        all["apply_to_all"] = json!(true);
        let (status, _) = b.put(&format!("/api/v1/numbers/{mine}/e911"), all).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for confirm in [false, true] {
            let (status, body) = b
                .post(
                    "/api/v1/e911/bulk",
                    json!({ "numbers": [mine], "address": address, "confirm": confirm }),
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
            assert!(
                !body.to_string().contains("Congress"),
                "no address leaks: {body}"
            );
        }
        let (_, settings) = b.get("/api/v1/tenant/settings").await;
        assert_eq!(
            settings["cnam_default"],
            json!(null),
            "B sees its own settings"
        );
        let (_, report) = b.get("/api/v1/compliance").await;
        assert_eq!(report["counts"]["numbers"], 0);
        assert!(!report.to_string().contains(mine.as_str()));
        let (_, list) = b.get("/api/v1/numbers").await;
        assert!(list["numbers"].as_array().unwrap().is_empty());

        // Through the pages.
        let browser = app.browser("admin@initech.test").await;
        let response = browser
            .post_form(&format!("/numbers/{mine}/cnam"), &[("name", "Hijack")])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = browser
            .post_form(
                &format!("/numbers/{mine}/e911"),
                &[
                    ("street", "1 Evil St"),
                    ("city", "Austin"),
                    ("state", "TX"),
                    ("zip", "78701"),
                    ("apply_to_all", "on"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = browser
            .post_form(
                "/e911/bulk",
                &[
                    ("number", mine.as_str()),
                    ("street", "1 Evil St"),
                    ("city", "Austin"),
                    ("state", "TX"),
                    ("zip", "78701"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (_, page) = browser.get("/compliance").await;
        assert!(!page.contains(mine.as_str()));
        let (_, page) = browser.get("/settings").await;
        assert!(!page.contains("value=\"Globex\""));

        // Nothing of A's changed.
        let (_, shown) = a.get(&format!("/api/v1/numbers/{mine}")).await;
        assert_eq!(shown["cnam"]["name"], "Globex");
        assert_eq!(shown["cnam"]["status"], "synced");
        assert_eq!(shown["e911"]["street"], "500 Congress Ave");
        assert_eq!(shown["e911"]["status"], "registered");

        // Resellers and the operator act for no tenant here.
        for email in ["reseller@acme.test", "operator@inward.test"] {
            let other = app.api(email).await;
            assert_eq!(
                other.get("/api/v1/tenant/settings").await.0,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                other.get("/api/v1/compliance").await.0,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                other
                    .put(&format!("/api/v1/numbers/{mine}/e911"), address.clone())
                    .await
                    .0,
                StatusCode::FORBIDDEN
            );
        }
    })
}
