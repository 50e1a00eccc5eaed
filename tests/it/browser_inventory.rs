//! Headless Chromium: a reseller uploads a CSV, watches the progress bar, reads the summary,
//! imports the valid rows, then allocates one number with the confirmation summary.

use fantoccini::Locator;

use crate::common::spawn_app;

#[test]
fn upload_shows_progress_and_summary_then_imports_and_allocates() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "reseller@acme.test").await;
        c.find(Locator::Css("nav.top a[href='/inventory']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let file = chrome.wait("#upload-file").await;
        let path = std::env::temp_dir().join(format!("inward-upload-{}.csv", uuid::Uuid::new_v4()));
        std::fs::write(
        &path,
        format!(
            "{}1,5125550300,TRUE,TRUE,FALSE,,,\n1,5125550301,TRUE,FALSE,FALSE,,,\n1,5125550302,NOPE,FALSE,FALSE,,,\n",
            crate::inventory::HEADER
        ),
    )
    .unwrap();
        file.send_keys(path.to_str().unwrap()).await.unwrap();
        c.find(Locator::Css("#upload-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // The job fragment has a progress bar; htmx polls it until the summary is ready.
        let bar = chrome.wait("#upload-progress").await;
        assert_eq!(bar.attr("max").await.unwrap().as_deref(), Some("100"));
        chrome.wait("#upload-summary").await;
        chrome.screenshot("inventory-upload-summary").await;
        let text = |css: &'static str| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(css))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(text("#count-add").await, "2");
        assert_eq!(text("#count-rejected").await, "1");
        assert_eq!(
            chrome
                .wait("#upload-progress")
                .await
                .attr("value")
                .await
                .unwrap()
                .as_deref(),
            Some("100")
        );
        assert!(
            chrome
                .wait("#rejected-link")
                .await
                .is_displayed()
                .await
                .unwrap()
        );
        let none: i64 =
            sqlx::query_scalar("SELECT count(*) FROM numbers WHERE e164 LIKE '+151255503%'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(none, 0, "nothing is written before the user chooses");

        c.find(Locator::Css("#import-valid"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let done = chrome.wait("#upload-done").await.text().await.unwrap();
        assert!(done.contains("2 added"), "{done}");
        let _ = std::fs::remove_file(&path);

        // Allocate one of them to Globex, through the confirmation page.
        c.goto(&app.url("/inventory?q=5125550300")).await.unwrap();
        chrome
            .wait("input[name=numbers][value='+15125550300']")
            .await
            .click()
            .await
            .unwrap();
        // No tenant chosen: the refusal shows inside the layout, and Back keeps the tick.
        c.find(Locator::Css("#bulk-allocate"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let refusal = chrome.wait("#bulk-error").await.text().await.unwrap();
        assert!(refusal.contains("choose a tenant"), "{refusal}");
        assert!(
            c.find(Locator::Css("nav.top")).await.is_ok(),
            "inside the layout"
        );
        c.find(Locator::Css("#back-to-selection"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let tick = chrome
            .wait("input[name=numbers][value='+15125550300']")
            .await;
        assert!(tick.is_selected().await.unwrap(), "the selection is kept");
        c.find(Locator::Css("#bulk-tenant"))
            .await
            .unwrap()
            .select_by_label("Globex Support")
            .await
            .unwrap();
        c.find(Locator::Css("#bulk-allocate"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(
            chrome.wait("#confirm-count").await.text().await.unwrap(),
            "1"
        );
        c.find(Locator::Css("#confirm"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome.wait(".alert-success").await.text().await.unwrap();
        assert!(notice.contains("allocated"), "{notice}");
        let table = chrome.wait("#inventory").await.text().await.unwrap();
        chrome.screenshot("inventory").await;
        assert!(table.contains("Globex Support"), "{table}");
        c.close().await.unwrap();
    })
}
