//! API tokens managed by their users: made (shown once), named, expiring, listed with their
//! last use, revoked at once; admins see and revoke their organization's; nobody else's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, error_code, spawn_app};

fn names(list: &Value) -> Vec<String> {
    list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tokens_are_made_listed_expired_and_revoked() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let (status, made) = agent
            .post(
                "/api/v1/tokens",
                json!({ "name": "CRM sync", "expires_in_days": 30 }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert!(made["expires_at"].is_string(), "{made}");
        let crm = Api {
            token: made["token"].as_str().unwrap().to_string(),
            base: agent.base.clone(),
            http: agent.http.clone(),
        };
        let (status, mine) = crm.get("/api/v1/tokens").await;
        assert_eq!(status, StatusCode::OK, "the new token works: {mine}");
        assert!(names(&mine).contains(&"CRM sync".to_string()), "{mine}");
        let listed = mine["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "CRM sync")
            .unwrap()
            .clone();
        assert!(
            listed["last_used_at"].is_string(),
            "its use is recorded: {listed}"
        );
        assert!(listed.get("token").is_none(), "never shown again");

        // The tenant's admin sees it and may revoke it; another tenant's admin neither.
        let admin = app.api("admin@globex.test").await;
        assert!(names(&admin.get("/api/v1/tokens").await.1).contains(&"CRM sync".to_string()));
        let other = app.api("admin@initech.test").await;
        assert!(!names(&other.get("/api/v1/tokens").await.1).contains(&"CRM sync".to_string()));
        let id = made["id"].as_str().unwrap();
        let (status, _) = other.delete(&format!("/api/v1/tokens/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(crm.get("/api/v1/tokens").await.0, StatusCode::OK);

        // Revoked: refused at once.
        let (status, _) = agent.delete(&format!("/api/v1/tokens/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(crm.get("/api/v1/tokens").await.0, StatusCode::UNAUTHORIZED);
        for (action, count) in [("TOKEN_CREATE", 1), ("TOKEN_REVOKE", 1)] {
            let found: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
                .bind(action)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert_eq!(found, count, "{action}");
        }

        // Expired: refused, even though it was used (and cached) before.
        let (_, short) = agent
            .post(
                "/api/v1/tokens",
                json!({ "name": "short", "expires_in_days": 1 }),
            )
            .await;
        let short_api = Api {
            token: short["token"].as_str().unwrap().to_string(),
            base: agent.base.clone(),
            http: agent.http.clone(),
        };
        assert_eq!(short_api.get("/api/v1/tokens").await.0, StatusCode::OK);
        sqlx::query(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'",
        )
        .execute(&app.pool)
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(
            short_api.get("/api/v1/tokens").await.0,
            StatusCode::UNAUTHORIZED
        );

        for body in [
            json!({ "name": "" }),
            json!({ "name": "x".repeat(65) }),
            json!({ "name": "ok", "expires_in_days": 0 }),
        ] {
            let (status, answer) = agent.post("/api/v1/tokens", body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            assert_eq!(error_code(&answer), "invalid_input", "{answer}");
            assert!(answer["error"]["details"]["field"].is_string(), "{answer}");
        }
    })
}

#[test]
fn the_tokens_page_makes_shows_once_and_revokes() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser.get("/tokens").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("No API tokens") || page.contains("id=\"tokens\""));
        let made = browser
            .post_form(
                "/tokens",
                &[("name", "billing export"), ("expires_in_days", "")],
            )
            .await;
        assert_eq!(made.status(), StatusCode::CREATED);
        let page = made.text().await.unwrap();
        let token = page
            .split("<code id=\"token-value\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .expect("the token is shown once")
            .to_string();
        assert!(token.starts_with("inw_"), "{token}");
        let (_, again) = browser.get("/tokens").await;
        assert!(!again.contains(&token), "not shown again");
        assert!(again.contains("billing export"));
        let bad = browser
            .post_form("/tokens", &[("name", " "), ("expires_in_days", "soon")])
            .await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("number of days"));

        let id: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM api_tokens WHERE name = 'billing export'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let revoked = browser
            .post_form(&format!("/tokens/{id}/revoke"), &[])
            .await;
        assert_eq!(revoked.status(), StatusCode::OK);
        assert!(revoked.text().await.unwrap().contains("revoked"));
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE name = 'billing export'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(left, 0);
    })
}

#[test]
fn a_token_can_act_with_less_than_its_users_role_never_more() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (status, made) = admin
            .post(
                "/api/v1/tokens",
                serde_json::json!({ "name": "provisioning bot", "scope": "tenant_user" }),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{made}");
        assert_eq!(made["scope"], "tenant_user");
        let bot = crate::common::Api {
            base: admin.base.clone(),
            token: made["token"].as_str().unwrap().to_string(),
            http: admin.http.clone(),
        };
        assert_eq!(bot.get("/api/v1/numbers").await.0, reqwest::StatusCode::OK);
        assert_eq!(
            bot.get("/api/v1/users").await.0,
            reqwest::StatusCode::FORBIDDEN,
            "acts as a tenant user, though its user is an admin"
        );
        // A token the bot makes gets no more than the bot has.
        let (status, child) = bot
            .post("/api/v1/tokens", serde_json::json!({ "name": "bot's own" }))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{child}");
        assert_eq!(child["scope"], "tenant_user");
        let child = crate::common::Api {
            base: admin.base.clone(),
            token: child["token"].as_str().unwrap().to_string(),
            http: admin.http.clone(),
        };
        assert_eq!(
            child.get("/api/v1/users").await.0,
            reqwest::StatusCode::FORBIDDEN
        );
        let (_, list) = admin.get("/api/v1/tokens").await;
        let listed = list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "provisioning bot")
            .unwrap()
            .clone();
        assert_eq!(listed["scope"], "tenant_user");

        let agent = app.api("agent@globex.test").await;
        let (status, body) = agent
            .post(
                "/api/v1/tokens",
                serde_json::json!({ "name": "escalate", "scope": "tenant_admin" }),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "scope");
    })
}
