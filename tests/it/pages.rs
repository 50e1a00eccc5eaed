use reqwest::StatusCode;

use crate::common::spawn_app;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[test]
fn the_whole_lifecycle_works_through_server_rendered_pages() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("agent@globex.test").await;

        let (status, page) = browser.get("/search?kind=local&state=TX&npa=512").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("Reserve cart")
                && page.contains("title=\"+1512")
                && !page.contains("tel:"),
            "results show national numbers, E.164 on hover, and dial nothing when tapped"
        );
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 2).await;

        let response = browser
            .post_form(
                "/cart/reserve",
                &[
                    ("shown", numbers[0].as_str()),
                    ("shown", numbers[1].as_str()),
                    ("number", numbers[0].as_str()),
                    ("number", numbers[1].as_str()),
                    ("q", "npa=512"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let reservation_path = location(&response);
        let (_, page) = browser.get(&reservation_path).await;
        assert!(page.contains("id=\"countdown\"") && page.contains("data-expires-at"));
        assert!(page.contains("Queue · Sales") && page.contains("New extension"));

        let queue = api.target_id("queue", "Sales").await;
        let target = format!("queue:{queue}");
        let response = browser
            .post_form(
                &format!("{reservation_path}/provision"),
                &[
                    ("number", numbers[0].as_str()),
                    ("target", target.as_str()),
                    ("display_name", "Sales line"),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap()
        );
        let response = browser
            .post_form(
                &format!("{reservation_path}/provision"),
                &[
                    ("number", numbers[1].as_str()),
                    ("target", "extension:new"),
                    ("new_extension", "Reception 2"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        // The notice names the number it is about.
        let (_, page) = browser.get(&location(&response)).await;
        let second = inward::domain::e164::format_national(&numbers[1]);
        assert!(
            page.contains(&format!("{second} is provisioned.")),
            "{page}"
        );
        let (_, page) = browser
            .get(&format!(
                "{reservation_path}?notice=provisioned&number=Free%20money"
            ))
            .await;
        assert!(
            page.contains("Number provisioned.") && !page.contains("Free money"),
            "only a phone number is named"
        );

        let (_, list) = browser.get("/numbers").await;
        assert!(
            list.contains("data-state=\"active\"")
                && list.contains("Sales line")
                && list.contains("Reception 2")
        );
        let (_, detail) = browser.get(&format!("/numbers/{}", numbers[0])).await;
        assert!(
            detail.contains("PROVISION")
                && detail.contains("RESERVE")
                && detail.contains(&numbers[0])
        );

        let response = browser
            .post_form(&format!("/numbers/{}/release", numbers[0]), &[])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.number_state(&numbers[0]).await, "released");
        let (_, page) = browser.get(&location(&response)).await;
        let first = inward::domain::e164::format_national(&numbers[0]);
        assert!(page.contains(&format!("{first} is released")), "{page}");
    })
}

#[test]
fn a_lost_race_rerenders_the_search_with_the_taken_numbers_named() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@initech.test").await;
        let numbers = api.find("npa=512", 1).await;
        api.reserve(&numbers).await;
        let browser = app.browser("agent@globex.test").await;
        let response = browser
            .post_form(
                "/cart/reserve",
                &[
                    ("shown", numbers[0].as_str()),
                    ("number", numbers[0].as_str()),
                    ("q", "npa=512"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Not available to reserve")
                && page.contains(&inward::domain::e164::format_national(&numbers[0])),
            "{page}"
        );
        assert!(
            !page.contains(&format!("value=\"{}\"", numbers[0])),
            "the taken number is gone from the fresh results"
        );
    })
}

#[test]
fn cancel_from_the_page_and_admin_sees_the_audit_log() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("agent@globex.test").await;
        let numbers = app.api("agent@globex.test").await.find("npa=718", 1).await;
        let response = browser
            .post_form(
                "/cart/reserve",
                &[
                    ("shown", numbers[0].as_str()),
                    ("number", numbers[0].as_str()),
                    ("q", "npa=718"),
                ],
            )
            .await;
        let path = location(&response);
        let response = browser.post_form(&format!("{path}/cancel"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, page) = browser.get(&location(&response)).await;
        assert!(page.contains("cancelled"));
        assert_eq!(app.number_state(&numbers[0]).await, "available");

        let (status, _) = browser.get("/audit").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "tenant users do not see the audit log"
        );
        let admin = app.browser("admin@globex.test").await;
        let (status, audit) = admin.get("/audit").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            audit.contains("RESERVE")
                && audit.contains("RELEASE")
                && audit.contains("agent@globex.test")
        );
    })
}

#[test]
fn login_failures_logout_and_search_errors_render_as_pages() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let r = crate::common::sign_in(
            &app.http,
            &app.url(""),
            &[
                ("email", "agent@globex.test"),
                ("password", "wrong password"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("do not match"));

        // A sign-in posted from elsewhere (no form token, or one with no cookie) is refused
        // before the password is looked at.
        let forged = app
            .http
            .post(app.url("/login"))
            .form(&[
                ("email", "agent@globex.test"),
                ("password", crate::common::PASSWORD),
                ("login_token", "0123456789abcdef0123456789abcdef"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert!(
            forged
                .headers()
                .get("set-cookie")
                .is_some_and(|c| c.to_str().unwrap().starts_with("inward_login="))
        );
        assert!(
            forged
                .text()
                .await
                .unwrap()
                .contains("not opened on this site")
        );

        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser.get("/search?kind=local").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("local searches need a state or an area code"));
        let (status, page) = browser.get("/search?country=CA&state=BC").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("region whitelist"));
        let (_, options) = browser.get("/search/cities?city=Aus&state=TX").await;
        assert!(options.contains("<option value=\"Austin\">"), "{options}");

        let response = browser.post_form("/logout", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (status, _) = browser.get("/numbers").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the session is gone");
    })
}

#[test]
fn connection_settings_and_orphan_rerouting_work_from_the_pages() {
    crate::db::db_test(|pool| async move {
        let app = crate::genesys::app_with_key(pool).await;
        let agent = app.browser("agent@globex.test").await;
        assert_eq!(
            agent.get("/settings/connection").await.0,
            StatusCode::FORBIDDEN,
            "tenant admins only"
        );
        let admin = app.browser("admin@globex.test").await;
        let (status, page) = admin.get("/settings/connection").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Genesys Cloud CX") && page.contains("NICE CXone"));
        let response = admin
            .post_form(
                "/settings/connection",
                &[("kind", "genesys"), ("region", "moon")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(
                r#"<small class="field-error" id="region-error">Unknown Genesys Cloud region “moon”"#
            ),
            "{page}"
        );
        let response = admin
            .post_form("/settings/connection", &[("kind", "sandbox")])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let response = admin.post_form("/settings/connection/test", &[]).await;
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("routing targets visible")
        );

        // A sandbox queue deleted behind our back orphans the number; re-route it from the page.
        let api = app.api("agent@globex.test").await;
        let number = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&number).await;
        let id = reservation["id"].as_str().unwrap();
        let queue = api.target_id("queue", "Billing").await;
        api.post(&format!("/api/v1/reservations/{id}/provision"), serde_json::json!({ "assignments": [{ "number": number[0], "target": { "type": "queue", "id": queue } }] })).await;
        sqlx::query("UPDATE sandbox_targets SET deleted_at = now() WHERE id = $1::uuid")
            .bind(&queue)
            .execute(&app.pool)
            .await
            .unwrap();
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!(report.orphaned, 1);
        let (_, page) = admin.get("/numbers/orphaned").await;
        assert!(
            page.contains("lost its routing target") && page.contains("Billing"),
            "the notice names the lost target"
        );
        let support = api.target_id("queue", "Support").await;
        let target = format!("queue:{support}");
        let response = admin
            .post_form(
                &format!("/numbers/{}/reroute", number[0]),
                &[("target", target.as_str())],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.number_state(&number[0]).await, "active");
        let (_, page) = admin.get("/numbers/orphaned").await;
        assert!(page.contains("No orphaned numbers."));
    })
}

#[test]
fn pages_carry_the_security_headers_and_are_not_cached() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let browser = app.browser("agent@globex.test").await;
        let page = browser.http.get(app.url("/numbers")).send().await.unwrap();
        let h = page.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["referrer-policy"], "same-origin");
        assert!(h.contains_key("permissions-policy"));
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            !h.contains_key("strict-transport-security"),
            "only behind HTTPS"
        );
        let html = page.text().await.unwrap();
        assert!(
            !html.contains("onchange=") && !html.contains("onclick="),
            "no inline script"
        );

        let css = html
            .split('"')
            .find(|p| p.starts_with("/static/app.css?v="))
            .unwrap()
            .to_string();
        let sheet = app.http.get(app.url(&css)).send().await.unwrap();
        assert!(
            sheet.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    })
}

#[test]
fn behind_https_browsers_are_told_to_stay_on_it() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app_with(pool, |c| c.server.secure_cookies = true).await;
        let answer = app.http.get(app.url("/login")).send().await.unwrap();
        assert_eq!(
            answer.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        // The cookies are host-only: `__Host-`, Secure, Path=/.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let fields = [
            ("email", "agent@globex.test"),
            ("password", crate::common::PASSWORD),
            ("next", "/numbers"),
        ];
        let signed_in = crate::common::sign_in(&http, &app.url(""), &fields).await;
        assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
        let set: Vec<String> = signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let session = set
            .iter()
            .find(|c| c.starts_with("__Host-inward_session="))
            .unwrap_or_else(|| panic!("{set:?}"));
        let attributes: Vec<&str> = session.split(';').map(str::trim).collect();
        assert!(
            attributes.contains(&"Path=/") && attributes.contains(&"Secure"),
            "{session}"
        );
        let token = session
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1;
        let with = |name: &str| {
            http.get(app.url("/numbers"))
                .header("cookie", format!("{name}={token}"))
                .send()
        };
        assert_eq!(
            with("__Host-inward_session").await.unwrap().status(),
            reqwest::StatusCode::OK
        );
        assert!(
            with("inward_session")
                .await
                .unwrap()
                .status()
                .is_redirection(),
            "an unprefixed cookie, as a sibling site could plant, is not a session"
        );
    })
}

#[test]
fn provision_all_sends_every_held_number_to_one_target_and_names_the_ones_that_failed() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 3).await;
        let (status, reservation) = api.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let id = reservation["id"].as_str().unwrap().to_string();
        let sales = api.target_id("queue", "Sales").await;
        let browser = app.browser("agent@globex.test").await;
        let (_, page) = browser.get(&format!("/reservations/{id}")).await;
        assert!(page.contains("Provision all 3"), "{page}");

        let path = format!("/reservations/{id}/provision");
        let response = browser
            .post_form(&path, &[("all", "yes"), ("target", "")])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Choose the target for all the numbers.") && page.contains("<nav"),
            "{page}"
        );

        inward::providers::sandbox::Sandbox::inject_fault(
            &app.pool,
            "assign",
            1,
            "carrier timeout (injected)",
        )
        .await
        .unwrap();
        let choice = format!("queue:{sales}");
        let response = browser
            .post_form(&path, &[("all", "yes"), ("target", choice.as_str())])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("1 of 3 numbers could not be provisioned")
                && page.contains("carrier timeout"),
            "{page}"
        );
        let mut states = Vec::new();
        for n in &numbers {
            states.push(app.number_state(n).await);
        }
        states.sort();
        assert_eq!(states, ["active", "active", "reserved"]);

        let response = browser
            .post_form(&path, &[("all", "yes"), ("target", choice.as_str())])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()["location"],
            format!("/reservations/{id}?notice=provisioned_all").as_str()
        );
        for n in &numbers {
            assert_eq!(app.number_state(n).await, "active");
        }
    })
}

#[test]
fn a_refused_provisioning_names_its_row_and_keeps_what_was_chosen() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 2).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        let browser = app.browser("agent@globex.test").await;
        let response = browser
            .post_form(
                &format!("/reservations/{id}/provision"),
                &[
                    ("number", numbers[1].as_str()),
                    ("target", "extension:new"),
                    ("new_extension", " "),
                    ("display_name", "Front desk"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        let row = inward::domain::e164::format_national(&numbers[1]);
        assert!(
            page.contains(&format!("{row}: name the new extension.")),
            "{page}"
        );
        assert!(
            page.contains("value=\"extension:new\" selected")
                && page.contains("value=\"Front desk\""),
            "the row keeps its choices: {page}"
        );
        assert_eq!(
            page.matches(" selected>").count(),
            1,
            "only the refused row keeps a choice"
        );
    })
}

#[test]
fn empty_lists_say_so_without_an_empty_table_or_actions_that_have_nothing_to_act_on() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;
        let (_, numbers) = admin.get("/numbers").await;
        assert!(
            numbers.contains("No numbers here yet.")
                && !numbers.contains("id=\"numbers\"")
                && !numbers.contains("id=\"bulk-reroute\""),
            "{numbers}"
        );
        let (_, orphans) = admin.get("/numbers/orphaned").await;
        assert!(
            orphans.contains("No orphaned numbers.") && !orphans.contains("id=\"orphaned\""),
            "{orphans}"
        );
        let reseller = app.browser("reseller@acme.test").await;
        let (status, inventory) = reseller.get("/inventory?q=%2B19999999999").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            inventory.contains("id=\"no-inventory\"")
                && !inventory.contains("id=\"inventory\"")
                && !inventory.contains("id=\"bulk-allocate\""),
            "{inventory}"
        );
        // With numbers, both are there.
        app.api("agent@globex.test").await.provisioned(1).await;
        let (_, numbers) = admin.get("/numbers").await;
        assert!(numbers.contains("id=\"numbers\"") && numbers.contains("id=\"bulk-reroute\""));
    })
}
