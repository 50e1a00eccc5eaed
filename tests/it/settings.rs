//! Tenant settings and the compliance page.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{settle, spawn_fast_features};

#[test]
fn unassigned_number_behaviour_is_saved_and_shown_where_it_applies() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (_, defaults) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(defaults["unassigned_behavior"], "message");

        let (status, body) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "unassigned_behavior": "main_number" }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the main number is needed"
        );
        assert_eq!(body["error"]["details"]["field"], "main_number");
        let (status, _) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "unassigned_behavior": "voicemail" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                "/settings",
                &[
                    ("cnam_default", "Globex"),
                    ("unassigned_behavior", "main_number"),
                    ("main_number", "(512) 555-0100"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, saved) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(saved["unassigned_behavior"], "main_number");
        assert_eq!(saved["main_number"], "+15125550100");
        assert_eq!(
            saved["require_e911"], false,
            "an unticked box turns the policy off"
        );
        assert_eq!(saved["cnam_default"], "Globex");

        // A held number has no route yet: its page says what its calls do.
        let held = admin.find("npa=512", 1).await;
        admin.reserve(&held).await;
        let (_, page) = browser.get(&format!("/numbers/{}", held[0])).await;
        assert!(
            page.contains("id=\"unassigned-behavior\"")
                && page.contains("main number (512) 555-0100"),
            "{page}"
        );
        let (_, page) = browser.get("/settings").await;
        assert!(page.contains("value=\"main_number\" checked"));

        let response = browser
            .post_form(
                "/settings",
                &[("cnam_default", "Bad!"), ("unassigned_behavior", "reject")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("is not allowed"));

        // A tenant user sees the settings but cannot save them.
        let agent = app.browser("agent@globex.test").await;
        let (_, page) = agent.get("/settings").await;
        assert!(page.contains("Only a tenant admin can change these"));
        let response = agent
            .post_form("/settings", &[("unassigned_behavior", "reject")])
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    })
}

#[test]
fn the_compliance_page_counts_and_lists_what_needs_attention() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;
        admin
        .put(&format!("/api/v1/numbers/{}/e911", numbers[0]), json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }))
        .await;
        admin
        .put(
            &format!("/api/v1/numbers/{}/e911", numbers[1]),
            json!({ "street": "Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
        )
        .await;
        admin
            .put(
                &format!("/api/v1/numbers/{}/cnam", numbers[2]),
                json!({ "name": "Cash Winner" }),
            )
            .await;
        settle(&app, 5).await;

        let (status, report) = admin.get("/api/v1/compliance").await;
        assert_eq!(status, StatusCode::OK);
        let counts = &report["counts"];
        assert_eq!(counts["numbers"], 3);
        assert_eq!(counts["e911_registered"], 1);
        assert_eq!(counts["e911_failed"], 1);
        assert_eq!(counts["e911_not_set"], 1);
        assert_eq!(counts["cnam_failed"], 1);
        assert_eq!(counts["cnam_not_set"], 2);
        let unregistered: Vec<&str> = report["e911_unregistered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["e164"].as_str().unwrap())
            .collect();
        assert_eq!(unregistered.len(), 2);
        assert!(
            unregistered.contains(&numbers[1].as_str())
                && unregistered.contains(&numbers[2].as_str())
        );
        assert_eq!(report["cnam_failed"][0]["e164"], numbers[2].as_str());

        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser.get("/compliance").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"count-e911-registered\">1<"), "{page}");
        assert!(page.contains("id=\"count-e911-missing\">2<"));
        assert!(page.contains("not found in the MSAG"));
        assert!(page.contains("promotional words"));
    })
}

#[test]
fn the_openapi_document_describes_the_feature_routes() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let doc: serde_json::Value = app
            .http
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (path, method) in [
            ("/api/v1/numbers/{e164}/cnam", "put"),
            ("/api/v1/numbers/{e164}/e911", "put"),
            ("/api/v1/e911/bulk", "post"),
            ("/api/v1/tenant/settings", "get"),
            ("/api/v1/tenant/settings", "put"),
            ("/api/v1/compliance", "get"),
            ("/api/v1/approvals", "get"),
            ("/api/v1/approvals/{id}/approve", "post"),
            ("/api/v1/approvals/{id}/decline", "post"),
            ("/api/v1/reseller/settings", "put"),
            ("/api/v1/reseller/aging", "get"),
            ("/api/v1/ports", "post"),
            ("/api/v1/ports/{id}", "put"),
            ("/api/v1/ports/{id}/loa", "put"),
            ("/api/v1/ports/{id}/submit", "post"),
            ("/api/v1/ports/{id}/cancel", "post"),
        ] {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from openapi.json"
            );
        }
        for schema in [
            "Cnam",
            "E911",
            "E911BulkSummary",
            "TenantSettings",
            "Compliance",
        ] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
    })
}

#[test]
fn a_tenant_admin_cannot_take_the_reseller_out_of_premium_approvals() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@initech.test").await;
        let (_, before) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(before["premium_approver"], "reseller", "{before}");
        for loosened in ["none", "tenant_admin"] {
            let (status, body) = admin
                .put(
                    "/api/v1/tenant/settings",
                    serde_json::json!({ "premium_approver": loosened }),
                )
                .await;
            assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{body}");
        }
        let (_, after) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(after["premium_approver"], "reseller");
        // Other settings still change.
        let (status, body) = admin
            .put(
                "/api/v1/tenant/settings",
                serde_json::json!({ "require_e911": false, "premium_approver": "reseller" }),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    })
}
