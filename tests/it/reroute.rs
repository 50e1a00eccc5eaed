//! Re-routing a live number: the saga's happy path, its refusals and compensation, a lost
//! answer finished by recovery, and the pages. (Crashes at each step: crash.rs.)

use inward::providers::sandbox::Sandbox;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{Api, error_code, spawn_app};

/// The target the sandbox platform routes `number` to, by name.
async fn routed_to(pool: &PgPool, number: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT t.name FROM sandbox_assignments a JOIN sandbox_targets t ON t.id = a.target_id
         WHERE a.e164 = $1",
    )
    .bind(number)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// (Inward's state, Inward's target name) of `number`.
async fn in_inward(pool: &PgPool, number: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT lifecycle, target_name FROM numbers WHERE e164 = $1")
        .bind(number)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn reroute(api: &Api, number: &str, kind: &str, id: &str) -> (StatusCode, Value) {
    api.post(
        &format!("/api/v1/numbers/{number}/reroute"),
        json!({ "target": { "type": kind, "id": id } }),
    )
    .await
}

/// The details of the REROUTE entries about `number`, oldest first.
async fn reroute_entries(pool: &PgPool, number: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT status, details FROM audit_log WHERE phone_number = $1 AND action = 'REROUTE' ORDER BY id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Deletes the sandbox targets named `names` the moment a re-route's intent is recorded:
/// after Inward checked that the new target exists, before the platform is asked.
async fn delete_targets_when_rerouting(pool: &PgPool, names: &[&str]) {
    let list = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION test_delete_targets() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN UPDATE sandbox_targets SET deleted_at = now() WHERE name IN ({list}); RETURN NEW; END $$;
         CREATE TRIGGER test_delete_targets AFTER INSERT ON reroute_attempts
             FOR EACH ROW EXECUTE FUNCTION test_delete_targets();"
    ))
    .execute(pool)
    .await
    .unwrap();
}

#[test]
fn a_live_number_moves_to_its_new_target_and_the_move_is_audited() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Sales")
        );
        let support = agent.target_id("queue", "Support").await;
        let sales = agent.target_id("queue", "Sales").await;

        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "active");
        assert_eq!(body["target"]["name"], "Support");
        assert_eq!(
            in_inward(&app.pool, &number).await,
            ("active".into(), Some("Support".into()))
        );
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Support")
        );
        let entries = reroute_entries(&app.pool, &number).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].0, "SUCCESS");
        assert_eq!(entries[0].1["from"]["name"], "Sales");
        assert_eq!(entries[0].1["to"]["name"], "Support");

        // Where it already goes: refused, saying so.
        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already routed to Queue Support"),
            "{body}"
        );
        let (status, body) = reroute(&agent, &number, "queue", "not-a-target").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = reroute(&agent, &number, "skill", &sales).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reroute_entries(&app.pool, &number).await.len(), 1);

        // Another tenant cannot move it.
        let initech = app.api("agent@initech.test").await;
        let (status, _) = reroute(&initech, &number, "queue", &sales).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // And back, on to an IVR.
        let menu = agent.target_id("ivr", "Main Menu").await;
        let (status, body) = reroute(&agent, &number, "ivr", &menu).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Main Menu")
        );
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM reroute_attempts WHERE step = 'started'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(open, 0, "no intent left open");
    })
}

#[test]
fn a_refused_target_leaves_the_number_on_its_old_one() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let support = agent.target_id("queue", "Support").await;
        delete_targets_when_rerouting(&app.pool, &["Support"]).await;

        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("still goes to Queue Sales") && message.contains("Support"),
            "{message}"
        );
        assert_eq!(
            in_inward(&app.pool, &number).await,
            ("active".into(), Some("Sales".into()))
        );
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Sales")
        );
        let entries = reroute_entries(&app.pool, &number).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].0, "FAILURE");
        let step: String = sqlx::query_scalar("SELECT step FROM reroute_attempts WHERE e164 = $1")
            .bind(&number)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(step, "compensated");
    })
}

#[test]
fn when_both_targets_are_refused_the_number_says_it_is_routed_nowhere() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let support = agent.target_id("queue", "Support").await;
        delete_targets_when_rerouting(&app.pool, &["Support", "Sales"]).await;

        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("routed nowhere"),
            "{body}"
        );
        assert_eq!(routed_to(&app.pool, &number).await, None);
        assert_eq!(in_inward(&app.pool, &number).await.0, "orphaned");
        let told: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notifications WHERE phone_number = $1 AND message LIKE '%routed nowhere%'",
        )
        .bind(&number)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(told >= 1, "the tenant's admins are told");
        let admin = app.api("admin@globex.test").await;
        let (_, orphans) = admin.get("/api/v1/orphaned-numbers").await;
        assert_eq!(orphans["numbers"][0]["e164"], number.as_str(), "{orphans}");
    })
}

#[test]
fn a_lost_answer_is_finished_by_recovery_and_blocks_a_release_meanwhile() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let support = agent.target_id("queue", "Support").await;
        Sandbox::inject_fault(&app.pool, "assign_answer", 1, "timed out (injected)")
            .await
            .unwrap();

        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "reroute_pending");
        // The platform moved it; Inward does not claim it yet, nor lets it be released.
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Support")
        );
        assert_eq!(
            in_inward(&app.pool, &number).await.1.as_deref(),
            Some("Sales")
        );
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{number}/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("being released, re-routed"),
            "{body}"
        );
        let (status, body) = reroute(&agent, &number, "queue", &support).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "state_changed");

        // Nor does the Drift page's "apply Inward's routing" undo the move under way.
        let admin = app.api("admin@globex.test").await;
        let (status, body) = admin.post("/api/v1/drift/run", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin
            .post(
                "/api/v1/drift/actions",
                json!({ "action": "apply", "numbers": [number] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["ok"], false, "{body}");
        assert!(
            body["results"][0]["error"]
                .to_string()
                .contains("being re-routed"),
            "{body}"
        );
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Support")
        );

        // Recovery waits for the lease to run out, then finishes the move.
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.reroutes_finished, 0, "the lease still runs");
        sqlx::query("UPDATE reroute_attempts SET lease_expires_at = now() - interval '1 second'")
            .execute(&app.pool)
            .await
            .unwrap();
        let report = inward::jobs::run_once(&app.state).await;
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!(report.reroutes_finished, 1);
        assert_eq!(
            in_inward(&app.pool, &number).await,
            ("active".into(), Some("Support".into()))
        );
        assert_eq!(
            routed_to(&app.pool, &number).await.as_deref(),
            Some("Support")
        );
        let statuses: Vec<String> = reroute_entries(&app.pool, &number)
            .await
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(statuses, ["SUCCESS"]);

        // Released now, it stays released: nothing re-routes it behind the user's back.
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{number}/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(routed_to(&app.pool, &number).await, None);
    })
}

#[test]
fn the_number_page_re_routes_and_shows_a_refusal_in_place() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let number = agent.provisioned(1).await.remove(0);
        let support = agent.target_id("queue", "Support").await;
        let browser = app.browser("agent@globex.test").await;
        let (status, page) = browser.get(&format!("/numbers/{number}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("id=\"reroute-form\"") && page.contains("Queue · Sales (now)"),
            "{page}"
        );
        let choice = format!("queue:{support}");
        let response = browser
            .post_form(
                &format!("/numbers/{number}/reroute"),
                &[("target", choice.as_str()), ("back", "number")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("/numbers/{number}?notice=rerouted"));
        let (_, page) = browser.get(&location).await;
        assert!(page.contains("Number re-routed"), "{page}");
        assert!(page.contains("Queue · Support (now)"), "{page}");

        // Nothing chosen: the error is on the number's page, in the layout.
        let response = browser
            .post_form(
                &format!("/numbers/{number}/reroute"),
                &[("target", ""), ("back", "number")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"reroute-error\"")
                && page.contains("Choose the new routing target.")
                && page.contains("<nav"),
            "{page}"
        );
    })
}

#[test]
fn several_numbers_move_together_and_each_says_how_it_went() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let support = admin.target_id("queue", "Support").await;
        // A number in stock: not the tenant's to move.
        let stranger = admin.find("npa=512", 1).await.remove(0);

        let body = json!({
            "numbers": [numbers[0], numbers[1], numbers[0], "+1555", stranger],
            "target": { "type": "queue", "id": support },
        });
        let (status, answer) = admin.post("/api/v1/numbers/reroute", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            (answer["rerouted"].as_u64(), answer["failed"].as_u64()),
            (Some(2), Some(2))
        );
        let results = answer["results"].as_array().unwrap();
        assert_eq!(
            results.len(),
            4,
            "a number given twice is re-routed once: {answer}"
        );
        assert_eq!(results[0]["target"]["name"], "Support");
        assert_eq!(results[2]["error"]["code"], "invalid_input");
        assert_eq!(
            results[3]["error"]["code"], "not_found",
            "another tenant's number"
        );
        for number in &numbers {
            assert_eq!(
                routed_to(&app.pool, number).await.as_deref(),
                Some("Support")
            );
        }
        assert_eq!(routed_to(&app.pool, &stranger).await, None);

        let too_many: Vec<String> = (0..101).map(|i| format!("+1512555{i:04}")).collect();
        let (status, body) = admin
            .post(
                "/api/v1/numbers/reroute",
                json!({ "numbers": too_many, "target": { "type": "queue", "id": support } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 100")
        );
        let (status, body) = admin
            .post(
                "/api/v1/numbers/reroute",
                json!({ "numbers": [], "target": { "type": "queue", "id": support } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    })
}

#[test]
fn the_numbers_list_re_routes_the_ticked_numbers() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let numbers = app.api("admin@globex.test").await.provisioned(2).await;
        let support = app
            .api("admin@globex.test")
            .await
            .target_id("queue", "Support")
            .await;
        let browser = app.browser("admin@globex.test").await;
        let (_, list) = browser.get("/numbers").await;
        assert!(list.contains("id=\"bulk-reroute\""), "{list}");

        let (status, page) = browser
            .get(
                &format!(
                    "/numbers/reroute?number={}&number={}",
                    numbers[0], numbers[1]
                )
                .replace('+', "%2B"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("2 numbers selected") && page.contains("Queue · Support"),
            "{page}"
        );

        // Whatever the query holds, the page answers (not a number: shown as not the tenant's).
        let (status, page) = browser
            .get("/numbers/reroute?number=%2B112%C3%A9345678")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Not one of your numbers"), "{page}");

        // No target chosen: said on the page, in the layout, the numbers kept.
        let response = browser
            .post_form(
                "/numbers/reroute",
                &[
                    ("number", numbers[0].as_str()),
                    ("number", numbers[1].as_str()),
                    ("target", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Choose the new routing target.")
                && page.contains("2 numbers selected")
                && page.contains("<nav"),
            "{page}"
        );

        let choice = format!("queue:{support}");
        let response = browser
            .post_form(
                "/numbers/reroute",
                &[
                    ("number", numbers[0].as_str()),
                    ("number", numbers[1].as_str()),
                    ("target", choice.as_str()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(page.contains("2 of 2 numbers re-routed."), "{page}");
        assert_eq!(page.matches("data-ok=\"true\"").count(), 2, "{page}");
        for number in &numbers {
            assert_eq!(
                routed_to(&app.pool, number).await.as_deref(),
                Some("Support")
            );
        }
    })
}

#[test]
fn in_chromium_a_number_is_re_routed_from_its_page_at_desktop_and_phone_widths() {
    use fantoccini::Locator;
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let numbers = app.api("agent@globex.test").await.provisioned(2).await;
        let chrome = crate::chrome::Chrome::start().await;
        let c = chrome.client.clone();
        chrome.login(&app.url(""), "agent@globex.test").await;
        for (width, number, target) in [
            (1280, &numbers[0], "Queue · Support"),
            (390, &numbers[1], "IVR / flow · Main Menu"),
        ] {
            c.set_window_size(width, 900).await.unwrap();
            c.goto(&app.url(&format!("/numbers/{number}")))
                .await
                .unwrap();
            chrome.wait("#reroute-form").await;
            chrome.screenshot(&format!("number-reroute-{width}")).await;
            let inside: bool = c
                .execute(
                    "const r = document.querySelector('#reroute').getBoundingClientRect();
                     return r.left >= 0 && r.right <= window.innerWidth;",
                    vec![],
                )
                .await
                .unwrap()
                .as_bool()
                .unwrap();
            assert!(inside, "at {width} px the Re-route button is on screen");
            c.find(Locator::Css("#reroute-target"))
                .await
                .unwrap()
                .select_by_label(target)
                .await
                .unwrap();
            c.find(Locator::Css("#reroute"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let notice = chrome.wait(".alert-success").await.text().await.unwrap();
            assert!(notice.contains("re-routed"), "{notice}");
            let url = c.current_url().await.unwrap();
            assert_eq!(
                (url.path(), url.query()),
                (format!("/numbers/{number}").as_str(), None),
                "the notice left the address once shown"
            );
            let now = c
                .find(Locator::Css("#reroute-target option[disabled]"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(now, format!("{target} (now)"));
        }
        assert_eq!(
            routed_to(&app.pool, &numbers[0]).await.as_deref(),
            Some("Support")
        );
        assert_eq!(
            routed_to(&app.pool, &numbers[1]).await.as_deref(),
            Some("Main Menu")
        );
        c.close().await.unwrap();
    })
}
