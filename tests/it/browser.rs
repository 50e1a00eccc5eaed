//! One real headless Chromium (through chromedriver) walking the core flow.

use fantoccini::Locator;
use fantoccini::key::Key;

use crate::common::spawn_app;

#[test]
fn log_in_search_reserve_provision_and_see_the_number_active() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        // Asking for a page while logged out lands on the login form, then back on the page.
        c.goto(&app.url("/search")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/login"));
        chrome.login(&app.url(""), "agent@globex.test").await;
        c.goto(&app.url("/search")).await.unwrap();
        chrome.wait("#search-form").await;
        c.find(Locator::Css("#state"))
            .await
            .unwrap()
            .select_by_value("TX")
            .await
            .unwrap();
        c.find(Locator::Css("#npa"))
            .await
            .unwrap()
            .send_keys("512")
            .await
            .unwrap();
        c.find(Locator::Css("#search"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        let boxes = {
            chrome.wait("#reserve-form input[name=number]").await;
            chrome.screenshot("search").await;
            c.find_all(Locator::Css("#reserve-form input[name=number]"))
                .await
                .unwrap()
        };
        assert!(boxes.len() >= 2, "search results shown");
        let picked = boxes[0].attr("value").await.unwrap().unwrap();
        boxes[0].click().await.unwrap();
        boxes[1].click().await.unwrap();
        c.find(Locator::Css("#reserve"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        let countdown = chrome.wait("#countdown").await;
        chrome.screenshot("reservation").await;
        let shown = countdown.text().await.unwrap();
        assert!(
            shown.starts_with("14:") || shown.starts_with("15:"),
            "live countdown shows {shown}"
        );

        let form = c.find(Locator::Css(".provision-form")).await.unwrap();
        let target = form
            .find(Locator::Css("select[name=target]"))
            .await
            .unwrap();
        let new_extension = form.find(Locator::Css(".new-extension")).await.unwrap();
        assert!(
            !new_extension.is_displayed().await.unwrap(),
            "no extension name asked for before a new extension is picked"
        );
        target.select_by_label("New extension…").await.unwrap();
        assert!(new_extension.is_displayed().await.unwrap());
        target.select_by_label("Queue · Sales").await.unwrap();
        assert!(!new_extension.is_displayed().await.unwrap());
        form.find(Locator::Css("input[name=display_name]"))
            .await
            .unwrap()
            .send_keys("Browser line")
            .await
            .unwrap();
        form.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let notice = chrome.wait(".alert-success").await.text().await.unwrap();
        assert!(notice.contains("provisioned"), "{notice}");

        c.goto(&app.url("/numbers")).await.unwrap();
        let table = chrome.wait("#numbers").await.text().await.unwrap();
        chrome.screenshot("numbers").await;
        assert!(
            table.contains("active") && table.contains("Browser line"),
            "{table}"
        );
        assert_eq!(app.number_state(&picked).await, "active");
        c.close().await.unwrap();
    })
}

#[test]
fn a_search_the_server_refuses_shows_why_and_clears_the_old_results() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        c.goto(&app.url("/search?kind=local&state=TX&npa=512"))
            .await
            .unwrap();
        chrome.wait("#reserve-form input[name=number]").await;
        // The same form, now with neither a state nor an area code: the server answers 422.
        c.find(Locator::Css("#state"))
            .await
            .unwrap()
            .select_by_value("")
            .await
            .unwrap();
        c.find(Locator::Css("#npa"))
            .await
            .unwrap()
            .clear()
            .await
            .unwrap();
        c.find(Locator::Css("#search"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let error = chrome.wait("#search-error").await.text().await.unwrap();
        assert!(error.contains("state or an area code"), "{error}");
        let left = c
            .find_all(Locator::Css("#reserve-form input[name=number]"))
            .await
            .unwrap();
        assert!(left.is_empty(), "the old results are gone");
    })
}

#[test]
fn toll_free_hides_the_fields_that_only_local_numbers_have() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        c.goto(&app.url("/search")).await.unwrap();
        assert!(chrome.wait("#state").await.is_displayed().await.unwrap());
        c.find(Locator::Css("#kind"))
            .await
            .unwrap()
            .select_by_value("toll_free")
            .await
            .unwrap();
        for id in ["#state", "#nxx", "#city", "#rate_center"] {
            let field = c.find(Locator::Css(id)).await.unwrap();
            assert!(
                !field.is_displayed().await.unwrap(),
                "{id} hidden for toll-free"
            );
        }
        assert!(
            c.find(Locator::Css("#pattern"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap()
        );
        c.find(Locator::Css("#search"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        chrome.wait("#reserve-form input[name=number]").await;
        // A toll-free page opened directly starts with them hidden.
        c.goto(&app.url("/search?kind=toll_free")).await.unwrap();
        let state = chrome.wait("#state").await;
        assert!(!state.is_displayed().await.unwrap());
    })
}

#[test]
fn the_cart_keeps_ticks_across_result_pages_and_survives_a_refusal() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        for width in [1280u32, 390] {
            c.set_window_size(width, 900).await.unwrap();
            c.goto(&app.url("/search?kind=local&state=TX&npa=512&limit=3"))
                .await
                .unwrap();
            chrome.wait("#reserve-form input[name=number]").await;
            let count = || async {
                c.find(Locator::Css("#cart-count"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            };
            assert_eq!(count().await, "Your cart is empty.");
            // Select-all puts the page in the cart (on the server, so it outlives the page).
            c.find(Locator::Css("#pick-all"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.wait()
                .at_most(std::time::Duration::from_secs(15))
                .for_element(Locator::XPath(
                    "//span[@id='cart-count'][starts-with(normalize-space(.), 'Your cart: 3 numbers')]",
                ))
                .await
                .expect("the cart line counts the page");
            chrome.wait("#cart-link .bell-count").await;
            // At 390 px the menu is folded: read the count, not what is on screen.
            let badge = c
                .execute(
                    "return document.querySelector('#cart-link .bell-count').textContent;",
                    vec![],
                )
                .await
                .unwrap();
            let badge = badge.as_str().unwrap_or_default();
            assert!(badge.starts_with('3'), "{badge}");
            // The next page starts unticked; one more tick there joins the same cart.
            c.find(Locator::Css("#next-page"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            // The ticks are saved, then the next page loads: wait for its address.
            let mut waited = 0;
            while !c.current_url().await.unwrap().as_str().contains("cursor=") {
                assert!(waited < 150, "the next page did not load");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                waited += 1;
            }
            chrome.wait("#reserve-form input[name=number]").await;
            let boxes = c
                .find_all(Locator::Css("#reserve-form input[name=number]"))
                .await
                .unwrap();
            assert!(!boxes[0].is_selected().await.unwrap());
            let extra = boxes[0].attr("value").await.unwrap().unwrap();
            boxes[0].click().await.unwrap();
            c.wait()
                .at_most(std::time::Duration::from_secs(15))
                .for_element(Locator::XPath(
                    "//span[@id='cart-count'][starts-with(normalize-space(.), 'Your cart: 4 numbers')]",
                ))
                .await
                .expect("the cart counts both pages");
            chrome.screenshot(&format!("search-cart-{width}")).await;
            let violations = chrome.axe().await;
            assert!(violations.is_empty(), "{}", violations.join("\n"));

            // Someone else takes the number meanwhile: reserving names it, keeps the rest.
            let other = app.api("agent@initech.test").await;
            assert_eq!(
                other.reserve(std::slice::from_ref(&extra)).await.0,
                reqwest::StatusCode::CREATED
            );
            let reserve = c.find(Locator::Css("#reserve")).await.unwrap();
            assert!(reserve.is_displayed().await.unwrap());
            reserve.click().await.unwrap();
            let error = chrome.wait("#cart-error").await.text().await.unwrap();
            let national = inward::domain::e164::format_national(&extra);
            assert!(
                error.contains(&national)
                    && error.contains("the other 3 numbers are still in your cart"),
                "{error}"
            );
            assert!(
                count().await.starts_with("Your cart: 3 numbers"),
                "{}",
                count().await
            );

            // The Cart page reserves the rest as one reservation.
            c.goto(&app.url("/cart")).await.unwrap();
            chrome.wait("#reserve-cart").await;
            chrome.screenshot(&format!("cart-{width}")).await;
            let wide: bool = c
                .execute(
                    "return document.documentElement.scrollWidth > window.innerWidth;",
                    vec![],
                )
                .await
                .unwrap()
                .as_bool()
                .unwrap();
            assert!(!wide, "the Cart page scrolls sideways at {width} px");
            c.find(Locator::Css("#reserve-cart"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            chrome.wait("#countdown").await;
            let rows = c.find_all(Locator::Css("tr[id^='row-']")).await.unwrap();
            assert_eq!(rows.len(), 3, "one reservation of the three");
            chrome.screenshot(&format!("reservation-{width}")).await;
            // Every Provision button can be reached without scrolling sideways.
            let outside: i64 = c
                .execute(
                    "return Array.from(document.querySelectorAll('.provision-form button[type=submit]'))
                       .filter(function (b) { return b.getBoundingClientRect().right > window.innerWidth; }).length;",
                    vec![],
                )
                .await
                .unwrap()
                .as_i64()
                .unwrap();
            assert_eq!(outside, 0, "a Provision button is off screen at {width} px");
            let violations = chrome.axe().await;
            assert!(violations.is_empty(), "{}", violations.join("\n"));
            if width == 390 {
                // The menu is folded behind its button, which opens it.
                let search_link = c
                    .find(Locator::Css("#nav-links a[href='/search']"))
                    .await
                    .unwrap();
                assert!(
                    !search_link.is_displayed().await.unwrap(),
                    "folded on a phone"
                );
                c.find(Locator::Css("#menu-button"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                assert!(
                    search_link.is_displayed().await.unwrap(),
                    "the Menu button opens it"
                );
            }
        }
        c.close().await.unwrap();
    })
}

/// Presses Tab until the focus is on an element matching `css` (at most `most` presses).
async fn tab_to(c: &fantoccini::Client, css: &str, most: usize) {
    let check = format!(
        "return document.activeElement !== null && document.activeElement.matches({});",
        serde_json::to_string(css).unwrap()
    );
    for _ in 0..most {
        if c.execute(&check, vec![]).await.unwrap().as_bool() == Some(true) {
            return;
        }
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Tab.to_string())
            .await
            .unwrap();
    }
    panic!("{css} never had the focus after {most} Tabs");
}

#[test]
fn search_reserve_and_provision_with_the_keyboard_alone() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        c.goto(&app.url("/search")).await.unwrap();
        chrome.wait("#search-form").await;
        // The skip link comes first, then the search form.
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Tab.to_string())
            .await
            .unwrap();
        let first: String = c
            .execute("return document.activeElement.className;", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(first, "skip-link", "the first Tab offers Skip to content");
        tab_to(&c, "#npa", 40).await;
        c.active_element()
            .await
            .unwrap()
            .send_keys(&format!("512{}", Key::Enter))
            .await
            .unwrap();
        chrome.wait("#reserve-form input[name=number]").await;
        // Tick the first result with Space; the cart takes it.
        tab_to(&c, "#reserve-form input[name=number]", 60).await;
        let picked: String = c
            .execute("return document.activeElement.value;", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Space.to_string())
            .await
            .unwrap();
        c.wait()
            .at_most(std::time::Duration::from_secs(15))
            .for_element(Locator::XPath(
                "//span[@id='cart-count'][starts-with(normalize-space(.), 'Your cart: 1 number')]",
            ))
            .await
            .expect("the tick reaches the cart");
        tab_to(&c, "#reserve", 120).await;
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Enter.to_string())
            .await
            .unwrap();
        chrome.wait("#countdown").await;
        // Choose a target with the arrow keys, then provision with Enter.
        tab_to(&c, ".provision-form select[name=target]", 60).await;
        c.active_element()
            .await
            .unwrap()
            .send_keys(&format!("{}{}", Key::Down, Key::Down))
            .await
            .unwrap();
        tab_to(&c, ".provision-form button[type=submit]", 10).await;
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Enter.to_string())
            .await
            .unwrap();
        let notice = chrome.wait(".alert-success").await.text().await.unwrap();
        assert!(notice.contains("is provisioned"), "{notice}");
        assert_eq!(app.number_state(&picked).await, "active");
        c.close().await.unwrap();
    })
}
