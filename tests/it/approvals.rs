//! Premium approvals: granted, declined, timed out; who may approve; the hold's clock.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code, spawn_app, spawn_app_with};

/// A premium toll-free number (spells FOOD) and a plain local one.
async fn premium_and_plain(api: &Api) -> (String, String) {
    let (_, body) = api
        .get("/api/v1/numbers/available?kind=toll_free&pattern=8XX-OUR-FOOD")
        .await;
    let premium = body["numbers"][0]["e164"].as_str().unwrap().to_string();
    assert_eq!(body["numbers"][0]["premium"], "spells FOOD");
    let (_, body) = api.get("/api/v1/numbers/available?npa=512&limit=50").await;
    let plain = body["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["premium"].is_null())
        .unwrap()["e164"]
        .as_str()
        .unwrap()
        .to_string();
    (premium, plain)
}

async fn reserve_with_justification(api: &Api, numbers: &[&str]) -> Value {
    let (status, body) = api
        .post(
            "/api/v1/reservations",
            json!({ "numbers": numbers, "justification": "vanity line for the food campaign" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn provision_body(numbers: &[&str]) -> Value {
    json!({ "assignments": numbers.iter().map(|n| json!({ "number": n, "target": { "type": "queue", "name": "Sales" } })).collect::<Vec<_>>() })
}

fn seconds_from_now(v: &Value) -> i64 {
    let at: DateTime<Utc> = v.as_str().unwrap().parse().unwrap();
    (at - Utc::now()).num_seconds()
}

async fn approval_status(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM approvals WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[test]
fn a_premium_hold_waits_for_approval_then_gets_the_full_hold_time() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let (premium, plain) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium, &plain]).await;
        let id = reservation["id"].as_str().unwrap();
        assert_eq!(reservation["approval"]["status"], "pending");
        let wait = seconds_from_now(&reservation["expires_at"]);
        assert!(
            (14_300..=14_400).contains(&wait),
            "the hold is kept up to the 4-hour cap: {wait}"
        );

        let path = format!("/api/v1/reservations/{id}/provision");
        let (status, body) = agent.post(&path, provision_body(&[&plain])).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "approval_pending");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("a tenant admin")
        );

        // The page offers no provisioning while the approval is pending, and says why.
        let (_, page) = app
            .browser("agent@globex.test")
            .await
            .get(&format!("/reservations/{id}"))
            .await;
        assert!(
            page.contains("Can be provisioned once approved.")
                && !page.contains("provision-form")
                && !page.contains("provision-all-form"),
            "{page}"
        );

        // The approver sees the price and the justification.
        let (status, list) = admin.get("/api/v1/approvals?status=pending").await;
        assert_eq!(status, StatusCode::OK);
        let approval = &list["approvals"][0];
        let approval_id = approval["id"].as_str().unwrap();
        assert_eq!(
            approval["justification"],
            "vanity line for the food campaign"
        );
        assert_eq!(approval["requested_by_email"], "agent@globex.test");
        assert_eq!(
            approval["numbers"].as_array().unwrap().len(),
            1,
            "only the premium number"
        );
        assert_eq!(approval["numbers"][0]["e164"], premium.as_str());
        assert_eq!(approval["numbers"][0]["monthly"], "$10.00");
        assert_eq!(approval["numbers"][0]["premium"], "spells FOOD");
        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get("/approvals").await;
        assert!(
            page.contains("vanity line for the food campaign")
                && page.contains("$10.00")
                && page.contains("spells FOOD"),
            "{page}"
        );

        let (status, decided) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({ "reason": "campaign budget ok" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["status"], "approved");
        assert_eq!(decided["decided_by_email"], "admin@globex.test");
        let (_, shown) = agent.get(&format!("/api/v1/reservations/{id}")).await;
        let left = shown["seconds_left"].as_i64().unwrap();
        assert!(
            (880..=900).contains(&left),
            "the clock restarts with the full hold time: {left}"
        );
        assert_eq!(shown["approval"]["status"], "approved");

        let (status, body) = agent.post(&path, provision_body(&[&premium, &plain])).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.number_state(&premium).await, "active");
        assert_eq!(
            app.audit_count(&premium, "APPROVAL_REQUEST", "SUCCESS")
                .await,
            1
        );
        assert_eq!(app.audit_count(&premium, "APPROVE", "SUCCESS").await, 1);
        let (status, again) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/decline"),
                json!({ "reason": "late" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&again), "approval_decided");

        // The requester is told in the portal.
        let requester = app.browser("agent@globex.test").await;
        let (_, page) = requester.get("/notifications").await;
        assert!(
            page.contains("id=\"notifications\"")
                && page.contains("were approved by admin@globex.test"),
            "{page}"
        );
    })
}

#[test]
fn a_declined_premium_number_goes_back_and_the_rest_stays_usable() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let (premium, plain) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium, &plain]).await;
        let id = reservation["id"].as_str().unwrap();
        let approval_id = reservation["approval"]["id"].as_str().unwrap();

        let (status, body) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/decline"),
                json!({}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a decline needs a reason"
        );
        assert_eq!(body["error"]["details"]["field"], "reason");
        let (status, decided) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/decline"),
                json!({ "reason": "no budget for vanity numbers" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["status"], "declined");
        assert_eq!(decided["reason"], "no budget for vanity numbers");
        assert_eq!(app.number_state(&premium).await, "available");
        assert_eq!(app.number_state(&plain).await, "reserved");
        assert_eq!(app.audit_count(&premium, "DECLINE", "SUCCESS").await, 1);

        let (_, shown) = agent.get(&format!("/api/v1/reservations/{id}")).await;
        assert!(
            shown["seconds_left"].as_i64().unwrap() <= 900,
            "the rest keeps a normal hold"
        );
        let (status, body) = agent
            .post(
                &format!("/api/v1/reservations/{id}/provision"),
                provision_body(&[&plain]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let requester = app.browser("agent@globex.test").await;
        let (_, page) = requester.get(&format!("/reservations/{id}")).await;
        assert!(
            page.contains("id=\"approval\" data-status=\"declined\"")
                && page.contains("no budget for vanity numbers"),
            "{page}"
        );
        let (_, page) = requester.get("/notifications").await;
        assert!(page.contains("were declined by admin@globex.test: no budget for vanity numbers"));
    })
}

#[test]
fn an_approval_that_never_comes_ends_the_hold_at_the_cap() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.premium_approval_max_wait_seconds = 1).await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let (premium, _) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium]).await;
        let approval_id = reservation["approval"]["id"].as_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

        let (_, pending) = admin.get("/api/v1/approvals?status=pending").await;
        assert!(
            pending["approvals"].as_array().unwrap().is_empty(),
            "past the deadline it is no longer pending"
        );
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.approvals_expired, 1);
        assert_eq!(report.expired, 1, "the hold expired at the cap");
        assert_eq!(approval_status(&app, &approval_id).await, "expired");
        assert_eq!(app.number_state(&premium).await, "available");
        assert_eq!(app.audit_count(&premium, "APPROVE", "EXPIRED").await, 1);
        let (status, _) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, page) = app
            .browser("agent@globex.test")
            .await
            .get("/notifications")
            .await;
        assert!(
            page.contains("in time; they went back to inventory"),
            "{page}"
        );
    })
}

#[test]
fn approving_after_the_deadline_but_before_the_sweeper_is_refused() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.premium_approval_max_wait_seconds = 1).await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let (premium, _) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium]).await;
        let approval_id = reservation["approval"]["id"].as_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let (status, body) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        assert_eq!(error_code(&body), "approval_expired");
        assert_eq!(approval_status(&app, &approval_id).await, "expired");
    })
}

#[test]
fn who_approves_follows_the_tenant_policy() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let reseller = app.api("reseller@acme.test").await;
        let (premium, _) = premium_and_plain(&agent).await;

        // An approver reserving needs nobody else's approval.
        let (_, reservation) = admin.reserve(std::slice::from_ref(&premium)).await;
        assert_eq!(reservation["approval"], json!(null));
        admin
            .delete(&format!(
                "/api/v1/reservations/{}",
                reservation["id"].as_str().unwrap()
            ))
            .await;

        // The reseller approves when the tenant says so; the tenant admin then cannot.
        let (status, _) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "premium_approver": "reseller" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let reservation = reserve_with_justification(&agent, &[&premium]).await;
        let approval_id = reservation["approval"]["id"].as_str().unwrap();
        let (status, body) = admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("approved by its reseller")
        );
        let (_, list) = reseller.get("/api/v1/approvals").await;
        assert_eq!(list["approvals"][0]["id"], approval_id);
        assert_eq!(list["approvals"][0]["tenant_name"], "Globex Support");
        let (status, decided) = reseller
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["decided_by_email"], "reseller@acme.test");
        admin
            .delete(&format!(
                "/api/v1/reservations/{}",
                reservation["id"].as_str().unwrap()
            ))
            .await;

        // No approval at all. Once the reseller approves, a tenant admin cannot lift that;
        // the reseller's side of it is the database here.
        let (status, _) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "premium_approver": "none" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        sqlx::query("UPDATE tenant_settings SET premium_approver = 'none' WHERE tenant_id = $1")
            .bind(app.tenant_id("globex").await)
            .execute(&app.pool)
            .await
            .unwrap();
        let (_, reservation) = agent.reserve(std::slice::from_ref(&premium)).await;
        assert_eq!(reservation["approval"], json!(null));
        assert!(seconds_from_now(&reservation["expires_at"]) <= 900);
        let (status, _) = admin
            .put(
                "/api/v1/tenant/settings",
                json!({ "premium_approver": "boss" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    })
}

#[test]
fn approvals_stay_inside_their_tenant_and_reseller() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let (premium, _) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium]).await;
        let approval_id = reservation["approval"]["id"].as_str().unwrap();

        let other_admin = app.api("admin@initech.test").await;
        let other_agent = app.api("agent@initech.test").await;
        for api in [&other_admin, &other_agent] {
            let (_, list) = api.get("/api/v1/approvals").await;
            assert!(list["approvals"].as_array().unwrap().is_empty());
        }
        let (status, _) = other_admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = other_admin
            .post(
                &format!("/api/v1/approvals/{approval_id}/decline"),
                json!({ "reason": "x" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Globex routes approvals to its admin, so the reseller does not see them.
        let (_, list) = app
            .api("reseller@acme.test")
            .await
            .get("/api/v1/approvals")
            .await;
        assert!(list["approvals"].as_array().unwrap().is_empty());
        let (status, _) = app
            .api("reseller@acme.test")
            .await
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The requester sees their own request but cannot decide it.
        let (_, mine) = agent.get("/api/v1/approvals").await;
        assert_eq!(mine["approvals"][0]["id"], approval_id);
        let (status, _) = agent
            .post(
                &format!("/api/v1/approvals/{approval_id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .api("operator@inward.test")
            .await
            .get("/api/v1/approvals")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Pages too.
        let browser = app.browser("admin@initech.test").await;
        let response = browser
            .post_form(&format!("/approvals/{approval_id}/approve"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (_, page) = browser.get("/approvals").await;
        assert!(page.contains("Nothing to approve"));
        assert_eq!(approval_status(&app, approval_id).await, "pending");
    })
}

#[test]
fn an_admin_approves_and_declines_from_the_approvals_page() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let (premium, _) = premium_and_plain(&agent).await;
        let reservation = reserve_with_justification(&agent, &[&premium]).await;
        let approval_id = reservation["approval"]["id"].as_str().unwrap();
        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                &format!("/approvals/{approval_id}/decline"),
                &[("reason", "")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("say why"));
        let response = browser
            .post_form(
                &format!("/approvals/{approval_id}/approve"),
                &[("reason", "ok")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, page) = browser.get("/approvals?notice=approved").await;
        assert!(
            page.contains("Approved: the requester has been told")
                && page.contains("approved by admin@globex.test"),
            "{page}"
        );
    })
}

#[test]
fn the_bell_counts_unread_notifications_and_the_page_reads_them() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'agent@globex.test'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let globex = app.tenant_id("globex").await;
        let mut conn = app.pool.acquire().await.unwrap();
        for message in ["Premium numbers approved", "Port request: acknowledged"] {
            inward::notifications::notify(
                &mut conn,
                inward::domain::UserId(agent),
                inward::domain::TenantId(globex),
                message,
                "/reservations",
            )
            .await
            .unwrap();
        }
        drop(conn);
        let page = app.browser("agent@globex.test").await;
        let (_, bell) = page.get("/notifications/bell").await;
        assert!(
            bell.contains("bell-count\">2<") && bell.contains(" unread"),
            "{bell}"
        );
        let (_, other) = app
            .browser("admin@globex.test")
            .await
            .get("/notifications/bell")
            .await;
        assert!(
            !other.contains("bell-count"),
            "another user's are not counted: {other}"
        );
        let api = app.api("agent@globex.test").await;
        let (_, listed) = api.get("/api/v1/notifications").await;
        assert_eq!(listed["unread"], 2, "{listed}");

        let (_, html) = page.get("/notifications").await;
        assert!(
            html.contains("Premium numbers approved") && html.contains(">new<"),
            "{html}"
        );
        let (_, bell) = page.get("/notifications/bell").await;
        assert!(!bell.contains("bell-count"), "read once shown: {bell}");
        let (_, html) = page.get("/notifications").await;
        assert!(!html.contains(">new<"));
        let (status, marked) = api.post("/api/v1/notifications/read", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(marked["marked"], 0);
    })
}
