//! Aging after release: the release date is recorded; while a number ages only the tenant
//! that released it is offered it back.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Api, TestApp, spawn_app};

async fn release(api: &Api, e164: &str) {
    let (status, body) = api
        .post(&format!("/api/v1/numbers/{e164}/release"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn aging_of(
    app: &TestApp,
    e164: &str,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<uuid::Uuid>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    sqlx::query_as("SELECT released_at, released_by, aging_until FROM numbers WHERE e164 = $1")
        .bind(e164)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[test]
fn without_aging_a_released_number_is_offered_to_everyone_at_once() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let globex = app.api("agent@globex.test").await;
        let initech = app.api("agent@initech.test").await;
        let number = globex.provisioned(1).await.remove(0);
        release(&globex, &number).await;
        let (released_at, released_by, aging_until) = aging_of(&app, &number).await;
        assert!(released_at.is_some(), "the release date is recorded");
        assert_eq!(released_by, Some(app.tenant_id("globex").await));
        assert_eq!(aging_until, None, "the demo's reseller has aging off");
        assert!(initech.searches_to(&number).await);
        assert_eq!(
            initech.reserve(std::slice::from_ref(&number)).await.0,
            StatusCode::CREATED
        );
    })
}

#[test]
fn an_aging_number_goes_back_only_to_the_tenant_that_released_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let (_, defaults) = reseller.get("/api/v1/reseller/settings").await;
        assert_eq!(defaults["aging_days"], 0);
        let (status, body) = reseller
            .put("/api/v1/reseller/settings", json!({ "aging_days": 400 }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("45 is the usual minimum")
        );
        let (status, saved) = reseller
            .put("/api/v1/reseller/settings", json!({ "aging_days": 45 }))
            .await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!(saved["aging_days"], 45);

        let globex = app.api("agent@globex.test").await;
        let initech = app.api("agent@initech.test").await;
        let numbers = globex.provisioned(2).await;
        release(&globex, &numbers[0]).await;
        release(&globex, &numbers[1]).await;
        let (released_at, _, aging_until) = aging_of(&app, &numbers[0]).await;
        assert_eq!((aging_until.unwrap() - released_at.unwrap()).num_days(), 45);

        assert!(
            !initech.searches_to(&numbers[0]).await,
            "not offered to another tenant"
        );
        let (status, _) = initech.reserve(std::slice::from_ref(&numbers[0])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            globex.searches_to(&numbers[0]).await,
            "offered back to the tenant that released it"
        );

        // The reseller sees when each becomes available.
        let (status, list) = reseller.get("/api/v1/reseller/aging").await;
        assert_eq!(status, StatusCode::OK);
        let rows = list["numbers"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["released_by_name"], "Globex Support");
        assert!(rows[0]["available_at"].as_str().is_some());
        let browser = app.browser("reseller@acme.test").await;
        let (_, page) = browser.get("/aging").await;
        assert!(
            page.contains("Globex Support") && page.contains("class=\"available-at\""),
            "{page}"
        );

        let (status, body) = globex.reserve(std::slice::from_ref(&numbers[0])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // Once aging is over, everyone is offered it.
        sqlx::query("UPDATE numbers SET aging_until = now() - interval '1 second' WHERE e164 = $1")
            .bind(&numbers[1])
            .execute(&app.pool)
            .await
            .unwrap();
        assert!(initech.searches_to(&numbers[1]).await);
        assert_eq!(
            initech.reserve(std::slice::from_ref(&numbers[1])).await.0,
            StatusCode::CREATED
        );
        let (_, list) = reseller.get("/api/v1/reseller/aging").await;
        assert!(list["numbers"].as_array().unwrap().is_empty(), "{list}");
    })
}

#[test]
fn aging_settings_belong_to_the_reseller() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        assert_eq!(
            admin.get("/api/v1/reseller/settings").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            admin
                .put("/api/v1/reseller/settings", json!({ "aging_days": 45 }))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            admin.get("/api/v1/reseller/aging").await.0,
            StatusCode::FORBIDDEN
        );

        // Another reseller sees none of Acme's tenants' aging numbers.
        app.api("reseller@acme.test")
            .await
            .put("/api/v1/reseller/settings", json!({ "aging_days": 45 }))
            .await;
        let globex = app.api("agent@globex.test").await;
        let number = globex.provisioned(1).await.remove(0);
        release(&globex, &number).await;
        inward::admin::add_org(
            &app.pool,
            inward::domain::policy::OrgKind::Reseller,
            "operator",
            "telco",
            "Telco",
        )
        .await
        .unwrap();
        inward::admin::add_user(
            &app.pool,
            "telco",
            inward::domain::policy::Role::ResellerAdmin,
            "admin@telco.test",
            crate::common::PASSWORD,
        )
        .await
        .unwrap();
        let telco = app.api("admin@telco.test").await;
        let (status, list) = telco.get("/api/v1/reseller/aging").await;
        assert_eq!(status, StatusCode::OK);
        assert!(list["numbers"].as_array().unwrap().is_empty());
        assert_eq!(
            telco.get("/api/v1/reseller/settings").await.1["aging_days"],
            45,
            "a new reseller ages released numbers the FCC's 45 days"
        );
        // Shorter needs the acknowledgement, which is recorded.
        let (status, body) = telco
            .put("/api/v1/reseller/settings", json!({ "aging_days": 30 }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("FCC 18-177")
        );
        let (status, body) = telco
            .put(
                "/api/v1/reseller/settings",
                json!({ "aging_days": 30, "acknowledge_short_aging": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["short_aging_acknowledged_by"], "admin@telco.test");

        let browser = app.browser("reseller@acme.test").await;
        let response = browser
            .post_form("/aging", &[("aging_days", "forty")])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let response = browser.post_form("/aging", &[("aging_days", "10")]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("FCC 18-177"));
        let response = browser
            .post_form(
                "/aging",
                &[("aging_days", "10"), ("acknowledge_short_aging", "true")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, page) = browser.get("/aging").await;
        assert!(page.contains("id=\"short-aging-acknowledged\""), "{page}");
        let response = browser.post_form("/aging", &[("aging_days", "60")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            app.api("reseller@acme.test")
                .await
                .get("/api/v1/reseller/settings")
                .await
                .1["aging_days"],
            60
        );
    })
}
