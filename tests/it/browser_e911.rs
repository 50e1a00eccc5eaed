//! Headless Chromium: a tenant admin sets a number's E911 address and sees it registered.

use fantoccini::Locator;

use crate::common::spawn_app_with;

#[test]
fn an_admin_sets_an_e911_address_and_sees_it_registered() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.sandbox.e911_delay_seconds = 1).await;
        let number = app
            .api("admin@globex.test")
            .await
            .provisioned(1)
            .await
            .remove(0);
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "admin@globex.test").await;
        c.goto(&app.url("/numbers")).await.unwrap();
        let cell = chrome.wait("td.e911 .badge").await.text().await.unwrap();
        assert_eq!(cell, "not set");
        c.goto(&app.url(&format!("/numbers/{number}")))
            .await
            .unwrap();
        assert_eq!(
            chrome.wait("#e911-status").await.text().await.unwrap(),
            "Not set"
        );

        for (id, value) in [
            ("#street", "500 Congress Ave"),
            ("#location", "Suite 300"),
            ("#city", "Austin"),
            ("#e911-state", "TX"),
            ("#zip", "78701"),
        ] {
            c.find(Locator::Css(id))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        c.find(Locator::Css("#save-e911"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome.wait(".alert-success").await.text().await.unwrap();
        assert!(notice.contains("being registered"), "{notice}");
        assert_eq!(
            chrome.wait("#e911-status").await.text().await.unwrap(),
            "Pending"
        );

        // The background job registers it; the page refreshes the status by itself.
        let jobs = {
            let state = app.state.clone();
            tokio::spawn(async move {
                for _ in 0..30 {
                    inward::jobs::run_once(&state).await;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            })
        };
        let registered = chrome.wait("#e911-status[data-status=registered]").await;
        chrome.screenshot("number-e911").await;
        assert_eq!(registered.text().await.unwrap(), "Registered");
        let address = c
            .find(Locator::Css("#e911-address"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(address, "500 Congress Ave, Suite 300, Austin TX 78701");
        jobs.abort();

        c.goto(&app.url("/compliance")).await.unwrap();
        assert_eq!(
            chrome
                .wait("#count-e911-registered")
                .await
                .text()
                .await
                .unwrap(),
            "1"
        );
        c.close().await.unwrap();
    })
}
