//! Blocks of consecutive numbers (DNIS ranges): found by the search as ranges, paged, held
//! whole by an order, and from the search page one block at a time.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code, spawn_app};
use crate::inventory::{HEADER, run_upload};

/// Acme's stock gains 512-555-0100…0119 (a run of 20) and 0130…0134 (a run of 5).
async fn runs(app: &TestApp) {
    let reseller = app.api("reseller@acme.test").await;
    let mut csv = HEADER.to_string();
    for line in (100..120).chain(130..135) {
        csv.push_str(&format!("1,512555{line:04},TRUE,FALSE,FALSE,,,\n"));
    }
    let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
    assert_eq!(job["counts"]["added"], 25, "{job}");
}

async fn blocks(api: &Api, query: &str) -> Value {
    let (status, body) = api
        .get(&format!(
            "/api/v1/numbers/available?npa=512&nxx=555&{query}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn held(body: &Value) -> Vec<String> {
    body["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_search_finds_blocks_as_ranges_and_pages_through_them() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        runs(&app).await;
        let agent = app.api("agent@globex.test").await;
        let tens = blocks(&agent, "consecutive=10").await;
        let found = tens["blocks"].as_array().unwrap();
        assert_eq!(found.len(), 2, "{tens}");
        assert_eq!(found[0]["first"], "+15125550100");
        assert_eq!(found[0]["last"], "+15125550109");
        assert_eq!(found[0]["count"], 10);
        assert_eq!(found[1]["first"], "+15125550110");
        assert_eq!(tens["numbers"].as_array().unwrap().len(), 20);

        let fives = blocks(&agent, "consecutive=5").await;
        let firsts: Vec<&str> = fives["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["first"].as_str().unwrap())
            .collect();
        assert_eq!(
            firsts,
            [
                "+15125550100",
                "+15125550105",
                "+15125550110",
                "+15125550115",
                "+15125550130"
            ]
        );
        let page = blocks(&agent, "consecutive=5&limit=2").await;
        assert_eq!(page["blocks"].as_array().unwrap().len(), 2);
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        let next = blocks(&agent, &format!("consecutive=5&limit=2&cursor={cursor}")).await;
        assert_eq!(next["blocks"][0]["first"], "+15125550110");
        assert!(
            blocks(&agent, "consecutive=30").await["blocks"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let plain = blocks(&agent, "limit=5").await;
        assert!(plain.get("blocks").is_none(), "{plain}");
        let (status, err) = agent
            .get("/api/v1/numbers/available?npa=512&consecutive=1")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "consecutive");
    })
}

#[test]
fn an_order_holds_a_block_whole() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        runs(&app).await;
        let agent = app.api("agent@globex.test").await;
        let ask = json!({ "quantity": 10, "filter": { "npa": "512", "nxx": "555" }, "consecutive": true });
        let (status, first) = agent.post("/api/v1/reservations", ask.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let expected: Vec<String> = (100..110).map(|l| format!("+1512555{l:04}")).collect();
        assert_eq!(held(&first), expected);
        let (status, second) = agent.post("/api/v1/reservations", ask.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        assert_eq!(held(&second)[0], "+15125550110");
        let (status, none) = agent.post("/api/v1/reservations", ask).await;
        assert_eq!(status, StatusCode::CONFLICT, "{none}");
        assert_eq!(error_code(&none), "not_enough_numbers");
        assert!(
            none["error"]["message"]
                .as_str()
                .unwrap()
                .contains("consecutive")
        );

        for (body, field) in [
            (
                json!({ "quantity": 5, "filter": { "npa": "512" }, "consecutive": true, "strategy": "best_effort" }),
                "consecutive",
            ),
            (
                json!({ "quantity": 1001, "filter": { "npa": "512" }, "consecutive": true }),
                "quantity",
            ),
            (
                json!({ "quantity": 5, "filter": { "npa": "512", "consecutive": "5" } }),
                "filter.consecutive",
            ),
        ] {
            let (status, err) = agent.post("/api/v1/reservations", body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
            assert_eq!(err["error"]["details"]["field"], field, "{err}");
        }
    })
}

#[test]
fn the_search_page_lists_blocks_and_holds_the_one_chosen() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        runs(&app).await;
        let agent = app.browser("agent@globex.test").await;
        let (status, page) = agent.get("/search?npa=512&nxx=555&consecutive=5").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"blocks\""), "{page}");
        assert_eq!(page.matches("Hold this block").count(), 5);
        assert!(page.contains("(512) 555-0130 – (512) 555-0134"), "{page}");
        let q = "npa=512&nxx=555&consecutive=5";
        let made = agent
            .post_form(
                "/search/order",
                &[("q", q), ("quantity", "5"), ("block_at", "5125550130")],
            )
            .await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        let to = made.headers()["location"].to_str().unwrap().to_string();
        let (_, reservation) = agent.get(&to).await;
        for line in 130..135 {
            assert!(reservation.contains(&format!("555-0{line}")), "{line}");
        }
        let again = agent
            .post_form(
                "/search/order",
                &[("q", q), ("quantity", "5"), ("block_at", "5125550130")],
            )
            .await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        assert!(again.text().await.unwrap().contains("Someone took"));
    })
}
