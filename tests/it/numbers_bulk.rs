//! The numbers list for admins: release and caller-ID names for several numbers at once
//! (each number on its own, each outcome named), and the list as CSV.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{error_code, spawn_app};

#[test]
fn several_numbers_are_released_or_renamed_at_once_and_each_outcome_is_named() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;
        // A number another tenant holds.
        let initech = app.api("agent@initech.test").await;
        let other = initech.find("npa=718", 1).await;
        assert_eq!(initech.reserve(&other).await.0, StatusCode::CREATED);

        // One caller-ID name for two numbers; another tenant's number is refused by name.
        let (status, body) = admin
            .post(
                "/api/v1/numbers/cnam",
                json!({ "numbers": [numbers[0], numbers[1], other[0]], "name": "GLOBEX SALES" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["changed"], 2, "{body}");
        assert_eq!(body["failed"], 1, "{body}");
        assert_eq!(body["results"][2]["number"], other[0]);
        assert_eq!(body["results"][2]["ok"], false);
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{}", numbers[1])).await;
        assert_eq!(shown["cnam"]["name"], "GLOBEX SALES", "{shown}");
        let (status, body) = admin
            .post(
                "/api/v1/numbers/cnam",
                json!({ "numbers": [numbers[0]], "name": "CALL *NOW*" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        // A tenant user may not name callers; releasing is any member's, as one by one.
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent
            .post(
                "/api/v1/numbers/cnam",
                json!({ "numbers": [numbers[2]], "name": "X" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The same number twice (E.164 and national format) is released once.
        let national = inward::domain::e164::format_national(&numbers[2]);
        let (status, body) = agent
            .post(
                "/api/v1/numbers/release",
                json!({ "numbers": [numbers[0], numbers[2], national, "+15125550000"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"].as_array().unwrap().len(), 3, "{body}");
        assert_eq!(body["released"], 2, "{body}");
        assert_eq!(app.number_state(&numbers[0]).await, "released");
        assert_eq!(app.number_state(&numbers[2]).await, "released");
        assert_eq!(app.number_state(&other[0]).await, "reserved");
        let (status, body) = admin
            .post("/api/v1/numbers/release", json!({ "numbers": [] }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "invalid_input");
    })
}

#[test]
fn the_numbers_list_exports_csv_and_acts_on_ticked_numbers_from_the_page() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let browser = app.browser("admin@globex.test").await;

        let (status, csv) = browser.get("/numbers/export.csv?state=active").await;
        assert_eq!(status, StatusCode::OK);
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().starts_with("Number,National,State"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(
            rows[0].starts_with(&numbers[0]) && rows[0].contains(",active,"),
            "{csv}"
        );
        let (status, api_csv) = {
            let r = app
                .http
                .get(app.url("/api/v1/numbers/export.csv"))
                .bearer_auth(&admin.token)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        };
        assert_eq!(status, StatusCode::OK);
        assert!(api_csv.contains(&numbers[1]));

        let (_, list) = browser.get("/numbers").await;
        assert!(
            list.contains("id=\"bulk-release\"") && list.contains("data-select-all=\"number\"")
        );
        let (status, form) = browser
            .get(&format!(
                "/numbers/bulk?action=release&number={}&number={}",
                numbers[0].replace('+', "%2B"),
                numbers[1].replace('+', "%2B")
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(form.contains("Release 2 numbers"), "{form}");
        let response = browser
            .post_form(
                "/numbers/bulk",
                &[
                    ("action", "cnam"),
                    ("number", numbers[0].as_str()),
                    ("name", "GLOBEX"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("1 of 1 numbers given the caller-ID name"),
            "{page}"
        );
        let response = browser
            .post_form(
                "/numbers/bulk",
                &[
                    ("action", "release"),
                    ("number", numbers[0].as_str()),
                    ("number", numbers[1].as_str()),
                ],
            )
            .await;
        let page = response.text().await.unwrap();
        assert!(page.contains("2 of 2 numbers released"), "{page}");
        assert_eq!(app.number_state(&numbers[1]).await, "released");
        let response = browser
            .post_form("/numbers/bulk", &[("action", "explode")])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
}
