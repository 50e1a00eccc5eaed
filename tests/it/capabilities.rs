//! Searching by what numbers can carry (voice, SMS, MMS, fax, 911 service), and the
//! capabilities in the results.

use reqwest::StatusCode;

use crate::common::spawn_app;
use crate::inventory::{HEADER, run_upload};

#[test]
fn the_search_finds_numbers_that_carry_what_is_asked_and_says_what_each_carries() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // MMS and E911 are optional columns: empty, no MMS and 911 by kind (a local number
        // has it).
        let header = HEADER.trim_end().to_string() + ",MMS,E911\n";
        let csv = format!(
            "{header}1,5125550200,TRUE,FALSE,FALSE,,,,,\n1,5125550201,TRUE,TRUE,FALSE,,,,TRUE,\n\
             1,5125550202,TRUE,FALSE,TRUE,,,,,FALSE\n1,5125550203,TRUE,TRUE,TRUE,,,,TRUE,TRUE\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["counts"]["added"], 4, "{job}");
        let agent = app.api("agent@globex.test").await;
        let found = |query: &'static str| {
            let agent = &agent;
            async move {
                let (status, body) = agent
                    .get(&format!(
                        "/api/v1/numbers/available?npa=512&nxx=555&{query}"
                    ))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["numbers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|n| n["e164"].as_str().unwrap().starts_with("+151255502"))
                    .map(|n| {
                        let caps: Vec<&str> = n["capabilities"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_str().unwrap())
                            .collect();
                        format!("{} {}", &n["e164"].as_str().unwrap()[8..], caps.join("+"))
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            found("limit=100").await,
            [
                "0200 voice+e911",
                "0201 voice+sms+mms+e911",
                "0202 voice+fax",
                "0203 voice+sms+mms+fax+e911"
            ]
        );
        assert_eq!(
            found("capabilities=mms").await,
            ["0201 voice+sms+mms+e911", "0203 voice+sms+mms+fax+e911"]
        );
        assert_eq!(
            found("capabilities=e911").await,
            [
                "0200 voice+e911",
                "0201 voice+sms+mms+e911",
                "0203 voice+sms+mms+fax+e911"
            ]
        );
        // Toll-free numbers have no 911 service unless the inventory says so.
        let (_, toll_free) = agent
            .get("/api/v1/numbers/available?kind=toll_free&npa=800&capabilities=e911")
            .await;
        assert_eq!(toll_free["numbers"], serde_json::json!([]), "{toll_free}");

        // An upload changes them; an empty cell keeps what the number has; a cell that is not
        // TRUE or FALSE refuses the row.
        let csv = format!(
            "{header}1,5125550200,TRUE,FALSE,FALSE,,,,,FALSE\n1,5125550201,TRUE,TRUE,FALSE,,,,,\n\
             1,5125550202,TRUE,FALSE,TRUE,,,,maybe,\n"
        );
        let job = run_upload(&reseller, &csv, "valid_only", false).await;
        assert_eq!(job["counts"]["updated"], 1, "{job}");
        assert_eq!(job["counts"]["unchanged"], 1, "{job}");
        assert_eq!(job["counts"]["rejected"], 1, "{job}");
        let (status, patched) = reseller
            .patch(
                "/api/v1/inventory/+15125550202",
                serde_json::json!({ "mms": true, "e911": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        // A change that leaves 911 out leaves it following the number's kind.
        let (status, _) = reseller
            .patch(
                "/api/v1/inventory/+15125550201",
                serde_json::json!({ "fax": false }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let by_kind: Option<bool> =
            sqlx::query_scalar("SELECT e911_capable FROM numbers WHERE e164 = '+15125550201'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(by_kind, None);
        assert_eq!(
            found("limit=100").await,
            [
                "0200 voice",
                "0201 voice+sms+mms+e911",
                "0202 voice+mms+fax+e911",
                "0203 voice+sms+mms+fax+e911"
            ]
        );
        let (_, listed) = reseller.get("/api/v1/inventory?q=5125550200").await;
        assert_eq!(
            listed["numbers"][0]["capabilities"],
            serde_json::json!({"voice": true, "sms": false, "fax": false, "mms": false, "e911": false}),
            "{listed}"
        );
        assert_eq!(
            found("capabilities=sms").await,
            ["0201 voice+sms+mms+e911", "0203 voice+sms+mms+fax+e911"]
        );
        assert_eq!(
            found("capabilities=FAX").await,
            ["0202 voice+mms+fax+e911", "0203 voice+sms+mms+fax+e911"]
        );
        assert_eq!(
            found("capabilities=sms,fax").await,
            ["0203 voice+sms+mms+fax+e911"]
        );
        let (status, err) = agent
            .get("/api/v1/numbers/available?npa=512&capabilities=telex")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "capabilities");

        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser
            .get("/search?npa=512&nxx=555&capabilities=sms&limit=100")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("voice · sms · mms · e911"), "{page}");
        assert!(
            !page.contains("555-0200"),
            "a voice-only number is not listed"
        );
        assert!(
            page.contains("<option value=\"sms\" selected>"),
            "the choice stays"
        );

        // The cart says what each of its numbers carries too.
        let (status, body) = agent
            .post(
                "/api/v1/cart/items",
                serde_json::json!({ "numbers": ["+15125550203"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, cart) = agent.get("/api/v1/cart").await;
        let line = &cart["numbers"][0];
        assert_eq!(
            line["offer"]["capabilities"],
            serde_json::json!(["voice", "sms", "mms", "fax", "e911"]),
            "{cart}"
        );
        let (_, page) = browser.get("/cart").await;
        assert!(page.contains("voice · sms · mms · fax · e911"), "{page}");
    })
}
