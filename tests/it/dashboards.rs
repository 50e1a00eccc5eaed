//! The dashboards: small server-drawn charts on Compliance and Inventory whose bars count what
//! the database holds and link to the filtered lists.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app;

/// Whether the chart has a bar with this link, label and count.
fn has_bar(html: &str, href: &str, label: &str, value: i64) -> bool {
    let value = inward::web::pages::grouped(value);
    html.split(&format!(r#"<a href="{href}">"#))
        .skip(1)
        .any(|rest| {
            let bar = rest.split("</a>").next().unwrap_or_default();
            bar.contains(&format!(r#"text-anchor="end">{label}</text>"#))
                && bar.contains(&format!(r#"class="chart-value">{value}</text>"#))
        })
}

#[test]
fn compliance_charts_count_the_tenants_numbers_and_link_to_their_lists() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;
        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{}/e911", numbers[0]),
                json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let held = admin.find("npa=718", 2).await;
        assert_eq!(admin.reserve(&held).await.0, StatusCode::CREATED);

        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser.get("/compliance").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"<svg id="chart-e911""#), "{page}");
        // Three numbers: one address pending, two not set.
        assert!(
            page.contains(r##"href="#e911-unregistered" aria-label="Not set: 2 of 3""##),
            "{page}"
        );
        assert!(page.contains(r##"aria-label="Pending: 1 of 3""##), "{page}");
        assert!(
            has_bar(&page, "/numbers?state=active", "active", 3),
            "{page}"
        );
        assert!(
            has_bar(&page, "/numbers?state=reserved", "reserved", 2),
            "{page}"
        );
        // The list a bar opens shows those numbers.
        let (_, list) = browser.get("/numbers?state=reserved").await;
        assert!(list.contains(&held[0]), "{list}");
    })
}

#[test]
fn the_inventory_dashboard_counts_the_callers_inventory_only() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let held = agent.find("npa=512", 2).await;
        assert_eq!(agent.reserve(&held).await.0, StatusCode::CREATED);

        // The operator's dashboard counts every number.
        let operator = app.browser("operator@inward.test").await;
        let (status, page) = operator.get("/inventory").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"hx-get="/inventory/dashboard""#));
        let (status, charts) = operator.get("/inventory/dashboard").await;
        assert_eq!(status, StatusCode::OK);
        let by_status: Vec<(String, i64)> =
            sqlx::query_as("SELECT lifecycle::text, count(*) FROM numbers GROUP BY 1")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert!(by_status.iter().any(|(s, _)| s == "reserved"));
        for (status, n) in &by_status {
            assert!(
                has_bar(
                    &charts,
                    &format!("/inventory?status={status}"),
                    &status.replace('_', " "),
                    *n
                ),
                "{status} {n}: {charts}"
            );
        }
        let globex = app.tenant_id("globex").await;
        assert!(
            charts.contains(&format!(r#"<a href="/inventory?tenant={globex}">"#)),
            "{charts}"
        );
        assert!(charts.contains(r#"<svg id="chart-aging""#));

        // A reseller's counts only its own inventory: three numbers it uploads.
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{}1,5125550170,TRUE,FALSE,FALSE,,,\n1,5125550171,TRUE,FALSE,FALSE,,,\n1,5125550172,TRUE,FALSE,FALSE,,,\n",
            crate::inventory::HEADER
        );
        let job = crate::inventory::run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        let (_, charts) = app
            .browser("reseller@acme.test")
            .await
            .get("/inventory/dashboard")
            .await;
        assert!(
            has_bar(&charts, "/inventory?status=available", "available", 3),
            "{charts}"
        );
        assert!(!charts.contains("/inventory?status=reserved"), "{charts}");

        // Counts are kept for a minute and say when they were taken; "Count again" counts now.
        assert!(charts.contains(r#"id="dashboard-counted""#), "{charts}");
        assert!(charts.contains(r#"hx-get="/inventory/dashboard?again=1""#));
        let csv = format!(
            "{}1,5125550173,TRUE,FALSE,FALSE,,,\n",
            crate::inventory::HEADER
        );
        let job = crate::inventory::run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        let reseller_page = app.browser("reseller@acme.test").await;
        let (_, kept) = reseller_page.get("/inventory/dashboard").await;
        assert!(
            has_bar(&kept, "/inventory?status=available", "available", 3),
            "{kept}"
        );
        let (_, again) = reseller_page.get("/inventory/dashboard?again=1").await;
        assert!(
            has_bar(&again, "/inventory?status=available", "available", 4),
            "{again}"
        );

        // A tenant user has no inventory to count.
        let (status, _) = app
            .browser("agent@globex.test")
            .await
            .get("/inventory/dashboard")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    })
}
