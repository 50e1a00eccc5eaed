//! Headless Chromium on the Webhooks pages: a refused URL is explained beside its field, an
//! endpoint is registered and its secret shown once, a test event is sent from the page and
//! its delivery shown, signed with that secret.

use std::time::Duration;

use fantoccini::Locator;

use crate::common::spawn_app_with;
use crate::receiver::{Receiver, verified};

#[test]
fn an_admin_registers_an_endpoint_and_watches_a_test_event_arrive() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.webhooks.poll_interval_ms = 50).await;
        let receiver = Receiver::start(0).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "admin@globex.test").await;
        c.find(Locator::Css("nav a[href='/webhooks']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("#no-webhooks").await;

        // Plain http to a host the operator has not admitted.
        let url = chrome.wait("#url").await;
        url.send_keys("http://hooks.example.com/inward")
            .await
            .unwrap();
        let tick = "input[name='events'][value='number.reserved']";
        c.find(Locator::Css(tick))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("#add-webhook"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let said = chrome.wait("#url-error").await.text().await.unwrap();
        assert!(said.contains("https"), "{said}");
        assert_eq!(
            chrome
                .wait("#url")
                .await
                .attr("aria-invalid")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert!(
            c.find(Locator::Css(tick))
                .await
                .unwrap()
                .is_selected()
                .await
                .unwrap(),
            "the chosen events stay chosen"
        );

        let url = chrome.wait("#url").await;
        url.clear().await.unwrap();
        url.send_keys(&receiver.url).await.unwrap();
        c.find(Locator::Css("#add-webhook"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let secret = chrome.wait("#webhook-secret").await.text().await.unwrap();
        assert!(secret.starts_with("whsec_"), "{secret}");
        chrome.screenshot("webhooks").await;
        c.find(Locator::Css("#new-webhook a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("#no-deliveries").await;
        c.find(Locator::Css("#send-test"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome.wait("main .alert-success[role='status']").await;
        assert!(notice.text().await.unwrap().contains("Test event"));

        let got = receiver.wait_for(1, Duration::from_secs(15)).await;
        assert_eq!(verified(&secret, &got[0])["type"], "webhook.test");
        let mut shown = false;
        for _ in 0..50 {
            c.refresh().await.unwrap();
            if c.find(Locator::Css("#deliveries .wh-delivered"))
                .await
                .is_ok()
            {
                shown = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(shown, "the delivery is shown delivered");
        let row = chrome
            .wait("#deliveries tbody tr")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            row.contains("HTTP 200") && row.contains("webhook.test"),
            "{row}"
        );
        chrome.screenshot("webhook").await;
        let violations = chrome.axe().await;
        assert!(violations.is_empty(), "{violations:#?}");
    })
}
