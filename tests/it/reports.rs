//! The monthly report of permanently disconnected numbers (for the Reassigned Numbers
//! Database): the operator's, as JSON, CSV and a page; a month is a calendar month in UTC.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app;

#[test]
fn the_operator_reports_the_numbers_it_disconnected_in_a_month() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let operator = app.api("operator@inward.test").await;
        let number: String = sqlx::query_scalar(
            "SELECT e164 FROM numbers WHERE lifecycle = 'available' AND allocated_tenant_id IS NULL
             ORDER BY e164 LIMIT 1",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let (status, body) = operator
            .post(
                &format!("/api/v1/inventory/{number}/permanent-release"),
                json!({ "confirm": number }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let month = chrono::Utc::now().format("%Y-%m").to_string();

        let (status, report) = operator.get("/api/v1/reports/disconnected").await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["month"], month);
        let listed = report["numbers"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{report}");
        assert_eq!(listed[0]["number"], number);
        let (_, earlier) = operator
            .get("/api/v1/reports/disconnected?month=2020-01")
            .await;
        assert!(earlier["numbers"].as_array().unwrap().is_empty());
        let (status, err) = operator
            .get("/api/v1/reports/disconnected?month=2026-13")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "month");
        for who in ["reseller@acme.test", "admin@globex.test"] {
            let (status, _) = app.api(who).await.get("/api/v1/reports/disconnected").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
        }

        let csv = operator
            .http
            .get(app.url(&format!("/api/v1/reports/disconnected?month={month}")))
            .header("accept", "text/csv")
            .bearer_auth(&operator.token)
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        assert!(
            csv.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = csv.text().await.unwrap();
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert_eq!(text, format!("number,disconnected_on\n{number},{today}\n"));

        let browser = app.browser("operator@inward.test").await;
        let (status, page) = browser.get("/reports/disconnected").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&number), "{page}");
        assert!(page.contains("id=\"report-csv\""));
        let (status, file) = browser
            .get(&format!("/reports/disconnected?month={month}&format=csv"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(file.contains(&number), "{file}");
        let (status, page) = browser.get("/reports/disconnected?month=soon").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"report-error\""));
    })
}
