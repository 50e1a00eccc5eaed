//! Orders by quantity and criteria: "N numbers in 512" held as one reservation with Inward
//! picking them; all or nothing or as many as match; three clients racing never hold a number
//! twice, and an all-or-nothing order that can be filled is.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, error_code, spawn_app};

async fn order(api: &Api, quantity: i64, filter: Value, strategy: &str) -> (StatusCode, Value) {
    api.post(
        "/api/v1/reservations",
        json!({ "quantity": quantity, "filter": filter, "strategy": strategy }),
    )
    .await
}

fn numbers(body: &Value) -> Vec<String> {
    body["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// How many numbers the tenant could hold under `query` now.
async fn in_stock(api: &Api, query: &str) -> usize {
    let (status, body) = api
        .get(&format!("/api/v1/numbers/available?{query}&limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let n = body["numbers"].as_array().unwrap().len();
    assert!(n < 100, "{query}: too many to count this way");
    n
}

async fn live_holds(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM holds WHERE ended_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn an_order_holds_the_quantity_asked_where_it_was_asked() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let (status, body) = order(&agent, 20, json!({ "npa": "512" }), "all_or_nothing").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let held = numbers(&body);
        assert_eq!(held.len(), 20);
        assert!(held.iter().all(|n| n.starts_with("+1512")), "{held:?}");
        assert_eq!(body["requested"], 20);
        assert_eq!(body["strategy"], "all_or_nothing");
        let id = body["id"].as_str().unwrap();
        let (status, shown) = agent.get(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["numbers"].as_array().unwrap().len(), 20);
        for n in &held {
            assert_eq!(app.audit_count(n, "RESERVE", "SUCCESS").await, 1, "{n}");
        }
        // A vanity pattern narrows it as a search does.
        let (status, body) = order(
            &agent,
            2,
            json!({ "pattern": "907-XXX-XXXX" }),
            "best_effort",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(numbers(&body).iter().all(|n| n.starts_with("+1907")));
    })
}

#[test]
fn all_or_nothing_holds_nothing_short_and_best_effort_takes_what_matches() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let narrow = "npa=907&city=Juneau";
        let stock = in_stock(&agent, narrow).await;
        assert!(stock >= 2, "the demo has {stock} numbers in {narrow}");
        let filter = json!({ "npa": "907", "city": "Juneau" });
        let before = live_holds(&app.pool).await;
        let (status, body) =
            order(&agent, stock as i64 + 1, filter.clone(), "all_or_nothing").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "not_enough_numbers");
        assert_eq!(body["error"]["details"]["available"], stock);
        assert_eq!(body["error"]["details"]["requested"], stock + 1);
        assert_eq!(live_holds(&app.pool).await, before, "nothing held");

        let (status, body) = order(&agent, stock as i64 + 1, filter.clone(), "best_effort").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(numbers(&body).len(), stock);
        assert_eq!(body["requested"], stock + 1);
        let (status, body) = order(&agent, 1, filter, "best_effort").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["details"]["available"], 0);
    })
}

#[test]
fn an_order_says_what_is_wrong_with_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let npa = json!({ "npa": "512" });
        for (body, field) in [
            (json!({ "quantity": 0, "filter": npa }), "quantity"),
            (json!({ "quantity": 5001, "filter": npa }), "quantity"),
            (
                json!({ "quantity": 2, "filter": npa, "strategy": "most" }),
                "strategy",
            ),
            (json!({ "quantity": 2 }), "filter"),
            (
                json!({ "quantity": 2, "filter": npa, "numbers": ["+15125550100"] }),
                "numbers",
            ),
            (
                json!({ "quantity": 2, "filter": { "npa": "12" } }),
                "filter.npa",
            ),
            (json!({ "quantity": 2, "filter": {} }), "filter.state"),
            (
                json!({ "strategy": "best_effort", "numbers": [] }),
                "quantity",
            ),
            (json!({}), "numbers"),
        ] {
            let (status, err) = agent.post("/api/v1/reservations", body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
            assert_eq!(err["error"]["details"]["field"], field, "{body}: {err}");
        }
        let (status, _) = agent
            .post(
                "/api/v1/reservations",
                json!({ "quantity": 2, "filter": npa, "colour": "red" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let reseller = app.api("reseller@acme.test").await;
        let (status, _) = order(&reseller, 2, npa, "best_effort").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "orders are a tenant's");
    })
}

#[test]
fn three_clients_racing_never_share_a_number_and_fill_what_can_be_filled() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let clients = [
            app.api("agent@globex.test").await,
            app.api("admin@globex.test").await,
            app.api("agent@globex.test").await,
        ];
        // Plenty for all three: each gets its whole quantity, and no number twice.
        for round in 0..3 {
            let asks = clients
                .iter()
                .map(|c| order(c, 15, json!({ "npa": "512" }), "all_or_nothing"));
            let answers = futures::future::join_all(asks).await;
            let mut seen = HashSet::new();
            for (status, body) in &answers {
                assert_eq!(*status, StatusCode::CREATED, "round {round}: {body}");
                let held = numbers(body);
                assert_eq!(held.len(), 15, "round {round}");
                for n in held {
                    assert!(seen.insert(n.clone()), "round {round}: {n} held twice");
                }
            }
        }
        // Room for two of three: two are filled whole, the third holds nothing.
        let filter = json!({ "npa": "907", "city": "Juneau" });
        let stock = in_stock(&clients[0], "npa=907&city=Juneau").await;
        let half = (stock / 2) as i64;
        assert!(half >= 1);
        let before = live_holds(&app.pool).await;
        let asks = clients
            .iter()
            .map(|c| order(c, half, filter.clone(), "all_or_nothing"));
        let answers = futures::future::join_all(asks).await;
        let mut seen = HashSet::new();
        let mut filled = 0;
        for (status, body) in &answers {
            match *status {
                StatusCode::CREATED => {
                    filled += 1;
                    let held = numbers(body);
                    assert_eq!(held.len() as i64, half, "{body}");
                    for n in held {
                        assert!(seen.insert(n.clone()), "{n} held twice");
                    }
                }
                StatusCode::CONFLICT => assert_eq!(error_code(body), "not_enough_numbers"),
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!(filled, 2, "{answers:?}");
        assert_eq!(live_holds(&app.pool).await, before + 2 * half);
        let doubled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT e164 FROM holds WHERE ended_at IS NULL
             GROUP BY e164 HAVING count(*) > 1) d",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(doubled, 0);
    })
}

#[test]
fn the_search_page_holds_a_quantity_and_explains_a_refusal() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.browser("agent@globex.test").await;
        let (status, page) = agent.get("/search?npa=512").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("id=\"order-form\""),
            "the form under the results"
        );
        let made = agent
            .post_form(
                "/search/order",
                &[
                    ("q", "npa=512"),
                    ("quantity", "5"),
                    ("strategy", "all_or_nothing"),
                ],
            )
            .await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        let to = made.headers()["location"].to_str().unwrap().to_string();
        assert!(to.ends_with("?notice=ordered"), "{to}");
        let (status, page) = agent.get(&to).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Inward picked and held these numbers"));
        let shown = page.matches("(512)").count();
        assert!(shown >= 5, "five numbers in 512, {shown} shown");

        let refused = agent
            .post_form("/search/order", &[("q", "npa=512"), ("quantity", "lots")])
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = refused.text().await.unwrap();
        assert!(page.contains("id=\"order-error\""), "{page}");
        assert!(page.contains("value=\"lots\""), "what was typed stays");
        let short = agent
            .post_form(
                "/search/order",
                &[("q", "npa=907&city=Juneau"), ("quantity", "99")],
            )
            .await;
        assert_eq!(short.status(), StatusCode::CONFLICT);
        assert!(short.text().await.unwrap().contains("you asked for 99"));
    })
}

#[test]
fn an_order_of_the_largest_quantity_is_held_as_one_reservation() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let mut csv = crate::inventory::HEADER.to_string();
        for line in 0..5000 {
            csv.push_str(&format!("1,512900{line:04},TRUE,FALSE,FALSE,,,\n"));
        }
        let job = crate::inventory::run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["counts"]["added"], 5000, "{job}");
        let agent = app.api("agent@globex.test").await;
        let started = std::time::Instant::now();
        let (status, body) = order(
            &agent,
            5000,
            json!({ "npa": "512", "nxx": "900" }),
            "all_or_nothing",
        )
        .await;
        println!("5,000 numbers held in {:?}", started.elapsed());
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(numbers(&body).len(), 5000);
        let (reservations, live): (i64, i64) = sqlx::query_as(
            "SELECT count(DISTINCT reservation_id), count(*) FROM holds
             WHERE ended_at IS NULL AND e164 LIKE '+1512900%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((reservations, live), (1, 5000));
    })
}
