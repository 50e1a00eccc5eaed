//! One real headless Chromium (through chromedriver) walking the core flow.

use fantoccini::Locator;

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
fn select_all_ticks_the_page_and_the_summary_adds_up_the_prices() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        c.goto(&app.url("/search?kind=local&state=TX&npa=512&limit=5"))
            .await
            .unwrap();
        chrome.wait("#reserve-form input[name=number]").await;
        let summary = || async {
            c.find(Locator::Css("#pick-summary"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        assert_eq!(summary().await, "None selected");
        c.find(Locator::Css("#pick-all"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let boxes = c
            .find_all(Locator::Css("#reserve-form input[name=number]"))
            .await
            .unwrap();
        let (mut monthly, mut setup) = (0i64, 0i64);
        for b in &boxes {
            assert!(b.is_selected().await.unwrap(), "every number ticked");
            monthly += b
                .attr("data-monthly")
                .await
                .unwrap()
                .unwrap()
                .parse::<i64>()
                .unwrap();
            setup += b
                .attr("data-setup")
                .await
                .unwrap()
                .unwrap()
                .parse::<i64>()
                .unwrap();
        }
        let money = |micros: i64| format!("${:.2}", micros as f64 / 1_000_000.0);
        assert_eq!(
            summary().await,
            format!(
                "{} selected · {} a month · {} setup",
                boxes.len(),
                money(monthly),
                money(setup)
            )
        );
        boxes[0].click().await.unwrap();
        assert!(
            summary()
                .await
                .starts_with(&format!("{} selected", boxes.len() - 1))
        );
        let partly: bool = c
            .execute(
                "return document.getElementById('pick-all').indeterminate;",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap();
        assert!(partly, "select-all shows that some are ticked");
        c.close().await.unwrap();
    })
}
