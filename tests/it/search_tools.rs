//! The search's finer tools: a pattern at the start or end with the match highlighted, the
//! count of what matches, a page sorted by price, and the coverage view before searching.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::spawn_app;
use crate::inventory::{HEADER, run_upload};

fn nationals(body: &Value) -> Vec<String> {
    body["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["e164"].as_str().unwrap()[2..].to_string())
        .collect()
}

#[test]
fn a_pattern_at_the_start_or_the_end_finds_those_numbers_and_marks_the_match() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // 3663 (FOOD) at the end, after the area code, and in the middle (208 has no demo
        // stock; 366 and 536 are its exchanges).
        let csv = format!(
            "{HEADER}1,2085363663,TRUE,FALSE,FALSE,,,\n1,2083663555,TRUE,FALSE,FALSE,,,\n\
             1,2085366312,TRUE,FALSE,FALSE,,,\n1,2085361234,TRUE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["counts"]["added"], 4, "{job}");
        let agent = app.api("agent@globex.test").await;
        let search = |query: &'static str| {
            let agent = &agent;
            async move {
                let (status, body) = agent
                    .get(&format!("/api/v1/numbers/available?npa=208&{query}"))
                    .await;
                assert_eq!(status, StatusCode::OK, "{query}: {body}");
                body
            }
        };
        let anywhere = search("pattern=FOOD").await;
        assert_eq!(
            nationals(&anywhere),
            ["2083663555", "2085363663", "2085366312"]
        );
        let marks: Vec<(u64, u64)> = anywhere["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let h = &n["highlight"];
                (h["from"].as_u64().unwrap(), h["to"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(marks, [(3, 7), (6, 10), (4, 8)]);
        let at_end = search("pattern=FOOD&pattern_match=ends_with").await;
        assert_eq!(nationals(&at_end), ["2085363663"]);
        let at_start = search("pattern=208366&pattern_match=starts_with").await;
        assert_eq!(nationals(&at_start), ["2083663555"]);
        assert_eq!(at_start["numbers"][0]["highlight"]["to"], 6);
        let plain = search("limit=1").await;
        assert!(plain["numbers"][0].get("highlight").is_none(), "{plain}");

        let (status, err) = agent
            .get("/api/v1/numbers/available?npa=208&pattern=FOOD&pattern_match=middle")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "pattern_match");

        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser
            .get("/search?npa=208&pattern=FOOD&pattern_match=ends_with")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("(208) 536-<mark>3663</mark>"), "{page}");
        assert!(page.contains("1 number matches"), "{page}");
        assert!(!page.contains("(208) 366-3555"), "{page}");
    })
}

#[test]
fn the_count_says_how_many_match_and_a_page_sorts_by_price() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // 2083660000 is premium (a round number); the others are not.
        let csv = format!(
            "{HEADER}1,2083660000,TRUE,FALSE,FALSE,,,\n1,2083660001,TRUE,FALSE,FALSE,,,\n\
             1,2083660002,TRUE,FALSE,FALSE,,,\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let agent = app.api("agent@globex.test").await;
        let (_, counted) = agent
            .get("/api/v1/numbers/available?npa=208&nxx=366&count=true&limit=1")
            .await;
        assert_eq!(counted["count"]["matching"], 3, "{counted}");
        assert_eq!(counted["count"]["more"], false);
        assert_eq!(nationals(&counted).len(), 1, "the count is not the page");
        let (_, uncounted) = agent.get("/api/v1/numbers/available?npa=208&nxx=366").await;
        assert!(uncounted.get("count").is_none(), "counted only when asked");
        // Past the cap: 1,001 numbers of 208-536.
        let lines: String = (0..1001)
            .map(|i| format!("1,208536{i:04},TRUE,FALSE,FALSE,,,\n"))
            .collect();
        let job = run_upload(
            &reseller,
            &format!("{HEADER}{lines}"),
            "all_or_nothing",
            false,
        )
        .await;
        assert_eq!(job["counts"]["added"], 1001, "{job}");
        let (_, many) = agent
            .get("/api/v1/numbers/available?npa=208&nxx=536&count=true")
            .await;
        assert_eq!(many["count"]["more"], true, "{}", many["count"]);
        assert_eq!(many["count"]["matching"], 1000);

        let (_, by_number) = agent.get("/api/v1/numbers/available?npa=208&nxx=366").await;
        assert_eq!(
            nationals(&by_number),
            ["2083660000", "2083660001", "2083660002"]
        );
        assert!(
            by_number["numbers"][0]["premium"].is_string(),
            "{by_number}"
        );
        let (_, cheapest) = agent
            .get("/api/v1/numbers/available?npa=208&nxx=366&sort=price")
            .await;
        assert_eq!(
            nationals(&cheapest),
            ["2083660001", "2083660002", "2083660000"]
        );
        let (_, dearest) = agent
            .get("/api/v1/numbers/available?npa=208&nxx=366&sort=price_desc")
            .await;
        assert_eq!(nationals(&dearest)[0], "2083660000");
        let (status, err) = agent
            .get("/api/v1/numbers/available?npa=208&sort=cheapest")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "sort");

        let browser = app.browser("agent@globex.test").await;
        let (_, page) = browser.get("/search?npa=208&nxx=366&sort=price").await;
        assert!(page.contains("3 numbers match"), "{page}");
        let first = page.find("(208) 366-0001").unwrap();
        let premium = page.find("(208) 366-0000").unwrap();
        assert!(first < premium, "the cheaper number is listed first");
        let (_, page) = browser.get("/search?npa=208&nxx=536").await;
        assert!(page.contains("More than 1,000 numbers match"), "{page}");
    })
}

#[test]
fn coverage_counts_the_stock_a_tenant_may_hold_per_area_code_and_rate_center() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // Two numbers in 208 (Idaho, no demo stock) for anyone, one allocated to Globex.
        let csv = format!(
            "{HEADER}1,2083660100,TRUE,FALSE,FALSE,,,\n1,2083660101,TRUE,FALSE,FALSE,,,\n\
             1,2083660102,TRUE,FALSE,FALSE,,,globex\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let globex = app.api("agent@globex.test").await;
        let initech = app.api("agent@initech.test").await;
        let (status, state) = globex.get("/api/v1/numbers/coverage?state=ID").await;
        assert_eq!(status, StatusCode::OK, "{state}");
        assert_eq!(state["by"], "npa");
        let area = state["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["npa"] == "208")
            .cloned()
            .unwrap_or_else(|| panic!("208 is covered: {state}"));
        assert_eq!(area["available"], 3);
        let (_, other) = initech.get("/api/v1/numbers/coverage?state=ID").await;
        let theirs = other["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["npa"] == "208")
            .map(|a| a["available"].clone());
        assert_eq!(
            theirs,
            Some(2.into()),
            "Globex's own number is not counted for Initech"
        );

        // Per rate center of 512, adding up to what the search counts.
        let (_, centers) = globex.get("/api/v1/numbers/coverage?npa=512&nxx=555").await;
        assert_eq!(centers["by"], "rate_center");
        let sum: i64 = centers["areas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["available"].as_i64().unwrap())
            .sum();
        assert_eq!(centers["available"].as_i64(), Some(sum));
        let (_, counted) = globex
            .get("/api/v1/numbers/available?npa=512&nxx=555&count=true")
            .await;
        if counted["count"]["more"] == false {
            assert_eq!(
                counted["count"]["matching"].as_i64(),
                Some(sum),
                "{centers}"
            );
        }
        let (status, err) = globex.get("/api/v1/numbers/coverage?npa=12").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "npa");

        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser.get("/search/coverage?state=ID").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("href=\"/search/coverage?"), "{page}");
        assert!(page.contains("npa=208"), "{page}");
        let (status, page) = browser.get("/search/coverage?npa=99x").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"coverage-error\""), "{page}");
        assert!(page.contains("<nav"), "the error is inside the layout");
    })
}
