//! Callers and adapters are cached per instance for a few seconds; a change in the database
//! must retire them through the invalidation triggers (migration 0008), not wait for the TTL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::{Api, spawn_app};

/// Polls `path` until it answers `want`; fails after 5 s (the cache TTL is 10 s, so only an
/// invalidation can make this pass).
async fn until_status(api: &Api, path: &str, want: StatusCode) {
    let started = Instant::now();
    loop {
        let (status, body) = api.get(path).await;
        if status == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} still answers {status} ({body}), expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two answers of `path`, the second once the instance listens and so caches the caller.
async fn warm(api: &Api, path: &str) {
    until_status(api, path, StatusCode::OK).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    until_status(api, path, StatusCode::OK).await;
}

#[test]
fn a_demoted_admin_loses_admin_routes_while_cached() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        warm(&admin, "/api/v1/audit").await;
        sqlx::query("UPDATE users SET role = 'tenant_user' WHERE email = 'admin@globex.test'")
            .execute(&app.pool)
            .await
            .unwrap();
        until_status(&admin, "/api/v1/audit", StatusCode::FORBIDDEN).await;
    })
}

#[test]
fn a_deleted_token_stops_working_while_cached() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        warm(&agent, "/api/v1/reservations").await;
        sqlx::query("DELETE FROM api_tokens")
            .execute(&app.pool)
            .await
            .unwrap();
        until_status(&agent, "/api/v1/reservations", StatusCode::UNAUTHORIZED).await;
    })
}

#[test]
fn a_narrowed_region_applies_to_the_next_search() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        warm(&agent, "/api/v1/numbers/available?country=US&npa=512").await;
        sqlx::query(
            "UPDATE organizations SET allowed_countries = ARRAY['CA'] WHERE slug = 'globex'",
        )
        .execute(&app.pool)
        .await
        .unwrap();
        until_status(
            &agent,
            "/api/v1/numbers/available?country=US&npa=512",
            StatusCode::FORBIDDEN,
        )
        .await;
    })
}
