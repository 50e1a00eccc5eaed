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

async fn count_audit(app: &crate::common::TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[test]
fn admins_add_users_and_change_their_roles() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let new = |email: &str, role: &str, password: &str| json!({ "email": email, "role": role, "password": password });
        let first = "a fresh long passphrase";
        let (status, body) = admin
            .post(
                "/api/v1/users",
                new("nina@globex.test", "tenant_user", first),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["role"], "tenant_user");
        assert!(body["last_sign_in_at"].is_null(), "{body}");
        let nina = body["id"].as_str().unwrap().to_string();

        for (body, field, says) in [
            (
                new("NINA@globex.test", "tenant_user", first),
                "",
                "already exists",
            ),
            (
                new("x@globex.test", "reseller_admin", first),
                "role",
                "tenant_admin",
            ),
            (
                new("x@globex.test", "tenant_user", "elevenchars"),
                "password",
                "at least 12",
            ),
            (
                new("x@globex.test", "tenant_user", "Password1234"),
                "password",
                "breaches",
            ),
            (
                new("not an address", "tenant_user", first),
                "email",
                "not an email",
            ),
        ] {
            let (status, answer) = admin.post("/api/v1/users", body.clone()).await;
            assert!(
                status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT,
                "{body}: {status} {answer}"
            );
            assert!(answer.to_string().contains(says), "{body}: {answer}");
            if !field.is_empty() {
                assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
            }
        }
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent
            .post("/api/v1/users", new("y@globex.test", "tenant_admin", first))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a tenant user adds nobody");

        // The new user signs in with the first password; the list shows when.
        let nina_page = app.browser_with("nina@globex.test", first).await;
        assert_eq!(nina_page.get("/users").await.0, StatusCode::FORBIDDEN);
        let (_, list) = admin.get("/api/v1/users").await;
        let row = list["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == nina.as_str())
            .unwrap()
            .clone();
        assert!(row["last_sign_in_at"].is_string(), "{row}");

        // Promoted: the same session may manage users from its next request.
        let (status, body) = admin
            .put(
                &format!("/api/v1/users/{nina}/role"),
                json!({ "role": "tenant_admin" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["role"], "tenant_admin");
        assert_eq!(nina_page.get("/users").await.0, StatusCode::OK);
        let (status, body) = admin
            .put(
                &format!("/api/v1/users/{nina}/role"),
                json!({ "role": "operator" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        let (_, list) = admin.get("/api/v1/users").await;
        let me = id_of(&list, "admin@globex.test");
        let (status, body) = admin
            .put(
                &format!("/api/v1/users/{me}/role"),
                json!({ "role": "tenant_user" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "cannot_change_own_role");
        let other = app.api("admin@initech.test").await;
        let (status, _) = other
            .put(
                &format!("/api/v1/users/{nina}/role"),
                json!({ "role": "tenant_user" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's user");
        assert_eq!(count_audit(&app, "USER_CREATE").await, 1);
        assert_eq!(count_audit(&app, "USER_ROLE").await, 1);
    })
}

#[test]
fn the_users_page_adds_a_user_and_says_why_it_cannot() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;
        let refused = admin
            .post_form(
                "/users",
                &[
                    ("email", "omar@globex.test"),
                    ("role", "tenant_user"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("id=\"user-error\"") && page.contains("at least 12"),
            "{page}"
        );
        assert!(
            page.contains("value=\"omar@globex.test\""),
            "the form keeps the email"
        );
        let added = admin
            .post_form(
                "/users",
                &[
                    ("email", "omar@globex.test"),
                    ("role", "tenant_admin"),
                    ("password", "  spaces count too  "),
                ],
            )
            .await;
        assert_eq!(added.status(), StatusCode::OK);
        assert!(
            added
                .text()
                .await
                .unwrap()
                .contains("omar@globex.test is added as tenant admin")
        );
        // The password is taken as typed, spaces included.
        let omar = app
            .browser_with("omar@globex.test", "  spaces count too  ")
            .await;
        let omar_id: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'omar@globex.test'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(omar.get("/users").await.0, StatusCode::OK);
        let demoted = admin
            .post_form(
                &format!("/users/{omar_id}/role"),
                &[("role", "tenant_user")],
            )
            .await;
        assert!(demoted.text().await.unwrap().contains("is now tenant user"));
        assert_eq!(omar.get("/users").await.0, StatusCode::FORBIDDEN);
    })
}

#[test]
fn users_change_their_password_and_sign_out_elsewhere() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let here = app.browser("agent@globex.test").await;
        let there = app.browser("agent@globex.test").await;
        let (_, page) = here.get("/account").await;
        assert!(page.contains("in 2 places"), "{page}");

        let change = |current: &'static str, new: &'static str, confirm: &'static str| {
            [
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ]
        };
        let fresh = "my own new passphrase";
        for (fields, says) in [
            (
                change("wrong password!", fresh, fresh),
                "not your current password",
            ),
            (change(PASSWORD, fresh, "something else entirely"), "differ"),
            (
                change(PASSWORD, "qwertyuiop123", "qwertyuiop123"),
                "breaches",
            ),
            (change(PASSWORD, PASSWORD, PASSWORD), "same as the current"),
        ] {
            let refused = here.post_form("/account/password", &fields).await;
            assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{says}");
            let page = refused.text().await.unwrap();
            assert!(
                page.contains("id=\"password-error\"") && page.contains(says),
                "{says}: {page}"
            );
        }
        assert_eq!(
            there.get("/numbers").await.0,
            StatusCode::OK,
            "nothing changed yet"
        );

        let changed = here
            .post_form("/account/password", &change(PASSWORD, fresh, fresh))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert!(
            changed
                .text()
                .await
                .unwrap()
                .contains("Sessions ended elsewhere: 1")
        );
        assert!(
            there.get("/numbers").await.0.is_redirection(),
            "the other session ended"
        );
        assert_eq!(
            here.get("/numbers").await.0,
            StatusCode::OK,
            "this one stays"
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let old = [
            ("email", "agent@globex.test"),
            ("password", PASSWORD),
            ("next", "/"),
        ];
        assert_eq!(
            sign_in(&http, &app.url(""), &old).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let elsewhere = app.browser_with("agent@globex.test", fresh).await;
        let done = here.post_form("/account/sign-out-others", &[]).await;
        assert!(
            done.text()
                .await
                .unwrap()
                .contains("Signed out everywhere else (1 sessions)")
        );
        assert!(elsewhere.get("/numbers").await.0.is_redirection());
        assert_eq!(here.get("/numbers").await.0, StatusCode::OK);

        // Over the API: no session is current, so all of them end.
        let api = app.api("agent@globex.test").await;
        let (status, me) = api.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["sessions"], 1, "{me}");
        let (status, body) = api.delete("/api/v1/me/sessions").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sessions_ended"], 1);
        assert!(here.get("/numbers").await.0.is_redirection());
        let (status, body) = api
            .post(
                "/api/v1/me/password",
                json!({ "current_password": fresh, "new_password": "short" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "new_password");
        assert_eq!(count_audit(&app, "PASSWORD_CHANGE").await, 1);
        assert_eq!(count_audit(&app, "SESSIONS_END").await, 2);
        // Guessing the current password here locks like the sign-in form does.
        for _ in 0..5 {
            let (status, _) = api
                .post("/api/v1/me/password", json!({ "current_password": "a wrong guess!!", "new_password": "whatever long enough" }))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let (status, body) = api
            .post(
                "/api/v1/me/password",
                json!({ "current_password": fresh, "new_password": "whatever long enough" }),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(error_code(&body), "too_many_attempts");
    })
}
