//! No request holds a pool connection while it waits for a second one: under load every
//! connection can be held that way at once, and then every request waits until the pool's
//! timeout. A pool with one connection for requests shows it at once, with a cold cache
//! (the adapter is read from the database on the first request). The pool has two: the
//! cache-invalidation listener keeps one for itself.

use std::time::Duration;

use reqwest::StatusCode;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::common::spawn_app;

#[sqlx::test]
async fn one_connection_for_requests_serves_a_search_and_a_number_page(pool: PgPool) {
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
}
