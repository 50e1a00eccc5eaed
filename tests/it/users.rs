//! An organization's admins disable and enable its users: a disabled user is signed out
//! everywhere, its API tokens end at once, and it cannot sign in until enabled again.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, error_code, sign_in, spawn_app};

fn id_of(list: &Value, email: &str) -> String {
    list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_disabled_user_is_refused_everywhere_at_once_until_enabled() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let agent_api = app.api("agent@globex.test").await;
        let agent_page = app.browser("agent@globex.test").await;
        assert_eq!(agent_page.get("/numbers").await.0, StatusCode::OK);

        let (status, list) = admin.get("/api/v1/users").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let agent = id_of(&list, "agent@globex.test");
        let me = id_of(&list, "admin@globex.test");
        let other = app.api("admin@initech.test").await;
        let (_, theirs) = other.get("/api/v1/users").await;
        assert!(!theirs.to_string().contains("globex"), "{theirs}");
        let (status, _) = other
            .post(&format!("/api/v1/users/{agent}/disable"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's user");
        assert_eq!(
            agent_api.get("/api/v1/users").await.0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = admin
            .post(&format!("/api/v1/users/{me}/disable"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "cannot_disable_self");

        let (status, body) = admin
            .post(&format!("/api/v1/users/{agent}/disable"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["disabled_at"].is_string(), "{body}");
        assert_eq!(
            agent_api.get("/api/v1/numbers").await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, _) = agent_page.get("/numbers").await;
        assert!(status.is_redirection(), "signed out: {status}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let fields = [
            ("email", "agent@globex.test"),
            ("password", PASSWORD),
            ("next", "/"),
        ];
        let refused = sign_in(&http, &app.url(""), &fields).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

        let (status, body) = admin
            .post(&format!("/api/v1/users/{agent}/enable"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["disabled_at"].is_null(), "{body}");
        let back = sign_in(&http, &app.url(""), &fields).await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            agent_api.get("/api/v1/numbers").await.0,
            StatusCode::UNAUTHORIZED,
            "its old API token stays ended"
        );
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action IN ('USER_DISABLE', 'USER_ENABLE')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(audited, 2);
    })
}

#[test]
fn the_users_page_disables_and_enables() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;
        let (status, page) = admin.get("/users").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("agent@globex.test"), "{page}");
        let agent: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'agent@globex.test'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let done = admin
            .post_form(&format!("/users/{agent}/disable"), &[])
            .await;
        assert_eq!(done.status(), StatusCode::OK);
        assert!(done.text().await.unwrap().contains("is disabled"));
        let done = admin
            .post_form(&format!("/users/{agent}/enable"), &[])
            .await;
        assert!(done.text().await.unwrap().contains("can sign in again"));
        let agent_page = app.browser("agent@globex.test").await;
        assert_eq!(agent_page.get("/users").await.0, StatusCode::FORBIDDEN);
    })
}
