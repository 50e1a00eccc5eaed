//! Headless Chromium at 390 px, as wide as a phone: an upload, the inventory dashboard, a bulk
//! allocation, a bulk release and a refused form can each be completed, with the buttons they
//! need inside the screen, no sideways scrolling and no serious accessibility violation in any
//! state on the way (crate::browser_a11y::check_here).

use fantoccini::Locator;

use crate::browser_a11y::check_here;
use crate::chrome::Chrome;
use crate::common::spawn_app;

const WIDTH: u32 = 390;

/// Whether the element is inside the window from left to right (a person can reach it by
/// scrolling down only).
async fn within_width(chrome: &Chrome, css: &str) -> bool {
    chrome.wait(css).await;
    let inside = chrome
        .client
        .execute(
            "var r = document.querySelector(arguments[0]).getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    inside.as_bool().unwrap_or(false)
}

/// Scrolls the element into view and clicks it, after checking it is within the width.
async fn tap(chrome: &Chrome, css: &str, problems: &mut Vec<String>) {
    if !within_width(chrome, css).await {
        problems.push(format!("{css} is outside the {WIDTH} px window"));
    }
    let element = chrome.wait(css).await;
    chrome
        .client
        .execute(
            "arguments[0].scrollIntoView({block: 'center'});",
            vec![serde_json::to_value(&element).unwrap()],
        )
        .await
        .unwrap();
    element.click().await.unwrap();
}

#[test]
fn dashboard_upload_and_bulk_actions_work_at_phone_width() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let released = app.api("admin@globex.test").await.provisioned(2).await;
        let chrome = Chrome::start().await;
        let c = chrome.client.clone();
        c.set_window_size(WIDTH, 844).await.unwrap();
        let mut problems = Vec::new();

        // A reseller uploads a file, reads the summary, imports the valid rows.
        chrome.login(&app.url(""), "reseller@acme.test").await;
        c.goto(&app.url("/inventory")).await.unwrap();
        let path = std::env::temp_dir().join(format!("inward-upload-{}.csv", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            format!(
                "{}1,5125550310,TRUE,TRUE,FALSE,,,\n1,5125550311,TRUE,FALSE,FALSE,,,\n1,5125550312,NOPE,FALSE,FALSE,,,\n",
                crate::inventory::HEADER
            ),
        )
        .unwrap();
        chrome
            .wait("#upload-file")
            .await
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
        tap(&chrome, "#upload-button", &mut problems).await;
        chrome.wait("#upload-summary").await;
        check_here(&chrome, &mut problems).await;
        tap(&chrome, "#import-valid", &mut problems).await;
        let done = chrome.wait("#upload-done").await.text().await.unwrap();
        assert!(done.contains("2 added"), "{done}");
        let _ = std::fs::remove_file(&path);

        // The dashboard counts them, and its bars open the list they count.
        c.goto(&app.url("/inventory")).await.unwrap();
        chrome.wait("#dashboard svg").await;
        check_here(&chrome, &mut problems).await;
        tap(
            &chrome,
            "#dashboard a[href='/inventory?status=available']",
            &mut problems,
        )
        .await;
        chrome.wait("#inventory").await;
        let url = c.current_url().await.unwrap();
        assert!(url.as_str().ends_with("status=available"), "{url}");

        // Allocates one of them to a tenant through the confirmation page.
        c.goto(&app.url("/inventory?q=5125550310")).await.unwrap();
        tap(
            &chrome,
            "input[name=numbers][value='+15125550310']",
            &mut problems,
        )
        .await;
        c.find(Locator::Css("#bulk-tenant"))
            .await
            .unwrap()
            .select_by_label("Globex Support")
            .await
            .unwrap();
        tap(&chrome, "#bulk-allocate", &mut problems).await;
        assert_eq!(
            chrome.wait("#confirm-count").await.text().await.unwrap(),
            "1"
        );
        check_here(&chrome, &mut problems).await;
        tap(&chrome, "#confirm", &mut problems).await;
        let notice = chrome.wait(".alert-success").await.text().await.unwrap();
        assert!(notice.contains("allocated"), "{notice}");

        // A tenant admin releases two numbers from the list, then sees each outcome.
        c.delete_all_cookies().await.unwrap();
        chrome.login(&app.url(""), "admin@globex.test").await;
        c.goto(&app.url("/numbers?state=active")).await.unwrap();
        for number in &released {
            tap(
                &chrome,
                &format!("input[name=number][value='{number}']"),
                &mut problems,
            )
            .await;
        }
        tap(&chrome, "#bulk-release", &mut problems).await;
        chrome.wait("#bulk-numbers").await;
        check_here(&chrome, &mut problems).await;
        tap(&chrome, "#bulk-submit", &mut problems).await;
        let summary = chrome.wait("#bulk-summary").await.text().await.unwrap();
        assert!(summary.contains("2 of 2 numbers released"), "{summary}");
        check_here(&chrome, &mut problems).await;
        assert_eq!(app.number_state(&released[0]).await, "released");

        // A refused form says why beside the field, within the screen.
        c.goto(&app.url("/settings")).await.unwrap();
        let field = chrome.wait("#main_number").await;
        field.clear().await.unwrap();
        field.send_keys("12").await.unwrap();
        tap(&chrome, "#save-settings", &mut problems).await;
        let why = chrome
            .wait("#main_number-error")
            .await
            .text()
            .await
            .unwrap();
        assert!(!why.is_empty());
        if !within_width(&chrome, "#main_number-error").await {
            problems.push("the main number's error is outside the window".into());
        }
        assert_eq!(
            chrome
                .wait("#main_number")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("12"),
            "what was typed is kept"
        );
        check_here(&chrome, &mut problems).await;

        assert!(problems.is_empty(), "{}", problems.join("\n"));
        c.close().await.unwrap();
    })
}
