//! The API's rate limits: every answer says where the caller stands; past the limit a
//! request is refused with 429, `Retry-After` and the JSON error, without running; each user
//! is counted apart, with all of the user's tokens and sessions together; pages are not
//! limited; after the wait the caller is let through again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, error_code, spawn_app_with};

/// Tenant users get 6 a minute with a burst of 3 (30 seconds' worth): one comes back every
/// 10 s, so a slow machine does not refill the burst between a test's requests. Tenant
/// admins get 600 a minute, 300 at once.
fn tight(config: &mut inward::config::AppConfig) {
    config.rate_limits.tenant_user_per_minute = 6;
    config.rate_limits.tenant_admin_per_minute = 600;
    config.rate_limits.burst_seconds = 30;
}

async fn get_with(api: &Api, path: &str) -> reqwest::Response {
    api.http
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

#[test]
fn a_user_past_the_limit_is_refused_with_a_wait_and_nothing_runs() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, tight).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.find("state=TX&npa=512", 1).await.remove(0);

        // `find` above spent one of the burst of 3.
        let mut remaining = Vec::new();
        for _ in 0..2 {
            let r = get_with(&agent, "/api/v1/reservations").await;
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
            (1..=10).contains(&wait),
            "one request comes back every 10 s: {wait}"
        );
        assert_eq!(header(&r, "ratelimit-remaining"), Some(0));
        assert!(
            header(&r, "ratelimit-reset").unwrap() > wait,
            "the whole burst takes longer to come back than one request"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "rate_limited", "{body}");
        assert_eq!(body["error"]["details"]["retry_after_seconds"], wait);
        assert_eq!(
            app.number_state(&number).await,
            "available",
            "the refused hold did not run"
        );

        // A new token of the same user shares the allowance; another user has their own.
        let minted = app.api("agent@globex.test").await;
        let r = get_with(&minted, "/api/v1/reservations").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let other = app.api("agent@initech.test").await;
        assert_eq!(other.get("/api/v1/reservations").await.0, StatusCode::OK);
        let admin = app.api("admin@globex.test").await;
        let r = get_with(&admin, "/api/v1/reservations").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "ratelimit-limit"),
            Some(300),
            "600 a minute, 30 s of it"
        );

        // After the wait, the token is let through again, and the hold is made.
        tokio::time::sleep(Duration::from_secs(wait)).await;
        // A new connection: the server closes keep-alive connections idle this long.
        let agent = Api {
            http: reqwest::Client::new(),
            ..agent
        };
        let (status, held) = agent.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        assert_eq!(app.number_state(&number).await, "reserved");
    })
}

#[test]
fn a_browser_session_is_limited_on_the_api_but_pages_are_not() {
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

        // Signing in again does not start the count afresh; another user has their own.
        for (email, expected) in [
            ("agent@globex.test", StatusCode::TOO_MANY_REQUESTS),
            ("agent@initech.test", StatusCode::OK),
        ] {
            let session = app.browser(email).await;
            let r = session
                .http
                .get(format!("{}/api/v1/reservations", session.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected, "{email}");
        }
    })
}
