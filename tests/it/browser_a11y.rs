//! Headless Chromium over the pages each role uses: every form control has a name a screen
//! reader can say, the page has a working skip link, and the navigation marks where you are.

use fantoccini::Locator;
use serde_json::json;

use crate::common::spawn_app;

/// The form controls on the page that have no accessible name (no `label[for]`, wrapping
/// label, `aria-label`, `aria-labelledby` or title; a button without text).
const UNNAMED: &str = r#"
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter(function (el) {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title) { return false; }
    if (el.tagName === 'BUTTON') { return !el.textContent.trim(); }
    if (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) { return false; }
    return !el.closest('label');
  })
  .map(function (el) { return el.outerHTML.slice(0, 160); });
"#;

async fn check(chrome: &crate::chrome::Chrome, url: &str, problems: &mut Vec<String>) {
    chrome.client.goto(url).await.unwrap();
    check_here(chrome, problems).await;
}

/// Checks the page Chromium shows now: a picture, axe-core, no sideways scrolling, every
/// control named, a skip link and the current page marked in the navigation.
pub async fn check_here(chrome: &crate::chrome::Chrome, problems: &mut Vec<String>) {
    let c = &chrome.client;
    chrome.wait("main").await;
    let url = c.current_url().await.unwrap().to_string();
    let url = url.as_str();
    // A picture of each page at each width, for a person to look over (scripts/test keeps
    // them in target/screenshots).
    let width = c
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap_or(0);
    let path = url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let name: String = path
        .trim_matches('/')
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    chrome
        .screenshot(&format!(
            "{}-{width}",
            if name.is_empty() { "home" } else { &name }
        ))
        .await;
    for violation in chrome.axe().await {
        problems.push(format!("{url}: {violation}"));
    }
    let (page_width, window_width) = {
        let w = c
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        (w[0].as_i64().unwrap(), w[1].as_i64().unwrap())
    };
    if page_width > window_width {
        problems.push(format!(
            "{url}: scrolls sideways ({page_width} px of content in a {window_width} px window)"
        ));
    }
    let unnamed = c.execute(UNNAMED, vec![]).await.unwrap();
    for control in unnamed.as_array().unwrap() {
        problems.push(format!("{url}: unnamed control {control}"));
    }
    if c.find(Locator::Css("a.skip-link[href='#main']"))
        .await
        .is_err()
    {
        problems.push(format!("{url}: no skip link"));
    }
    let current = c
        .execute(
            "var a = document.querySelector('nav.top a[aria-current=page]'); return a ? a.textContent : null;",
            vec![],
        )
        .await
        .unwrap();
    if current.is_null() {
        problems.push(format!("{url}: the navigation marks no current page"));
    }
}

#[test]
fn every_control_is_named_and_the_pages_can_be_skipped_to() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(1).await;
        let held = admin.find("npa=512", 2).await;
        let (_, reservation) = admin.reserve(&held).await;
        let wanted = admin.find("npa=718", 2).await;
        let (status, _) = admin
            .post("/api/v1/cart/items", json!({ "numbers": wanted }))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
        let (_, port) = admin
            .post(
                "/api/v1/ports",
                json!({
                    "numbers": ["+13126200101"], "current_carrier": "Old Telco", "account_number": "ACC-1",
                    "account_name": "Globex", "service_address": "500 Congress Ave, Austin TX 78701",
                    "target": { "type": "queue", "name": "Sales" }
                }),
            )
            .await;
        let (_, saved) = admin
            .post(
                "/api/v1/e911/addresses",
                json!({ "label": "HQ", "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            )
            .await;
        let (status, _) = admin
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "Front desk", "email": "desk@globex.test", "number": numbers[0] }),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let chrome = crate::chrome::Chrome::start().await;
        let mut problems = Vec::new();
        chrome.login(&app.url(""), "admin@globex.test").await;
        let pages = [
            "/search?kind=local&state=TX&npa=512".to_string(),
            format!("/reservations/{}", reservation["id"].as_str().unwrap()),
            "/reservations".to_string(),
            "/cart".to_string(),
            "/numbers".to_string(),
            format!("/numbers/{}", numbers[0]),
            "/numbers/orphaned".to_string(),
            "/ports".to_string(),
            format!("/ports/{}", port["id"].as_str().unwrap()),
            "/compliance".to_string(),
            "/settings".to_string(),
            "/settings/connection".to_string(),
            "/inventory".to_string(),
            "/audit".to_string(),
            "/tokens".to_string(),
            "/users".to_string(),
            "/account".to_string(),
            "/notifications".to_string(),
            "/drift".to_string(),
            "/e911/bulk".to_string(),
            "/e911".to_string(),
            format!("/e911/addresses/{}", saved["id"].as_str().unwrap()),
            "/search?kind=local".to_string(),
            "/search?npa=512&pattern=55&pattern_match=ends_with&sort=price".to_string(),
            "/search/coverage?state=TX".to_string(),
            "/search/coverage?npa=512".to_string(),
            "/reports/costs".to_string(),
        ];
        // Wide and as narrow as a phone.
        for width in [1280u32, 390] {
            chrome.client.set_window_size(width, 900).await.unwrap();
            for path in &pages {
                check(&chrome, &app.url(path), &mut problems).await;
            }
        }
        chrome.client.set_window_size(1280, 900).await.unwrap();
        chrome.client.delete_all_cookies().await.unwrap();
        chrome.login(&app.url(""), "reseller@acme.test").await;
        for path in [
            "/inventory",
            "/inventory/carriers",
            "/aging",
            "/approvals",
            "/users",
            "/reports/costs",
        ] {
            check(&chrome, &app.url(path), &mut problems).await;
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
}
