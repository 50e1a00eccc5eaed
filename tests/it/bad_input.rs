use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{error_code, spawn_app};

async fn reserved_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM numbers WHERE lifecycle <> 'available'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn malformed_numbers_are_refused_and_change_nothing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let good = api.find("npa=512", 1).await;
        let (status, body) = api.reserve(&[good[0].clone(), "555-CALL-NOW".into()]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("555-CALL-NOW")
        );
        assert_eq!(reserved_count(&app.pool).await, 0);

        let (status, body) = api.reserve(&["+19115550100".into()]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // Forms that would otherwise name the number silently: each is refused, saying why.
        let national = &good[0][2..];
        for (written, why) in [
            (format!("++1{national}"), "at most one leading +"),
            (format!("-1{national}"), "starts with +, a digit"),
            (format!("+1{national}\u{200b}"), "only digits"),
            (
                format!("tel:+1{national};ext=99"),
                "extensions and subaddresses",
            ),
        ] {
            let (status, body) = api.reserve(std::slice::from_ref(&written)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{written:?}: {body}"
            );
            assert!(body.to_string().contains(why), "{written:?}: {body}");
        }
        let (status, body) = api.reserve(&[]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = api.reserve(&["+15129990000".into()]).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a number in no inventory: {body}"
        );
        let (status, _) = api.get("/api/v1/numbers/not-a-number").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reserved_count(&app.pool).await, 0);

        let r = api
            .http
            .post(format!("{}/api/v1/reservations", api.base))
            .bearer_auth(&api.token)
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "unsupported_media_type");
    })
}

#[test]
fn unknown_targets_and_unheld_numbers_are_refused_before_anything_happens() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 2).await;
        let (_, reservation) = api.reserve(&numbers[..1]).await;
        let id = reservation["id"].as_str().unwrap();
        let path = format!("/api/v1/reservations/{id}/provision");
        let provision =
            |assignments: serde_json::Value| api.post(&path, json!({ "assignments": assignments }));

        let (status, body) = provision(json!([{ "number": numbers[0], "target": { "type": "queue", "id": uuid::Uuid::new_v4().to_string() } }])).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("Queue"));
        let (status, body) = provision(
        json!([{ "number": numbers[0], "target": { "type": "queue", "name": "No Such Queue" } }]),
    )
    .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = provision(
            json!([{ "number": numbers[0], "target": { "type": "skill", "name": "x" } }]),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("queue, extension or ivr")
        );
        let (status, body) = provision(
            json!([{ "number": numbers[1], "target": { "type": "queue", "name": "Sales" } }]),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "number_not_held");
        let (status, _) = api
            .post(
                &format!("/api/v1/reservations/{}/provision", uuid::Uuid::new_v4()),
                json!({ "assignments": [] }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        assert_eq!(app.number_state(&numbers[0]).await, "reserved");
        let failures: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'PROVISION'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(failures, 0, "nothing reached the provider");
    })
}

#[test]
fn active_numbers_cannot_be_reserved_again() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap();
        api.post(&format!("/api/v1/reservations/{id}/provision"), json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] })).await;
        let (status, body) = app.api("agent@initech.test").await.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "numbers_unavailable");
        let (status, body) = api
            .post(
                &format!("/api/v1/numbers/{}/release", numbers[0]),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = api
            .post(
                &format!("/api/v1/numbers/{}/release", numbers[0]),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    })
}

#[test]
fn missing_or_wrong_csrf_token_is_refused_and_changes_nothing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let browser = app.browser("agent@globex.test").await;
        let no_token = browser
            .http
            .post(format!("{}/cart/reserve", browser.base))
            .form(&[("number", numbers[0].as_str()), ("q", "npa=512")])
            .send()
            .await
            .unwrap();
        assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
        let wrong = browser
            .http
            .post(format!("{}/cart/reserve", browser.base))
            .form(&[
                ("csrf", "0000"),
                ("number", numbers[0].as_str()),
                ("q", "npa=512"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let json_no_header = browser
            .http
            .post(format!("{}/api/v1/reservations", browser.base))
            .json(&json!({ "numbers": numbers }))
            .send()
            .await
            .unwrap();
        assert_eq!(json_no_header.status(), StatusCode::FORBIDDEN);
        let body: serde_json::Value = json_no_header.json().await.unwrap();
        assert_eq!(error_code(&body), "csrf_failed");
        assert_eq!(app.number_state(&numbers[0]).await, "available");

        let with_header = browser
            .http
            .post(format!("{}/api/v1/reservations", browser.base))
            .header("X-CSRF-Token", &browser.csrf)
            .json(&json!({ "numbers": numbers }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            with_header.status(),
            StatusCode::CREATED,
            "the session may use the API with its CSRF header"
        );
    })
}

#[test]
fn unauthenticated_requests_get_401_or_the_login_page() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let r = app
            .http
            .get(app.url("/api/v1/numbers"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = app
            .http
            .get(app.url("/api/v1/numbers"))
            .bearer_auth("inw_forged")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let no_redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = no_redirect.get(app.url("/search")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login")
        );
    })
}

#[test]
fn control_characters_are_refused_with_422_never_500() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let good = api.find("npa=512", 1).await;

        let (status, body) = api
            .post(
                "/api/v1/reservations",
                json!({ "numbers": good, "justification": "new line\u{0}" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "justification", "{body}");
        assert_eq!(reserved_count(&app.pool).await, 0, "nothing held");

        let number = api.provisioned(1).await.remove(0);
        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{number}/e911"),
                json!({ "street": "600 Congress\u{0} Ave", "city": "Austin", "state": "TX", "zip": "78701", "country": "US" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "street", "{body}");

        // Query strings reach the database through other extractors: still a 4xx.
        for path in [
            "/api/v1/numbers/available?state=TX&rate_center=AUS%00TIN",
            "/api/v1/numbers/available?state=TX&city=Aus%00tin",
            "/api/v1/cities?q=Aus%00",
        ] {
            let (status, body) = api.get(path).await;
            assert!(status.is_client_error(), "{path}: {status} {body}");
        }
    })
}

#[test]
fn after_login_only_paths_of_this_site_are_followed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for (next, expected) in [
            ("/numbers", "/numbers"),
            ("/\t/evil.example", "/"),
            ("//evil.example", "/"),
            ("/numbers\r\nSet-Cookie: stolen=1", "/"),
        ] {
            let response = crate::common::sign_in(
                &http,
                &app.url(""),
                &[
                    ("email", "agent@globex.test"),
                    ("password", crate::common::PASSWORD),
                    ("next", next),
                ],
            )
            .await;
            assert!(
                response.status().is_redirection(),
                "{next:?}: {}",
                response.status()
            );
            assert_eq!(response.headers()["location"], expected, "{next:?}");
        }
    })
}

#[test]
fn sign_in_is_throttled_per_address_known_or_not() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = app.url("");
        let sign_in = |email: &'static str, password: &'static str| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                crate::common::sign_in(
                    &http,
                    &base,
                    &[("email", email), ("password", password), ("next", "/")],
                )
                .await
            }
        };
        for email in ["agent@globex.test", "nobody@globex.test"] {
            for _ in 0..5 {
                assert_eq!(
                    sign_in(email, "wrong password!").await.status(),
                    StatusCode::UNAUTHORIZED
                );
            }
            let locked = sign_in(email, crate::common::PASSWORD).await;
            assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{email}");
            assert!(locked.headers().contains_key("retry-after"));
            assert!(
                locked
                    .text()
                    .await
                    .unwrap()
                    .contains("Too many failed sign-ins")
            );
        }
        // Once the lock has run out, the right password works and the count starts afresh.
        sqlx::query("UPDATE login_throttle SET locked_until = now() - interval '1 second'")
            .execute(&app.pool)
            .await
            .unwrap();
        let signed_in = sign_in("agent@globex.test", crate::common::PASSWORD).await;
        assert!(
            signed_in.status().is_redirection(),
            "{}",
            signed_in.status()
        );
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM login_throttle")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(left, 1, "only the unknown address is still counted");
    })
}

#[test]
fn sign_in_is_throttled_per_client_address_then_lets_it_in_again() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app_with(pool, |c| {
            c.server.sign_in_burst_per_address = 3;
            // One try back every 5 s: the three guesses and the refused sign-in fit in that
            // even when password hashing is slow on a busy machine.
            c.server.sign_ins_per_address_per_minute = 12;
            c.server.client_address_header = "x-forwarded-for".into();
        })
        .await;
        let from = |address: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            // The client's own claim first, the proxy's entry last: only the last counts.
            let chain = format!("203.0.113.99, {address}");
            headers.insert("x-forwarded-for", chain.parse().unwrap());
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap()
        };
        let base = app.url("");
        let sign_in = |http: reqwest::Client, email: &'static str, password: &'static str| {
            let base = base.clone();
            async move {
                crate::common::sign_in(
                    &http,
                    &base,
                    &[("email", email), ("password", password), ("next", "/")],
                )
                .await
            }
        };
        let sprayer = from("198.51.100.7");
        // A guess each at three accounts: under the per-account lock, over the address's.
        for email in [
            "agent@globex.test",
            "admin@globex.test",
            "admin@initech.test",
        ] {
            let answer = sign_in(sprayer.clone(), email, "wrong password!").await;
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{email}");
        }
        let refused = sign_in(
            sprayer.clone(),
            "agent@globex.test",
            crate::common::PASSWORD,
        )
        .await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&wait), "Retry-After: {wait}");
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("Too many sign-in attempts from your network"),
            "{page}"
        );
        let neighbour = sign_in(
            from("198.51.100.8"),
            "agent@globex.test",
            crate::common::PASSWORD,
        )
        .await;
        assert!(
            neighbour.status().is_redirection(),
            "another address is not held back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 100)).await;
        let again = sign_in(sprayer, "agent@globex.test", crate::common::PASSWORD).await;
        assert!(again.status().is_redirection(), "{}", again.status());
    })
}

#[test]
fn the_http_layers_own_refusals_have_the_error_shape() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let token = api.token.clone();
        let send = |request: reqwest::RequestBuilder| {
            let request = request.bearer_auth(&token);
            async move {
                let r = request.send().await.unwrap();
                let status = r.status();
                let allow = r.headers().get("allow").cloned();
                let body: serde_json::Value = r.json().await.expect("a JSON body");
                (
                    status,
                    body["error"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    allow,
                )
            }
        };
        let url = |path: &str| format!("{}{path}", api.base);

        let (status, code, _) = send(
            api.http
                .get(url("/api/v1/numbers/available?state=TX&state=CA")),
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request")
        );

        let (status, code, allow) = send(api.http.patch(url("/api/v1/reservations"))).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
        assert!(allow.is_some(), "Allow is kept");

        let (status, code, _) = send(
            api.http
                .post(url("/api/v1/reservations"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        );

        let big = format!(
            "{{\"numbers\":[],\"justification\":\"{}\"}}",
            "x".repeat(3 << 20)
        );
        let (status, code, _) = send(
            api.http
                .post(url("/api/v1/reservations"))
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        );

        // A page's refusal is a page.
        let browser = app.browser("agent@globex.test").await;
        let page = browser.http.get(app.url("/logout")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            page.text().await.unwrap().contains("<html"),
            "inside the layout"
        );
    })
}
