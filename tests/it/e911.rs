//! E911: validation, registration status, apply to all, bulk update, moving a number, and the
//! tenant policy that keeps numbers without a registered address from being activated.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{error_code, settle, spawn_fast_features};

fn austin() -> Value {
    json!({ "street": "500 Congress Ave", "location": "Floor 3", "city": "Austin", "state": "TX", "zip": "78701" })
}

#[test]
fn bad_addresses_are_refused_with_every_broken_rule_named() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let path = format!("/api/v1/numbers/{number}/e911");
        let cases = [
            (
                json!({ "street": "1 Main St", "city": "Austin", "state": "XX", "zip": "78701" }),
                "state",
                "not a US state",
            ),
            (
                json!({ "street": "1 Main St", "city": "Austin", "state": "CA", "zip": "78701" }),
                "zip",
                "ZIP 78701 is in TX, not CA",
            ),
            (
                json!({ "street": "", "city": "Austin", "state": "TX", "zip": "78701" }),
                "street",
                "street address is required",
            ),
            (
                json!({ "street": "1 Main St", "city": "Toronto", "state": "TX", "zip": "78701", "country": "CA" }),
                "country",
                "US addresses only",
            ),
            (
                json!({ "street": "1 Main St", "city": "Austin", "state": "TX", "zip": "787" }),
                "zip",
                "not a ZIP code",
            ),
            (
                json!({ "street": "PO Box 7", "city": "Austin", "state": "TX", "zip": "78701" }),
                "street",
                "PO box",
            ),
        ];
        for (body, field, message) in cases {
            let (status, err) = admin.put(&path, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error_code(&err), "invalid_address");
            let errors = err["error"]["details"]["errors"].as_array().unwrap();
            assert!(
                errors.iter().any(
                    |e| e["field"] == field && e["message"].as_str().unwrap().contains(message)
                ),
                "{body} -> {err}"
            );
        }
        let (_, all_missing) = admin.put(&path, json!({})).await;
        let fields: Vec<&str> = all_missing["error"]["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["street", "city", "state", "zip"]);
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["e911"]["status"], "not_set", "nothing was saved");
        assert_eq!(app.audit_count(&number, "E911", "SUCCESS").await, 0);

        // On the number's page each broken rule shows beside its field, and what was typed stays.
        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                &format!("/numbers/{number}/e911"),
                &[
                    ("street", "1 Main St"),
                    ("city", "Austin"),
                    ("state", "XX"),
                    ("zip", "7870"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"aria-describedby="state-error""#)
                && page.contains(
                    r#"<small class="field-error" id="state-error">“XX” is not a US state"#
                ),
            "{page}"
        );
        assert!(
            page.contains(r#"<small class="field-error" id="zip-error">“7870” is not a ZIP code"#),
            "{page}"
        );
        assert!(
            !page.contains(r#"id="street-error""#),
            "a good field has no error"
        );
        assert!(
            page.contains(r#"value="1 Main St""#),
            "what was typed stays"
        );
    })
}

#[test]
fn an_address_goes_not_set_pending_registered_and_a_failure_can_be_corrected() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let path = format!("/api/v1/numbers/{number}/e911");

        // The sandbox's MSAG only knows numbered street addresses.
        let (status, body) = admin
        .put(&path, json!({ "street": "Congress Ave", "city": "Austin", "state": "tx", "zip": "78701-1234" }))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["e911"]["status"], "pending");
        assert_eq!(body["e911"]["state"], "TX");
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["e911"]["status"], "failed");
        assert!(
            shown["e911"]["reason"]
                .as_str()
                .unwrap()
                .contains("not found in the MSAG")
        );
        assert_eq!(app.audit_count(&number, "E911", "FAILURE").await, 1);
        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get(&format!("/numbers/{number}")).await;
        assert!(
            page.contains("id=\"e911-reason\"") && page.contains("correct the address below"),
            "{page}"
        );

        let (_, body) = admin.put(&path, austin()).await;
        assert_eq!(body["e911"]["status"], "pending");
        assert_eq!(body["e911"]["reason"], json!(null));
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["e911"]["status"], "registered");
        assert_eq!(shown["e911"]["location"], "Floor 3");
        let (_, page) = browser.get(&format!("/numbers/{number}")).await;
        assert!(
            page.contains("data-status=\"registered\"")
                && page.contains("500 Congress Ave, Floor 3, Austin TX 78701")
        );

        // Moving the number re-registers it at the new address.
        let (_, body) = admin
        .put(
            &path,
            json!({ "street": "350 5th Ave", "city": "New York", "state": "NY", "zip": "10118" }),
        )
        .await;
        assert_eq!(body["e911"]["status"], "pending");
        settle(&app, 5).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{number}")).await;
        assert_eq!(shown["e911"]["status"], "registered");
        assert_eq!(shown["e911"]["city"], "New York");
        assert_eq!(shown["e911"]["location"], json!(null));
        let registered: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_e911_requests WHERE e164 = $1")
                .bind(&number)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(registered, 3);
    })
}

#[test]
fn apply_to_all_sets_every_number_of_the_tenant_and_no_other() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;
        let other = app.api("agent@initech.test").await;
        let theirs = other.find("npa=512", 1).await;
        other.reserve(&theirs).await;

        let mut body = austin();
        body["apply_to_all"] = json!(true);
        let (status, reply) = admin
            .put(&format!("/api/v1/numbers/{}/e911", numbers[0]), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["updated"], 3);
        settle(&app, 5).await;
        for n in &numbers {
            let (_, shown) = admin.get(&format!("/api/v1/numbers/{n}")).await;
            assert_eq!(shown["e911"]["status"], "registered", "{n}");
            assert_eq!(app.audit_count(n, "E911", "SUCCESS").await, 2);
        }
        let theirs_set: i64 =
            sqlx::query_scalar("SELECT count(*) FROM e911_records WHERE e164 = $1")
                .bind(&theirs[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(theirs_set, 0, "another tenant's number is untouched");
    })
}

#[test]
fn bulk_update_shows_a_summary_first_then_applies_on_confirmation() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;
        admin
            .put(&format!("/api/v1/numbers/{}/e911", numbers[0]), austin())
            .await;
        settle(&app, 5).await;

        let new_office = json!({ "street": "1 Infinite Loop", "city": "Cupertino", "state": "CA", "zip": "95014" });
        let request = json!({ "numbers": numbers, "address": new_office });
        let (status, summary) = admin.post("/api/v1/e911/bulk", request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["confirmed"], false);
        assert_eq!(summary["count"], 3);
        assert_eq!(summary["new"], 2);
        assert_eq!(summary["moving"], 1);
        assert_eq!(
            summary["address"],
            "1 Infinite Loop, Cupertino CA 95014, US"
        );
        let moving = summary["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["e164"] == numbers[0].as_str())
            .unwrap();
        assert_eq!(moving["current_status"], "registered");
        assert!(
            moving["current_address"]
                .as_str()
                .unwrap()
                .starts_with("500 Congress Ave")
        );
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{}", numbers[1])).await;
        assert_eq!(
            shown["e911"]["status"], "not_set",
            "the summary changes nothing"
        );

        let mut confirmed = request.clone();
        confirmed["confirm"] = json!(true);
        let (status, done) = admin.post("/api/v1/e911/bulk", confirmed).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["confirmed"], true);
        assert_eq!(done["updated"], 3);
        settle(&app, 5).await;
        for n in &numbers {
            let (_, shown) = admin.get(&format!("/api/v1/numbers/{n}")).await;
            assert_eq!(shown["e911"]["status"], "registered");
            assert_eq!(shown["e911"]["city"], "Cupertino");
        }

        // A bad address or a number that is not the tenant's refuses the whole update.
        let (status, body) = admin
        .post("/api/v1/e911/bulk", json!({ "numbers": numbers, "address": { "street": "1 Main St", "city": "X", "state": "NY", "zip": "78701" }, "confirm": true }))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = admin
        .post("/api/v1/e911/bulk", json!({ "numbers": [numbers[0], "+15125550000"], "address": new_office, "confirm": true }))
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = admin
            .post(
                "/api/v1/e911/bulk",
                json!({ "numbers": [], "address": new_office }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    })
}

#[test]
fn bulk_update_through_the_pages_confirms_before_it_changes_anything() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser
            .get(&format!(
                "/e911/bulk?number={}&number={}",
                numbers[0].replace('+', "%2B"),
                numbers[1].replace('+', "%2B")
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("2 numbers selected"), "{page}");
        let fields = [
            ("number", numbers[0].as_str()),
            ("number", numbers[1].as_str()),
            ("street", "500 Congress Ave"),
            ("city", "Austin"),
            ("state", "TX"),
            ("zip", "78701"),
        ];
        let mut bad = fields.to_vec();
        bad[5] = ("zip", "7870");
        let response = browser.post_form("/e911/bulk", &bad).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"name="zip" aria-invalid="true" aria-describedby="zip-error""#)
                && page.contains(
                    r#"<small class="field-error" id="zip-error">“7870” is not a ZIP code"#
                ),
            "{page}"
        );
        assert!(page.contains(r#"value="Austin""#), "{page}");

        let response = browser.post_form("/e911/bulk", &fields).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"bulk-summary\"") && page.contains("will be registered at"),
            "{page}"
        );
        assert!(page.contains("Update 2 numbers"));
        let untouched: i64 = sqlx::query_scalar("SELECT count(*) FROM e911_records")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(untouched, 0);

        let mut confirm = fields.to_vec();
        confirm.push(("confirm", "yes"));
        let response = browser.post_form("/e911/bulk", &confirm).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], "/numbers?notice=e911_bulk");
        let (_, page) = browser.get("/numbers?notice=e911_bulk").await;
        assert!(
            page.contains("selected numbers") && page.matches("data-e911=\"pending\"").count() == 2,
            "{page}"
        );

        // An address the rules refuse keeps the form with the reason.
        let response = browser
            .post_form(
                "/e911/bulk",
                &[
                    ("number", numbers[0].as_str()),
                    ("street", "1 Main"),
                    ("city", "Austin"),
                    ("state", "NY"),
                    ("zip", "78701"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains("is in TX, not NY"));
    })
}

#[test]
fn the_activation_policy_blocks_provisioning_until_the_address_is_registered() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        // Initech keeps the default for new tenants: no activation without a registered E911 address.
        let agent = app.api("agent@initech.test").await;
        let admin = app.api("admin@initech.test").await;
        let (_, settings) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(settings["require_e911"], true);
        let numbers = agent.find("npa=512", 1).await;
        let (_, reservation) = agent.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap();
        let provision = json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] });
        let path = format!("/api/v1/reservations/{id}/provision");

        let (status, body) = agent.post(&path, provision.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "e911_required");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not to activate numbers without a registered E911 address")
                && message.contains(&numbers[0]),
            "{message}"
        );
        assert_eq!(body["error"]["details"][0]["e911_status"], "not_set");
        assert_eq!(app.number_state(&numbers[0]).await, "reserved");
        assert_eq!(
            app.audit_count(&numbers[0], "PROVISION", "FAILURE").await,
            1
        );

        // The admin registers the address while the number is held; pending is not enough.
        let (status, _) = admin
            .put(&format!("/api/v1/numbers/{}/e911", numbers[0]), austin())
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = agent.post(&path, provision.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["details"][0]["e911_status"], "pending");
        settle(&app, 5).await;
        let (status, body) = agent.post(&path, provision).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.number_state(&numbers[0]).await, "active");

        // The page names the rule too.
        let second = agent.find("npa=512", 1).await;
        let (_, reservation) = agent.reserve(&second).await;
        let id = reservation["id"].as_str().unwrap();
        let browser = app.browser("agent@initech.test").await;
        let response = browser
            .post_form(
                &format!("/reservations/{id}/provision"),
                &[
                    ("number", second[0].as_str()),
                    (
                        "target",
                        &format!("queue:{}", agent.target_id("queue", "Sales").await),
                    ),
                ],
            )
            .await;
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"provision-error\"") && page.contains("registered E911 address"),
            "{page}"
        );
        let (_, page) = browser.get(&format!("/reservations/{id}")).await;
        assert!(
            page.contains("id=\"e911-policy\"") && page.contains("data-e911=\"not_set\""),
            "the held number's E911 status is shown: {page}"
        );
    })
}

#[test]
fn turning_the_policy_on_and_off_is_a_tenant_setting_and_is_audited() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (_, before) = admin.get("/api/v1/tenant/settings").await;
        assert_eq!(
            before["require_e911"], false,
            "the demo's Globex starts with the policy off"
        );
        let (status, after) = admin
            .put("/api/v1/tenant/settings", json!({ "require_e911": true }))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(after["require_e911"], true);
        let numbers = admin.find("npa=512", 1).await;
        let (_, reservation) = admin.reserve(&numbers).await;
        let (status, _) = admin
        .post(
            &format!("/api/v1/reservations/{}/provision", reservation["id"].as_str().unwrap()),
            json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] }),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let settings_audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'SETTINGS' AND details->'after'->>'require_e911' = 'true'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(settings_audit, 1);

        // A tenant created with the CLI gets the policy on.
        inward::admin::add_org(
            &app.pool,
            inward::domain::policy::OrgKind::Tenant,
            "acme",
            "fresh",
            "Fresh Co",
        )
        .await
        .unwrap();
        let fresh: uuid::Uuid = app.tenant_id("fresh").await;
        let settings = inward::tenants::settings::load(
            &mut app.pool.acquire().await.unwrap(),
            inward::domain::TenantId(fresh),
        )
        .await
        .unwrap();
        assert!(settings.require_e911);
    })
}

#[test]
fn releasing_a_number_drops_its_e911_and_cnam() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        admin
            .put(&format!("/api/v1/numbers/{number}/e911"), austin())
            .await;
        admin
            .put(
                &format!("/api/v1/numbers/{number}/cnam"),
                json!({ "name": "Globex" }),
            )
            .await;
        settle(&app, 5).await;
        let (status, _) = admin
            .post(&format!("/api/v1/numbers/{number}/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM e911_records WHERE e164 = $1) + (SELECT count(*) FROM cnam_records WHERE e164 = $1)",
    )
    .bind(&number)
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(left, 0);
    })
}
