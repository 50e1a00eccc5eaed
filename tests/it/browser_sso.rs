//! Headless Chromium through single sign-on: the operator sets up a provider on the Company
//! sign-in page (a refused issuer explained beside its field), then a new colleague of the
//! tenant signs in with "Sign in with your company account", through the provider's pages
//! and back, and lands signed in with the role the provider's groups give.

use fantoccini::Locator;

use crate::common::spawn_app;
use crate::sso::Idp;

#[test]
fn the_operator_sets_up_a_provider_and_a_new_colleague_signs_in_through_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        idp.claims(
            "lead@globex.test",
            serde_json::json!({ "groups": ["inward-admins"] }),
        )
        .await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "operator@inward.test").await;
        c.find(Locator::Css("nav a[href='/identity-providers']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("#no-providers").await;
        let organization = chrome.wait("#organization").await;
        organization.select_by_value("globex").await.unwrap();
        let fill = [
            ("#name", "Globex sign-in"),
            ("#issuer", "https://10.0.0.9"),
            ("#client_id", inward::providers::simulator::oidc::CLIENT_ID),
            (
                "#client_secret",
                inward::providers::simulator::oidc::CLIENT_SECRET,
            ),
            ("#domains", "globex.test"),
            ("#role_claim", "groups"),
            ("#role_map", "inward-admins = tenant_admin"),
        ];
        for (css, value) in fill {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        c.find(Locator::Css("#add-provider"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let said = chrome.wait("#issuer-error").await.text().await.unwrap();
        assert!(said.contains("public"), "{said}");
        // The issuer again, right this time; what else was typed is still there.
        let issuer = chrome.wait("#issuer").await;
        issuer.clear().await.unwrap();
        issuer.send_keys(&idp.issuer).await.unwrap();
        c.find(Locator::Css("#client_secret"))
            .await
            .unwrap()
            .send_keys(inward::providers::simulator::oidc::CLIENT_SECRET)
            .await
            .unwrap();
        c.find(Locator::Css("#add-provider"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome.wait("#providers").await.text().await.unwrap();
        assert!(notice.contains("globex.test"), "{notice}");
        let violations = chrome.axe().await;
        assert!(violations.is_empty(), "{violations:#?}");
        chrome.screenshot("identity-providers").await;

        // Signed out, a colleague who has never been here signs in through the provider.
        c.delete_all_cookies().await.unwrap();
        c.goto(&app.url("/login")).await.unwrap();
        chrome
            .wait("#email")
            .await
            .send_keys("lead@globex.test")
            .await
            .unwrap();
        let violations = chrome.axe().await;
        assert!(violations.is_empty(), "{violations:#?}");
        c.find(Locator::Css("#login-sso"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("nav.top").await;
        let who = chrome.wait("#account-link").await.text().await.unwrap();
        assert_eq!(who, "lead@globex.test");
        let bar = chrome.wait(".who").await.text().await.unwrap();
        assert!(bar.contains("tenant admin"), "{bar}");
        assert!(c.current_url().await.unwrap().path().starts_with("/search"));
    })
}
