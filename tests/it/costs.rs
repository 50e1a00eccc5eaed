//! The monthly cost allocation report, checked against figures worked out by hand for a month
//! in which numbers start and end mid-month, from audit entries written at those times.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, spawn_app};

/// A successful use entry at `at`, as the provisioning and release paths write them.
async fn use_entry(
    app: &TestApp,
    tenant: &str,
    number: &str,
    action: &str,
    at: &str,
    details: Value,
) {
    let tenant_id = app.tenant_id(tenant).await;
    sqlx::query(
        "INSERT INTO audit_log (at, tenant_id, phone_number, action, status, details)
         VALUES ($1::timestamptz, $2, $3, $4, 'SUCCESS', $5)",
    )
    .bind(at)
    .bind(tenant_id)
    .bind(number)
    .bind(action)
    .bind(details)
    .execute(&app.pool)
    .await
    .unwrap();
}

fn local_price() -> Value {
    json!({ "price": { "monthly_micros": 1_000_000, "setup_micros": 0, "base_monthly_micros": 1_000_000,
                       "base_setup_micros": 0, "premium": null } })
}

/// November 2026 (30 days):
/// - Globex +15125550111, the 10th 14:00 to the 20th 09:00: 11 days of $1 = $0.366667.
/// - Globex +18885553663 (toll-free, spells FOOD: premium, $10 a month, base $2), since
///   October, no price recorded (today's tariff): the month, $10, of which $8 premium.
/// - Globex +15125550122 from the 25th on: 6 days, $0.20.
/// - Globex +15125550144: a hold cancelled (a RELEASE without a PROVISION): no charge.
/// - Initech +17185550133 from the 1st at midnight: the month, $1.
/// - Globex +15125550155, held in September, released, held again from October 20th: the
///   month, $1.
/// - Globex +15125550166, held two days of September: nothing in November.
async fn november(app: &TestApp) {
    // The database stamps audit entries with the time of writing; this test's database lets
    // the test write them in the past.
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_stamped")
        .execute(&app.pool)
        .await
        .unwrap();
    let g = "globex";
    use_entry(
        app,
        g,
        "+15125550111",
        "PROVISION",
        "2026-11-10T14:00:00Z",
        local_price(),
    )
    .await;
    use_entry(
        app,
        g,
        "+15125550111",
        "RELEASE",
        "2026-11-20T09:00:00Z",
        json!({}),
    )
    .await;
    use_entry(
        app,
        g,
        "+18885553663",
        "PROVISION",
        "2026-10-05T08:00:00Z",
        json!({}),
    )
    .await;
    use_entry(
        app,
        g,
        "+15125550122",
        "PROVISION",
        "2026-11-25T00:00:00Z",
        local_price(),
    )
    .await;
    use_entry(
        app,
        g,
        "+15125550144",
        "RELEASE",
        "2026-11-12T10:00:00Z",
        json!({"hold": "cancelled"}),
    )
    .await;
    use_entry(
        app,
        "initech",
        "+17185550133",
        "PROVISION",
        "2026-11-01T00:00:00Z",
        local_price(),
    )
    .await;
    for (number, action, at) in [
        ("+15125550155", "PROVISION", "2026-09-01T00:00:00Z"),
        ("+15125550155", "RELEASE", "2026-09-10T00:00:00Z"),
        ("+15125550155", "PROVISION", "2026-10-20T00:00:00Z"),
        ("+15125550166", "PROVISION", "2026-09-01T00:00:00Z"),
        ("+15125550166", "RELEASE", "2026-09-03T00:00:00Z"),
    ] {
        let details = if action == "PROVISION" {
            local_price()
        } else {
            json!({})
        };
        use_entry(app, g, number, action, at, details).await;
    }
    sqlx::query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_stamped")
        .execute(&app.pool)
        .await
        .unwrap();
}

fn tenant<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == slug)
        .unwrap_or_else(|| panic!("{slug} in {report}"))
}

#[test]
fn the_cost_report_matches_figures_worked_out_by_hand() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        november(&app).await;
        let admin = app.api("admin@globex.test").await;
        let (status, report) = admin.get("/api/v1/reports/costs?month=2026-11").await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(
            report["tenants"].as_array().unwrap().len(),
            1,
            "a tenant admin sees its tenant"
        );
        let globex = tenant(&report, "globex");
        let lines: Vec<(String, u64, i64, i64, i64)> = globex["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["number"].as_str().unwrap().to_string(),
                    l["days_active"].as_u64().unwrap(),
                    l["monthly_micros"].as_i64().unwrap(),
                    l["setup_micros"].as_i64().unwrap(),
                    l["premium_micros"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("+15125550111".to_string(), 11, 366_667, 0, 0),
                ("+15125550122".to_string(), 6, 200_000, 0, 0),
                ("+15125550155".to_string(), 30, 1_000_000, 0, 0),
                ("+18885553663".to_string(), 30, 10_000_000, 0, 8_000_000),
            ]
        );
        assert_eq!(globex["lines"][0]["first_day"], "2026-11-10");
        assert_eq!(globex["lines"][0]["last_day"], "2026-11-20");
        assert_eq!(globex["numbers"], 4);
        assert_eq!(globex["days_active"], 77);
        assert_eq!(globex["total_micros"], 11_566_667);
        assert_eq!(report["total"], "$11.566667");

        // The reseller sees each of its tenants; the operator every tenant.
        let reseller = app.api("reseller@acme.test").await;
        let (_, theirs) = reseller.get("/api/v1/reports/costs?month=2026-11").await;
        assert_eq!(tenant(&theirs, "initech")["total_micros"], 1_000_000);
        assert_eq!(theirs["total_micros"], 12_566_667);
        let operator = app.api("operator@inward.test").await;
        let (_, all) = operator
            .get("/api/v1/reports/costs?month=2026-11&tenant=initech")
            .await;
        assert_eq!(all["tenants"].as_array().unwrap().len(), 1);
        assert_eq!(all["total_micros"], 1_000_000);
        // October: the toll-free number from the 5th (27 of 31 days) with its setup fee.
        let (_, october) = admin.get("/api/v1/reports/costs?month=2026-10").await;
        let line = tenant(&october, "globex")["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["number"] == "+18885553663")
            .cloned()
            .unwrap();
        assert_eq!(line["days_active"], 27);
        assert_eq!(line["setup_micros"], 5_000_000);

        // CSV, one row per number.
        let csv = admin
            .http
            .get(format!("{}/api/v1/reports/costs?month=2026-11", admin.base))
            .bearer_auth(&admin.token)
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        let text = csv.text().await.unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(
            rows[0],
            "tenant,number,first_day,last_day,days_active,monthly,setup,premium_surcharge,total"
        );
        assert_eq!(
            rows[1],
            "globex,+15125550111,2026-11-10,2026-11-20,11,0.366667,0.000000,0.000000,0.366667"
        );
        assert_eq!(rows.len(), 5, "{text}");

        // Refusals.
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent.get("/api/v1/reports/costs?month=2026-11").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = admin
            .get("/api/v1/reports/costs?month=2026-11&tenant=initech")
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "another tenant's costs are not found"
        );
        let (status, err) = admin.get("/api/v1/reports/costs?month=2026-13").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "month");

        // The page: a chart of the tenants, each tenant's lines, and its CSV.
        let browser = app.browser("reseller@acme.test").await;
        let (status, page) = browser.get("/reports/costs?month=2026-11").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"chart-costs\""), "{page}");
        assert!(page.contains("$12.566667"), "{page}");
        assert!(page.contains("id=\"tenant-initech\""), "{page}");
        let (status, page) = browser.get("/reports/costs?month=11-2026").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"report-error\""), "{page}");
        let (status, csv) = browser.get("/reports/costs?month=2026-11&format=csv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            csv.contains("initech,+17185550133,2026-11-01,2026-11-30,30,1.000000"),
            "{csv}"
        );
    })
}

#[test]
fn a_number_provisioned_today_is_charged_at_the_price_recorded_then() {
    use chrono::Datelike;
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let admin = app.api("admin@globex.test").await;
        let (status, report) = admin.get("/api/v1/reports/costs").await;
        assert_eq!(status, StatusCode::OK, "{report}");
        let line = tenant(&report, "globex")["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["number"] == number.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{number} is charged: {report}"));
        assert_eq!(line["days_active"], 1, "the month so far: today");
        // The price went into the PROVISION entry: the report reads it from there.
        let recorded: Value = sqlx::query_scalar(
            "SELECT details->'price' FROM audit_log WHERE phone_number = $1 AND action = 'PROVISION' AND status = 'SUCCESS'",
        )
        .bind(&number)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(recorded["monthly_micros"], 1_000_000, "{recorded}");
        let days = chrono::Utc::now()
            .date_naive()
            .with_day(1)
            .unwrap()
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
            .pred_opt()
            .unwrap()
            .day() as i64;
        assert_eq!(line["monthly_micros"], (1_000_000 + days / 2) / days);
        assert_eq!(
            line["last_day"],
            chrono::Utc::now().date_naive().to_string()
        );
    })
}
