//! Headless Chromium on the Users page: an admin adds a user, the user signs in, the admin
//! disables it and the user's session ends at once.

use fantoccini::Locator;
use reqwest::StatusCode;

use crate::common::spawn_app;

#[test]
fn an_admin_adds_a_user_then_disables_it_and_its_session_ends() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "admin@globex.test").await;
        c.find(Locator::Css("nav a[href='/users']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("#users").await;
        c.find(Locator::Css("details summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome
            .wait("#email")
            .await
            .send_keys("lena@globex.test")
            .await
            .unwrap();
        c.find(Locator::Css("#role"))
            .await
            .unwrap()
            .select_by_value("tenant_user")
            .await
            .unwrap();
        let first = "lena's first long password";
        c.find(Locator::Css("#password"))
            .await
            .unwrap()
            .send_keys(first)
            .await
            .unwrap();
        c.find(Locator::Css("#add-user-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome
            .wait("main .alert-success")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            notice.contains("lena@globex.test is added as tenant user"),
            "{notice}"
        );
        chrome.screenshot("users").await;

        let lena = app.browser_with("lena@globex.test", first).await;
        assert_eq!(lena.get("/numbers").await.0, StatusCode::OK);
        c.refresh().await.unwrap();
        let row = chrome.wait("#users").await.text().await.unwrap();
        assert!(row.contains("lena@globex.test"), "{row}");

        c.find(Locator::Css(
            "button[aria-label='Disable lena@globex.test']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        let notice = chrome
            .wait("main .alert-success")
            .await
            .text()
            .await
            .unwrap();
        assert!(notice.contains("lena@globex.test is disabled"), "{notice}");
        chrome
            .wait("button[aria-label='Enable lena@globex.test']")
            .await;
        let (status, _) = lena.get("/numbers").await;
        assert!(status.is_redirection(), "lena's session ended: {status}");
    })
}
