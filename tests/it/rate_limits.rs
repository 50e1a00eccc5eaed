//! Platforms that throttle: a 429 with `Retry-After: 30` on a token endpoint and on a write is
//! waited out in full and the request then succeeds; and the simulators hold Inward (and
//! anyone else) to the platforms' documented limits.

use std::time::{Duration, Instant};

use inward::providers::simulator::{genesys, genesys_with_state, ringcx_with_state};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::genesys::{Sim, app_with_key, connected, provision};

#[test]
fn a_throttled_token_exchange_is_waited_out_for_the_full_thirty_seconds() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let tokens_before = sim.count("POST", "/oauth/token");
        sim.set(|f| {
            f.rate_limit_matching = Some("POST /oauth/token".into());
            f.rate_limit_next = 1;
            f.retry_after_seconds = 30;
        });
        // The platform forgets the token: the next call needs a new one.
        sim.state.lock().unwrap().tokens.clear();
        let started = Instant::now();
        let (status, body) = agent.get("/api/v1/targets?type=queue").await;
        let waited = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(waited >= Duration::from_secs(30), "waited {waited:?}");
        assert!(waited < Duration::from_secs(45), "waited {waited:?}");
        assert_eq!(
            sim.count("POST", "/oauth/token"),
            tokens_before + 2,
            "one exchange refused, one made after the wait"
        );
    })
}

#[test]
fn a_throttled_write_is_waited_out_for_the_full_thirty_seconds_and_lands_once() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let number = agent.find("npa=317&limit=5", 1).await.remove(0);
        let sales = sim.id_of("queue", "Sales");
        let route = sim.id_of("ivr", "Sales");
        let path = format!("/api/v2/architect/ivrs/{route}");
        sim.set(|f| {
            f.rate_limit_matching = Some(format!("PUT {path}"));
            f.rate_limit_next = 1;
            f.retry_after_seconds = 30;
        });
        let started = Instant::now();
        let (status, body) =
            provision(&agent, &number, json!({ "type": "queue", "id": sales })).await;
        let waited = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(waited >= Duration::from_secs(30), "waited {waited:?}");
        assert_eq!(sim.count("PUT", &path), 2, "refused once, then carried out");
        assert_eq!(sim.owner(&number).map(|(_, kind)| kind), Some("IVR_CONFIG"));
        assert_eq!(app.number_state(&number).await, "active");
    })
}

/// RingCX allows five token exchanges a minute; the sixth is refused with the wait that
/// brings it back under, in RingCX's error shape.
#[test]
fn the_ringcx_simulator_refuses_the_sixth_token_exchange_in_a_minute() {
    crate::db::db_test(|_pool| async move {
        let sim = crate::sim::Sim::start(ringcx_with_state).await;
        let http = reqwest::Client::new();
        let exchange = || {
            http.post(format!(
                "{}/api/auth/login/rc/accesstoken?includeRefresh=true",
                sim.base
            ))
            .form(&[("rcAccessToken", "not-a-token"), ("rcTokenType", "Bearer")])
            .send()
        };
        for _ in 0..5 {
            let answer = exchange().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "counted, refused as invalid"
            );
        }
        let answer = exchange().await.unwrap();
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = answer.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((55..=60).contains(&wait), "Retry-After {wait}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["generalMessage"].is_string(), "{body}");
        // `--ignore-limits` (here through the fault settings) lets it through.
        sim.set(|f| f.ignore_limits = true);
        let answer = exchange().await.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "no longer limited"
        );
    })
}

/// Genesys allows about 300 requests a minute per client token: the 301st with the same
/// token is refused, while another token still gets through.
#[test]
fn the_genesys_simulator_holds_each_token_to_300_requests_a_minute() {
    crate::db::db_test(|_pool| async move {
        let sim = Sim::start(genesys_with_state).await;
        let http = reqwest::Client::new();
        let token = || async {
            let body: Value = http
                .post(format!("{}/oauth/token", sim.base))
                .basic_auth(genesys::CLIENT_ID, Some(genesys::CLIENT_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_string()
        };
        let (first, second) = (token().await, token().await);
        let queues = |bearer: String| {
            http.get(format!("{}/api/v2/routing/queues", sim.base))
                .bearer_auth(bearer)
                .send()
        };
        for i in 0..300 {
            let status = queues(first.clone()).await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "request {i}");
        }
        let refused = queues(first.clone()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["status"], 429, "Genesys ErrorBody: {body}");
        assert_eq!(queues(second).await.unwrap().status(), StatusCode::OK);
    })
}
