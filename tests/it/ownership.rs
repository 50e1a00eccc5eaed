//! A tenant proves it holds an external number it uploaded: a code sent to the number through
//! the sandbox carrier, typed back, and the number marked verified.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, spawn_app};
use crate::inventory::{HEADER, run_upload};

/// Globex may upload its own numbers; it uploads +12085360100.
async fn globex_external(app: &TestApp) -> crate::common::Api {
    sqlx::query("UPDATE organizations SET allow_external_numbers = true WHERE slug = 'globex'")
        .execute(&app.pool)
        .await
        .unwrap();
    let admin = app.api("admin@globex.test").await;
    let job = run_upload(
        &admin,
        &format!("{HEADER}1,2085360100,TRUE,TRUE,FALSE,,,\n"),
        "all_or_nothing",
        false,
    )
    .await;
    assert_eq!(job["counts"]["added"], 1, "{job}");
    admin
}

async fn sent_code(app: &TestApp) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM sandbox_messages WHERE e164 = '+12085360100' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    body.chars().filter(char::is_ascii_digit).take(6).collect()
}

#[test]
fn a_code_sent_to_the_number_and_typed_back_verifies_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = globex_external(&app).await;
        let path = "/api/v1/inventory/+12085360100/ownership";
        let (status, err) = admin
            .post(&format!("{path}/confirm"), json!({ "code": "000000" }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["code"], "no_code_sent");
        let (status, sent) = admin.post(path, json!({ "channel": "sms" })).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
        let code = sent_code(&app).await;
        assert_eq!(code.len(), 6);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, err) = admin
            .post(&format!("{path}/confirm"), json!({ "code": wrong }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["code"], "wrong_code");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("4 tries left")
        );
        let (status, done) = admin
            .post(&format!("{path}/confirm"), json!({ "code": code }))
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        let (_, listed) = admin.get("/api/v1/inventory?q=2085360100").await;
        assert!(
            listed["numbers"][0]["ownership_verified_at"].is_string(),
            "{listed}"
        );
        // The code is spent.
        let (_, again) = admin
            .post(&format!("{path}/confirm"), json!({ "code": code }))
            .await;
        assert_eq!(again["error"]["code"], "no_code_sent");
        assert_eq!(
            app.audit_count("+12085360100", "UPDATE_CAPABILITIES", "SUCCESS")
                .await,
            2
        );

        // Numbers that are not the tenant's own, and callers that are not its admins.
        let (status, _) = admin
            .post("/api/v1/inventory/+15125550100/ownership", json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "the reseller's stock");
        let other = app.api("admin@initech.test").await;
        let (status, _) = other.post(path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent.post(path, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, err) = admin.post(path, json!({ "channel": "fax" })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "channel");
    })
}

#[test]
fn a_code_runs_out_in_time_and_in_tries() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = globex_external(&app).await;
        let path = "/api/v1/inventory/+12085360100/ownership";
        let (status, _) = admin.post(path, json!({ "channel": "voice" })).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let code = sent_code(&app).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            admin
                .post(&format!("{path}/confirm"), json!({ "code": wrong }))
                .await;
        }
        let (_, err) = admin
            .post(&format!("{path}/confirm"), json!({ "code": code }))
            .await;
        assert_eq!(
            err["error"]["code"], "too_many_tries",
            "even the right code"
        );
        // A new code starts again; past ten minutes it is refused.
        admin.post(path, json!({ "channel": "sms" })).await;
        let code = sent_code(&app).await;
        sqlx::query("UPDATE ownership_checks SET expires_at = now() - interval '1 second'")
            .execute(&app.pool)
            .await
            .unwrap();
        let (_, err) = admin
            .post(&format!("{path}/confirm"), json!({ "code": code }))
            .await;
        assert_eq!(err["error"]["code"], "code_expired");
        let verified: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT ownership_verified_at FROM numbers WHERE e164 = '+12085360100'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(verified, None);
    })
}

#[test]
fn the_inventory_page_leads_to_the_check_and_shows_the_number_verified() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        globex_external(&app).await;
        let browser = app.browser("admin@globex.test").await;
        let (_, inventory) = browser.get("/inventory?q=2085360100").await;
        assert!(
            inventory.contains("href=\"/inventory/numbers/+12085360100/ownership\""),
            "{inventory}"
        );
        let page = "/inventory/numbers/+12085360100/ownership";
        let r = browser.post_form(page, &[("channel", "sms")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let sent = r.text().await.unwrap();
        assert!(sent.contains("id=\"sandbox-message\""), "{sent}");
        let r = browser
            .post_form(&format!("{page}/confirm"), &[("code", "not it")])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("id=\"ownership-error\""));
        let code = sent_code(&app).await;
        let r = browser
            .post_form(&format!("{page}/confirm"), &[("code", &code)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, shown) = browser.get(page).await;
        assert!(shown.contains("id=\"verified\""), "{shown}");
        let (_, inventory) = browser.get("/inventory?q=2085360100").await;
        assert!(inventory.contains(">Verified</span>"), "{inventory}");
    })
}
