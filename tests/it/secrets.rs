//! Sealed secrets bound to their row, and key rotation: a ciphertext moved to another
//! connection does not open there, and says which connection; `inward secrets rotate` seals
//! every credential and PIN again under a new key while the old one is still accepted.

use std::process::Command;

use inward::providers::simulator::genesys::{CLIENT_ID, CLIENT_SECRET};
use inward::providers::simulator::genesys_with_state;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::genesys::{SECRET_KEY, Sim, app_with_key};

const NEW_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn connect(api: &crate::common::Api, sim: &Sim) -> String {
    let (status, body) = api
        .post(
            "/api/v1/connections",
            json!({ "kind": "genesys", "base_url": sim.base, "credentials": { "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn test_connection(api: &crate::common::Api, id: &str) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await
}

#[test]
fn credentials_swapped_between_connections_open_for_neither() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let globex = app.api("admin@globex.test").await;
        let initech = app.api("admin@initech.test").await;
        let (a, b) = (connect(&globex, &sim).await, connect(&initech, &sim).await);
        let (status, _) = test_connection(&globex, &a).await;
        assert_eq!(status, StatusCode::OK);

        // Behind the application's back, the two ciphertexts trade places.
        let swapped = sqlx::query(
            "UPDATE connections x SET credentials = y.credentials FROM connections y
             WHERE x.tenant_id <> y.tenant_id AND y.credentials IS NOT NULL",
        )
        .execute(&app.pool)
        .await
        .unwrap();
        assert_eq!(swapped.rows_affected(), 2);
        // A fresh instance: nothing opened before the swap is cached.
        let fresh = crate::common::another_instance(&app, |c| {
            c.providers.targets_cache_seconds = 0;
        })
        .await;
        for (email, id) in [("admin@globex.test", &a), ("admin@initech.test", &b)] {
            let api = fresh.api(email).await;
            let (status, body) = test_connection(&api, id).await;
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "credentials_unreadable", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(id.as_str()),
                "names the connection: {message}"
            );
            let (status, body) = api.get("/api/v1/targets?type=queue").await;
            assert_eq!(status, StatusCode::CONFLICT, "no 5xx anywhere: {body}");
        }
    })
}

#[test]
fn rotating_the_key_seals_everything_again_and_the_old_key_can_go() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let admin = app.api("admin@globex.test").await;
        let id = connect(&admin, &sim).await;
        let (status, port) = admin
            .post(
                "/api/v1/ports",
                crate::porting::request(&["+13126200501"], "2468"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{port}");
        let (status, hook) = admin
            .post(
                "/api/v1/webhooks",
                serde_json::json!({ "url": "http://127.0.0.1:9/hook", "events": ["number.reserved"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        crate::sso::unanswered_globex_provider(&app).await;

        // The new key alone cannot open what the old one sealed, and says so.
        let new_only =
            crate::common::another_instance(&app, |c| c.secrets.key = NEW_KEY.into()).await;
        let (status, body) = test_connection(&new_only.api("admin@globex.test").await, &id).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("neither secrets.key nor"),
            "{body}"
        );

        let rotate = || {
            let out = Command::new(env!("CARGO_BIN_EXE_inward"))
                .args(["secrets", "rotate"])
                .env("DATABASE_URL", &url)
                .env("INWARD_SECRETS__KEY", NEW_KEY)
                .env("INWARD_SECRETS__PREVIOUS_KEYS", SECRET_KEY)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        };
        let first = rotate();
        assert_eq!(first["connections"]["resealed"], 1, "{first}");
        assert_eq!(first["port_pins"]["resealed"], 1, "{first}");
        assert_eq!(first["webhooks"]["resealed"], 1, "{first}");
        assert_eq!(first["identity_providers"]["resealed"], 1, "{first}");
        let again = rotate();
        for kind in ["connections", "webhooks", "identity_providers"] {
            assert_eq!(again[kind]["resealed"], 0, "{again}");
            assert_eq!(again[kind]["current"], 1, "{again}");
        }

        let new_only =
            crate::common::another_instance(&app, |c| c.secrets.key = NEW_KEY.into()).await;
        let (status, body) = test_connection(&new_only.api("admin@globex.test").await, &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ok"], true, "{body}");

        // Without the new key in the list, rotating refuses rather than guessing.
        let out = Command::new(env!("CARGO_BIN_EXE_inward"))
            .args(["secrets", "rotate"])
            .env("DATABASE_URL", &url)
            .env("INWARD_SECRETS__KEY", SECRET_KEY)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("open with none of the configured keys")
        );
    })
}
