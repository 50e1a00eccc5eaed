//! The cart: numbers kept per user on the server across searches until reserved together.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{error_code, spawn_app, spawn_app_with};

fn numbers_of(cart: &Value) -> Vec<String> {
    cart["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["e164"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_cart_collects_numbers_from_several_searches_and_reserves_them_as_one() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let austin = agent.find("npa=512", 2).await;
        let queens = agent.find("npa=718", 1).await;

        let (status, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(cart["count"], 0);
        let (status, cart) = agent
            .post("/api/v1/cart/items", json!({ "numbers": austin }))
            .await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        let (status, cart) = agent
            .post("/api/v1/cart/items", json!({ "numbers": queens }))
            .await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(cart["count"], 3);
        assert_eq!(numbers_of(&cart).len(), 3);
        let monthly: i64 = cart["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["offer"]["monthly_micros"].as_i64().unwrap())
            .sum();
        assert_eq!(cart["monthly_total_micros"].as_i64().unwrap(), monthly);
        assert!(monthly > 0, "{cart}");
        assert!(cart["numbers"][0]["available"].as_bool().unwrap());
        // Nothing is held by a cart.
        assert_eq!(app.number_state(&austin[0]).await, "available");

        // Another user of the same tenant has a cart of their own.
        let admin = app.api("admin@globex.test").await;
        let (_, theirs) = admin.get("/api/v1/cart").await;
        assert_eq!(theirs["count"], 0);

        let (status, cart) = agent
            .delete(&format!("/api/v1/cart/items/{}", queens[0]))
            .await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(numbers_of(&cart), austin);
        let (status, body) = agent
            .delete(&format!("/api/v1/cart/items/{}", queens[0]))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        let (status, reservation) = agent
            .post(
                "/api/v1/cart/reserve",
                json!({ "justification": "two for Austin" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let mut held: Vec<String> = reservation["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        held.sort();
        let mut wanted = austin.clone();
        wanted.sort();
        assert_eq!(held, wanted);
        assert_eq!(app.number_state(&austin[0]).await, "reserved");
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(cart["count"], 0, "reserved numbers leave the cart");

        let (status, body) = agent.post("/api/v1/cart/reserve", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "cart_empty");
    })
}

#[test]
fn a_full_cart_refuses_more_and_says_how_many_fit() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.max_numbers_per_reservation = 3).await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512", 5).await;
        let (status, _) = agent
            .post("/api/v1/cart/items", json!({ "numbers": numbers[..2] }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = agent
            .post("/api/v1/cart/items", json!({ "numbers": numbers[2..] }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "cart_full");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("at most 3") && message.contains("it has 2 and 1 more fits"),
            "{message}"
        );
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(cart["count"], 2, "all or none: nothing was added");
        assert_eq!(cart["limit"], 3);

        // Ticking a whole page on a full cart: the line says why, and lists what the cart
        // holds so that the page unticks the rest.
        let browser = app.browser("agent@globex.test").await;
        let mut form = vec![("csrf", browser.csrf.as_str()), ("q", "npa=512")];
        for n in &numbers {
            form.push(("shown", n.as_str()));
            form.push(("number", n.as_str()));
        }
        let line = browser
            .http
            .post(format!("{}/cart/update", browser.base))
            .header("hx-request", "true")
            .form(&form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            line.contains("id=\"cart-error\"") && line.contains("it has 2 and 1 more fits"),
            "{line}"
        );
        let refused: Vec<&String> = numbers[2..].iter().collect();
        assert!(
            line.contains(&format!(
                "data-refused=\"{} {} {}\"",
                refused[0], refused[1], refused[2]
            )),
            "{line}"
        );

        // A number the tenant is not offered (held by someone else) is refused by name.
        let other = app.api("agent@initech.test").await;
        let (status, _) = other.reserve(&numbers[4..]).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = agent
            .post("/api/v1/cart/items", json!({ "numbers": numbers[4..] }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["details"]["unavailable"][0], numbers[4]);

        let (status, body) = agent
            .post("/api/v1/cart/items", json!({ "numbers": ["not a number"] }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    })
}

#[test]
fn adds_at_the_same_moment_cannot_overfill_the_cart() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.max_numbers_per_reservation = 3).await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512", 8).await;
        let pairs: Vec<Vec<String>> = numbers.chunks(2).map(|c| c.to_vec()).collect();
        let answers = futures::future::join_all(
            pairs
                .iter()
                .map(|pair| agent.post("/api/v1/cart/items", json!({ "numbers": pair }))),
        )
        .await;
        let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(
            accepted, 1,
            "only one pair of two fits in three: {answers:?}"
        );
        assert_eq!(cart["count"], 2, "{cart}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
            assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error_code(body), "cart_full");
        }
    })
}

#[test]
fn a_number_taken_meanwhile_leaves_the_cart_by_name_and_the_rest_stays() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512", 3).await;
        let (status, _) = agent
            .post("/api/v1/cart/items", json!({ "numbers": numbers }))
            .await;
        assert_eq!(status, StatusCode::OK);

        // Someone of another tenant takes one while it sits in the cart.
        let other = app.api("agent@initech.test").await;
        let (status, _) = other.reserve(&numbers[1..2]).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, cart) = agent.get("/api/v1/cart").await;
        let taken = &cart["numbers"].as_array().unwrap()[1];
        assert_eq!(taken["e164"], numbers[1]);
        assert_eq!(taken["available"], false);
        assert!(taken["offer"].is_null());
        assert_eq!(cart["count"], 3);

        let (status, body) = agent.post("/api/v1/cart/reserve", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "numbers_unavailable");
        assert_eq!(body["error"]["details"]["unavailable"], json!([numbers[1]]));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&inward::domain::e164::format_national(&numbers[1]))
                && message.contains("the other 2 numbers are still in your cart"),
            "{message}"
        );
        assert_eq!(app.number_state(&numbers[0]).await, "available");
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(
            numbers_of(&cart),
            vec![numbers[0].clone(), numbers[2].clone()]
        );

        let (status, body) = agent.post("/api/v1/cart/reserve", json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    })
}

#[test]
fn results_pages_tick_what_is_in_the_cart_and_a_refusal_keeps_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("agent@globex.test").await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512&limit=3", 3).await;

        // A box changed (htmx): the answer is the cart line.
        let response = browser
            .http
            .post(format!("{}/cart/update", browser.base))
            .header("hx-request", "true")
            .form(&[
                ("csrf", browser.csrf.as_str()),
                ("q", "npa=512&limit=3"),
                ("shown", numbers[0].as_str()),
                ("shown", numbers[1].as_str()),
                ("shown", numbers[2].as_str()),
                ("number", numbers[0].as_str()),
                ("number", numbers[1].as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["hx-trigger"], "cart-changed");
        let line = response.text().await.unwrap();
        assert!(line.contains("Your cart: 2 numbers"), "{line}");
        assert!(
            line.contains("data-refused=\"\""),
            "nothing refused: {line}"
        );

        // The search shows them ticked; the nav counts them.
        let (_, page) = browser.get("/search?npa=512&limit=3").await;
        assert!(page.contains(&format!(
            "value=\"{}\" id=\"pick-{}\" aria-label",
            numbers[0], numbers[0]
        )));
        assert!(
            page.contains(&format!(
                "id=\"pick-{}\" aria-label=\"Put {} in the cart\" checked",
                numbers[0],
                inward::domain::e164::format_national(&numbers[0])
            )),
            "{page}"
        );
        let (_, badge) = browser.get("/cart/badge").await;
        assert!(
            badge.contains("<span class=\"bell-count\">2<span"),
            "{badge}"
        );

        // Unticking one on the page takes it out; numbers of other pages are not touched.
        let others = agent.find("npa=718", 1).await;
        let (status, _) = agent
            .post("/api/v1/cart/items", json!({ "numbers": others }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let response = browser
            .post_form(
                "/cart/update",
                &[
                    ("q", "npa=512&limit=3"),
                    ("shown", numbers[0].as_str()),
                    ("shown", numbers[1].as_str()),
                    ("number", numbers[1].as_str()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(
            numbers_of(&cart),
            vec![numbers[1].clone(), others[0].clone()]
        );

        // A refusal at reserve time shows on the search page and keeps the cart.
        app.api("agent@initech.test").await.reserve(&others).await;
        let response = browser
            .post_form(
                "/cart/reserve",
                &[
                    ("q", "npa=512&limit=3"),
                    ("shown", numbers[1].as_str()),
                    ("number", numbers[1].as_str()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"cart-error\"") && page.contains("No longer available"),
            "{page}"
        );
        assert!(page.contains("Skip to content"), "inside the layout");
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(numbers_of(&cart), vec![numbers[1].clone()]);

        // The Cart page lists it, and reserves it.
        let (status, page) = browser.get("/cart").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(&format!("id=\"cart-{}\"", numbers[1])) && page.contains("Reserve all 1")
        );
        let response = browser
            .post_form("/cart/reserve", &[("justification", "one")])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(
            response.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/reservations/")
        );
        let (_, page) = browser.get("/cart").await;
        assert!(page.contains("id=\"cart-empty\""));
        // Remove one from the page, and empty the rest (page and API).
        let more = agent.find("npa=907", 3).await;
        let (status, _) = agent
            .post("/api/v1/cart/items", json!({ "numbers": more }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let response = browser
            .post_form("/cart/remove", &[("number", more[0].as_str())])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(numbers_of(&cart), more[1..].to_vec());
        let response = browser.post_form("/cart/clear", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(cart["count"], 0);
        let (status, _) = agent
            .post("/api/v1/cart/items", json!({ "numbers": more }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, cart) = agent.delete("/api/v1/cart").await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(cart["count"], 0);
        let response = browser.post_form("/cart/reserve", &[]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Your cart is empty")
        );
    })
}

#[test]
fn a_page_of_ticks_keeps_all_but_the_taken_number_and_plain_forms_work_without_javascript() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("agent@globex.test").await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512&limit=3", 3).await;
        app.api("agent@initech.test")
            .await
            .reserve(&numbers[2..])
            .await;
        let mut form = vec![("q", "npa=512&limit=3")];
        for n in &numbers {
            form.push(("shown", n.as_str()));
            form.push(("number", n.as_str()));
        }
        // "Next page" without JavaScript: the ticks are kept, then the next page shows,
        // and the one taken meanwhile is named instead.
        let mut next = form.clone();
        next.push(("then", "npa=512&limit=3&cursor=5125550000"));
        let response = browser.post_form("/cart/update", &next).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Not available to reserve")
                && page.contains(&inward::domain::e164::format_national(&numbers[2])),
            "{page}"
        );
        let (_, cart) = agent.get("/api/v1/cart").await;
        assert_eq!(
            numbers_of(&cart),
            numbers[..2].to_vec(),
            "the others joined"
        );

        let kept = [
            ("q", "npa=512&limit=3"),
            ("shown", numbers[0].as_str()),
            ("number", numbers[0].as_str()),
            ("shown", numbers[1].as_str()),
            ("number", numbers[1].as_str()),
            ("then", "npa=512&limit=3&cursor=5125550000"),
        ];
        let response = browser.post_form("/cart/update", &kept).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.contains("cursor=5125550000"), "{location}");
        let (_, page) = browser.get(&location).await;
        assert!(page.contains("Cart updated."), "the notice shows");

        // A search string with control characters is read, not pasted into the redirect.
        let response = browser
            .post_form(
                "/cart/update",
                &[
                    ("q", "npa=512%0D%0ALocation:%20x"),
                    ("shown", numbers[0].as_str()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);

        // Reserving from the page with a taken number ticked: named, nothing reserved.
        let response = browser.post_form("/cart/reserve", &form).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let page = response.text().await.unwrap();
        assert!(page.contains("nothing was reserved"), "{page}");
        assert_eq!(app.number_state(&numbers[0]).await, "available");

        // More numbers than any page holds are refused before they are read.
        let many: Vec<String> = (0..101).map(|i| format!("+1512555{i:04}")).collect();
        let mut huge: Vec<(&str, &str)> = vec![("q", "npa=512")];
        huge.extend(many.iter().map(|n| ("shown", n.as_str())));
        let response = browser.post_form("/cart/update", &huge).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("At most 100 numbers")
        );
    })
}

#[test]
fn resellers_have_no_cart() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let (status, body) = reseller.get("/api/v1/cart").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    })
}
