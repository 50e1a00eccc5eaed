use reqwest::StatusCode;

use crate::common::{error_code, spawn_app};

#[test]
fn every_search_kind_returns_matching_priced_numbers() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;

        let by_state = api.get("/api/v1/numbers/available?state=TX").await.1;
        let numbers = by_state["numbers"].as_array().unwrap();
        assert_eq!(numbers.len(), 20, "local searches default to 20 results");
        for n in numbers {
            assert_eq!(n["state"], "TX");
            assert!(n["e164"].as_str().unwrap().starts_with("+1512"));
            assert_eq!(n["monthly"], "$1.00");
            assert!(
                n["rate_center"].is_string()
                    && n["per_minute"].is_string()
                    && n["setup"].is_string()
            );
        }

        let by_npa_nxx = api.get("/api/v1/numbers/available?npa=512&nxx=206").await.1;
        assert!(!by_npa_nxx["numbers"].as_array().unwrap().is_empty());
        for n in by_npa_nxx["numbers"].as_array().unwrap() {
            assert!(n["e164"].as_str().unwrap().starts_with("+1512206"), "{n}");
        }

        let by_city = api
            .get("/api/v1/numbers/available?state=TX&city=austin")
            .await
            .1;
        assert!(
            by_city["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["city"] == "Austin")
        );
        assert!(!by_city["numbers"].as_array().unwrap().is_empty());

        let by_rate_center = api
            .get("/api/v1/numbers/available?state=TX&rate_center=austin")
            .await
            .1;
        assert!(!by_rate_center["numbers"].as_array().unwrap().is_empty());
        assert!(
            by_rate_center["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["rate_center"] == "AUSTIN")
        );

        let toll_free = api.get("/api/v1/numbers/available?kind=toll_free").await.1;
        let tf = toll_free["numbers"].as_array().unwrap();
        assert_eq!(tf.len(), 10, "toll-free defaults to 10 results");
        assert!(tf.iter().all(
            |n| n["kind"] == "toll_free" && n["monthly_micros"].as_i64().unwrap() >= 2_000_000
        ));
        assert_eq!(
            api.get("/api/v1/numbers/available?kind=toll_free&limit=25")
                .await
                .1["numbers"]
                .as_array()
                .unwrap()
                .len(),
            25
        );
    })
}

#[test]
fn vanity_patterns_match_with_letters_and_wildcards() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        for (pattern, like) in [
            ("877-555-XXXX", "877555"),
            ("8XX-OUR-FOOD", "6873663"),
            ("888-XXX-1000", "1000"),
        ] {
            let body = api
                .get(&format!(
                    "/api/v1/numbers/available?kind=toll_free&pattern={pattern}"
                ))
                .await
                .1;
            let numbers = body["numbers"].as_array().unwrap();
            assert!(!numbers.is_empty(), "{pattern} found nothing");
            for n in numbers {
                let e164 = n["e164"].as_str().unwrap();
                assert!(e164.contains(like), "{pattern} matched {e164}");
            }
        }
        let food = api
            .get("/api/v1/numbers/available?kind=toll_free&pattern=8XX-OUR-FOOD")
            .await
            .1;
        let first = &food["numbers"][0];
        assert_eq!(first["premium"], "spells FOOD");
        assert_eq!(first["monthly"], "$10.00", "premium multiplier applies");
    })
}

#[test]
fn keyset_cursor_pages_without_overlap() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let first = api.get("/api/v1/numbers/available?npa=512&limit=5").await.1;
        let cursor = first["next_cursor"].as_str().unwrap().to_string();
        let second = api
            .get(&format!(
                "/api/v1/numbers/available?npa=512&limit=5&cursor={cursor}"
            ))
            .await
            .1;
        let a: Vec<&str> = first["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        let b: Vec<&str> = second["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        assert_eq!(b.len(), 5);
        assert!(a.iter().all(|n| !b.contains(n)));
        assert!(a.last().unwrap() < b.first().unwrap());
    })
}

#[test]
fn searches_are_refused_with_the_rule_that_failed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let (status, body) = api.get("/api/v1/numbers/available").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["details"]["field"], "state");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("state or an area code")
        );

        let (status, body) = api
            .get("/api/v1/numbers/available?country=CA&state=BC")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("region whitelist")
        );

        let (status, body) = api
            .get("/api/v1/numbers/available?state=TX&pattern=5*5")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&body), "invalid_input");
    })
}

#[test]
fn city_autocomplete_and_search_audit() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let body = api.get("/api/v1/cities?q=aus&state=TX").await.1;
        assert!(
            body["cities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["city"] == "Austin" && c["state"] == "TX"),
            "{body}"
        );
        api.get("/api/v1/numbers/available?state=TX").await;
        // SEARCH entries are written behind the response (audit::deferred).
        app.assert_flushed_search_count(1).await;
    })
}

#[test]
fn area_code_searches_read_the_leading_digits_of_the_national_number() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let (status, body) = api
            .get("/api/v1/numbers/available?state=TX&npa=512&limit=50")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let numbers = body["numbers"].as_array().unwrap();
        assert!(!numbers.is_empty());
        for n in numbers {
            assert!(n["e164"].as_str().unwrap().starts_with("+1512"), "{n}");
            assert_eq!(n["state"], "TX", "{n}");
        }
        // That reading is sound only while the columns agree, which the database enforces.
        let refused = sqlx::query(
        "UPDATE numbers SET nxx = '999' WHERE e164 = (SELECT min(e164) FROM numbers WHERE npa = '512')",
    )
    .execute(&app.pool)
    .await
    .expect_err("an exchange that is not the national number's 4th-6th digits");
        assert!(
            refused
                .to_string()
                .contains("numbers_npa_nxx_lead_national"),
            "{refused}"
        );
    })
}
