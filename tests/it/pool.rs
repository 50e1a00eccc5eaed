//! No request holds a pool connection while it waits for a second one: under load every
//! connection can be held that way at once, and then every request waits until the pool's
//! timeout. A pool with one connection for requests shows it at once, with a cold cache
//! (the adapter is read from the database on the first request). The pool has two: the
//! cache-invalidation listener keeps one for itself.

use std::time::Duration;

use reqwest::StatusCode;
use sqlx::postgres::PgPoolOptions;

use crate::common::spawn_app;

#[test]
fn one_connection_for_requests_serves_a_search_and_a_number_page() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool.clone()).await;
        let numbers = app.api("agent@globex.test").await.provisioned(1).await;

        let one = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with((*pool.connect_options()).clone())
            .await
            .unwrap();
        let small = spawn_app(one).await;
        let browser = small.browser("agent@globex.test").await;
        let (status, page) = browser.get(&format!("/numbers/{}", numbers[0])).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Sales"), "the number page names its queue");

        let api = small.api("agent@globex.test").await;
        let (status, body) = api.get("/api/v1/numbers/available?npa=512").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body["numbers"].as_array().unwrap().is_empty(), "{body}");
    })
}

/// The tenant's number list (its statement keeps its plan on the search pool, with the
/// lifecycle and the limit written into the SQL): filtered by state and paged by cursor.
#[test]
fn the_number_list_filters_by_state_and_pages_by_cursor() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let mut active = api.provisioned(3).await;
        active.sort();
        let held = api.find("npa=907", 1).await;
        let (status, body) = api.reserve(&held).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let listed = |body: &serde_json::Value| -> Vec<String> {
            body["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["e164"].as_str().unwrap().to_string())
                .collect()
        };
        let (status, first) = api.get("/api/v1/numbers?state=active&limit=2").await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(listed(&first), active[..2]);
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, rest) = api
            .get(&format!(
                "/api/v1/numbers?state=active&limit=2&cursor={}",
                cursor.replace('+', "%2B")
            ))
            .await;
        assert_eq!(listed(&rest), active[2..]);
        assert!(rest["next_cursor"].is_null(), "{rest}");

        let (_, reserved) = api.get("/api/v1/numbers?state=reserved").await;
        assert_eq!(listed(&reserved), held);
        let (status, refused) = api.get("/api/v1/numbers?state=sideways").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    })
}
