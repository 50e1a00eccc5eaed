//! The inventory list's filters with alternatives (a number prefix with or without the NANP 1,
//! a tenant as the number's user or its allocation): each alternative is read as its own
//! ordered branch and the branches merged, so the page must stay in E.164 order across them,
//! page on with the cursor, and list a number that matches two branches once.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Api, spawn_app};
use crate::inventory::{HEADER, run_upload};

fn numbers(list: &Value) -> Vec<&str> {
    list["numbers"]
        .as_array()
        .unwrap_or_else(|| panic!("no numbers in {list}"))
        .iter()
        .map(|n| n["e164"].as_str().unwrap())
        .collect()
}

async fn page(api: &Api, query: &str) -> Value {
    let (status, body) = api.get(&format!("/api/v1/inventory?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

#[test]
fn merged_branches_keep_e164_order_page_on_and_list_a_number_once() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // `44` is a prefix of two UK numbers (+44…) and of two in NANP area code 440 (+1440…).
        let csv = format!(
            "{HEADER}44,20 7946 0961,TRUE,FALSE,FALSE,,,\n1,4405550101,TRUE,FALSE,FALSE,,,globex\n\
         44,20 7946 0960,TRUE,FALSE,FALSE,,,\n1,4405550100,TRUE,FALSE,FALSE,,,\n\
         1,5125550300,TRUE,FALSE,FALSE,,,globex\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");

        let first = page(&reseller, "q=44&limit=3").await;
        assert_eq!(
            numbers(&first),
            vec!["+14405550100", "+14405550101", "+442079460960"]
        );
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let rest = page(
            &reseller,
            &format!("q=44&limit=3&cursor={}", cursor.replace('+', "%2B")),
        )
        .await;
        assert_eq!(numbers(&rest), vec!["+442079460961"]);
        assert!(rest["next_cursor"].is_null(), "{rest}");

        // Globex uses one of the two numbers it was allocated: that one is in both tenant
        // branches, listed once, and does not crowd the other out of a page of two.
        let globex = app.tenant_id("globex").await;
        sqlx::query(
            "UPDATE numbers SET tenant_id = $1, lifecycle = 'active', target_type = 'queue',
                target_id = 'q-1', target_name = 'Sales' WHERE e164 = '+14405550101'",
        )
        .bind(globex)
        .execute(&app.pool)
        .await
        .unwrap();
        let both = vec!["+14405550101", "+15125550300"];
        let mine = page(&reseller, &format!("tenant={globex}&limit=2")).await;
        assert_eq!(numbers(&mine), both);
        let named = page(&reseller, "q=globex&limit=2").await;
        assert_eq!(numbers(&named), both);
        let admin = app.api("admin@globex.test").await;
        let own = page(&admin, "q=1440").await;
        assert_eq!(numbers(&own), vec!["+14405550101"]);

        // A status is a literal in the statement; a state nobody is in lists nothing.
        assert_eq!(
            numbers(&page(&reseller, "status=active").await),
            vec!["+14405550101"]
        );
        assert!(numbers(&page(&reseller, "status=released").await).is_empty());
        assert_eq!(
            numbers(&page(&reseller, "status=available&q=5125550300").await),
            vec!["+15125550300"]
        );
    })
}
