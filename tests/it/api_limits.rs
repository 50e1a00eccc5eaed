//! The API's rate limits: every answer says where the caller stands; past the limit a
//! request is refused with 429, `Retry-After` and the JSON error, without running; each
//! credential and role is counted apart; pages are not limited; after the wait the caller is
//! let through again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{error_code, spawn_app_with};

/// Tenant users get 60 a minute with a burst of 3 (3 seconds' worth); tenant admins 600.
fn tight(config: &mut inward::config::AppConfig) {
    config.rate_limits.tenant_user_per_minute = 60;
    config.rate_limits.tenant_admin_per_minute = 600;
    config.rate_limits.burst_seconds = 3;
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

#[test]
fn a_token_past_its_limit_is_refused_with_a_wait_and_nothing_runs() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, tight).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.find("state=TX&npa=512", 1).await.remove(0);
        let get = |path: &str| {
            agent
                .http
                .get(format!("{}{path}", agent.base))
                .bearer_auth(&agent.token)
                .send()
        };

        // `find` above spent one of the burst of 3.
        let mut remaining = Vec::new();
        for _ in 0..2 {
            let r = get("/api/v1/reservations").await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "ratelimit-limit"), Some(3));
            remaining.push(header(&r, "ratelimit-remaining").unwrap());
            assert!(header(&r, "ratelimit-reset").unwrap() >= 1);
        }
        assert_eq!(remaining, vec![1, 0], "counted down to the last one");

        // One too many: a hold asked for now is refused before it runs.
        let r = agent
            .http
            .post(format!("{}/api/v1/reservations", agent.base))
            .bearer_auth(&agent.token)
            .json(&json!({ "numbers": [number] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = header(&r, "retry-after").expect("Retry-After");
        assert!(
            (1..=2).contains(&wait),
            "one request a second comes back: {wait}"
        );
        assert_eq!(header(&r, "ratelimit-remaining"), Some(0));
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "rate_limited", "{body}");
        assert_eq!(body["error"]["details"]["retry_after_seconds"], wait);
        assert_eq!(
            app.number_state(&number).await,
            "available",
            "the refused hold did not run"
        );

        // Another credential, and another role, are counted apart.
        let colleague = app.api("agent@globex.test").await;
        assert_eq!(
            colleague.get("/api/v1/reservations").await.0,
            StatusCode::OK
        );
        let admin = app.api("admin@globex.test").await;
        let r = admin
            .http
            .get(format!("{}/api/v1/reservations", admin.base))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "ratelimit-limit"),
            Some(30),
            "600 a minute, 3 s of it"
        );

        // After the wait, the token is let through again, and the hold is made.
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let (status, held) = agent.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        assert_eq!(app.number_state(&number).await, "reserved");
    })
}

#[test]
fn a_browser_session_is_limited_on_the_api_but_its_pages_are_not() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, tight).await;
        let browser = app.browser("agent@globex.test").await;
        let api = |path: &'static str| {
            let url = format!("{}{path}", browser.base);
            let http = browser.http.clone();
            async move { http.get(url).send().await.unwrap() }
        };
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(api("/api/v1/reservations").await.status());
        }
        assert_eq!(
            statuses,
            vec![
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::TOO_MANY_REQUESTS
            ]
        );
        for _ in 0..5 {
            let (status, page) = browser.get("/numbers").await;
            assert_eq!(status, StatusCode::OK, "pages are not limited: {page}");
        }
        let page = browser
            .http
            .get(format!("{}/numbers", browser.base))
            .send()
            .await
            .unwrap();
        assert!(page.headers().get("ratelimit-limit").is_none());

        // Signing in again is a new session, counted afresh.
        let again = app.browser("agent@globex.test").await;
        let r = again
            .http
            .get(format!("{}/api/v1/reservations", again.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    })
}
