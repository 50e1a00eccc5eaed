//! E911 beyond one number's form: the address guide's suggestions, saved addresses shared by
//! many numbers, and the contacts alerted when 911 is dialed (Kari's Law).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, error_code, settle, spawn_fast_features};

fn address(street: &str) -> Value {
    json!({ "street": street, "location": "Floor 3", "city": "Austin", "state": "TX", "zip": "78701" })
}

async fn street_of(app: &TestApp, e164: &str) -> Option<String> {
    sqlx::query_scalar("SELECT street FROM e911_records WHERE e164 = $1")
        .bind(e164)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[test]
fn the_address_guide_suggests_its_form_and_the_user_chooses() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let path = format!("/api/v1/numbers/{number}/e911");

        let (status, err) = admin.put(&path, address("500 North Congress Avenue")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(error_code(&err), "address_suggestions");
        let candidates = err["error"]["details"]["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 1, "{err}");
        assert_eq!(candidates[0]["address"]["street"], "500 N Congress Ave");
        assert_eq!(
            candidates[0]["one_line"],
            "500 N Congress Ave, Floor 3, Austin TX 78701, US"
        );
        assert_eq!(
            err["error"]["details"]["typed"]["street"],
            "500 North Congress Avenue"
        );
        assert_eq!(street_of(&app, &number).await, None, "nothing saved yet");
        assert_eq!(app.audit_count(&number, "E911", "SUCCESS").await, 0);

        // The candidate is taken as it is; the typed form is kept when asked.
        let (status, body) = admin.put(&path, candidates[0]["address"].clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            street_of(&app, &number).await.as_deref(),
            Some("500 N Congress Ave")
        );
        let mut typed = address("500 North Congress Avenue");
        typed["as_typed"] = json!(true);
        let (status, body) = admin.put(&path, typed).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            street_of(&app, &number).await.as_deref(),
            Some("500 North Congress Avenue")
        );

        // A guide that does not answer does not stop the user.
        inward::providers::sandbox::Sandbox::inject_fault(&app.pool, "address_check", 1, "down")
            .await
            .unwrap();
        let (status, body) = admin.put(&path, address("12 Ocean Parkway")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            street_of(&app, &number).await.as_deref(),
            Some("12 Ocean Parkway")
        );

        // The page shows the choice under the form, each a form of its own.
        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                &format!("/numbers/{number}/e911"),
                &[
                    ("street", "7 Main Street"),
                    ("city", "Austin"),
                    ("state", "TX"),
                    ("zip", "78701"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"id="e911-suggestions""#), "{page}");
        assert!(page.contains("7 Main St, Austin TX 78701, US"), "{page}");
        assert!(page.contains(r#"id="keep-typed""#), "{page}");
        let response = browser
            .post_form(
                &format!("/numbers/{number}/e911"),
                &[
                    ("street", "7 Main St"),
                    ("city", "Austin"),
                    ("state", "TX"),
                    ("zip", "78701"),
                    ("country", "US"),
                    ("as_typed", "on"),
                ],
            )
            .await;
        assert!(response.status().is_redirection(), "{}", response.status());
        assert_eq!(street_of(&app, &number).await.as_deref(), Some("7 Main St"));
    })
}

#[test]
fn a_saved_address_serves_many_numbers_and_its_change_reaches_each() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(3).await;

        let mut hq = address("500 Congress Ave");
        hq["label"] = json!("Austin HQ");
        let (status, saved) = admin.post("/api/v1/e911/addresses", hq.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{saved}");
        let id = saved["id"].as_str().unwrap().to_string();
        let mut clash = hq.clone();
        clash["label"] = json!("austin hq");
        let (status, err) = admin.post("/api/v1/e911/addresses", clash).await;
        assert_eq!(status, StatusCode::CONFLICT, "{err}");
        assert_eq!(error_code(&err), "label_taken");
        let (status, err) = admin
            .post(
                "/api/v1/e911/addresses",
                json!({ "label": "Nowhere", "street": "1 Main St", "city": "Austin", "state": "CA", "zip": "78701" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&err), "invalid_address");
        let (status, err) = admin
            .post("/api/v1/e911/addresses", address("500 Congress Ave"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["details"]["field"], "label", "{err}");

        // Two numbers take it one by one, the third in a bulk update.
        for n in &numbers[..2] {
            let (status, body) = admin
                .put(
                    &format!("/api/v1/numbers/{n}/e911"),
                    json!({ "address_id": id }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["e911"]["address_id"], json!(id));
            assert_eq!(body["e911"]["street"], "500 Congress Ave");
        }
        let (status, body) = admin
            .post(
                "/api/v1/e911/bulk",
                json!({ "numbers": [numbers[2]], "address_id": id, "confirm": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["updated"], 1);
        let (status, both) = admin
            .put(
                &format!("/api/v1/numbers/{}/e911", numbers[0]),
                json!({ "address_id": id, "street": "1 Main St" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{both}");
        settle(&app, 5).await;

        // Changing it registers the three again.
        let mut moved = address("600 Congress Ave");
        moved["label"] = json!("Austin HQ");
        let (status, body) = admin
            .put(&format!("/api/v1/e911/addresses/{id}"), moved)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut again: Vec<String> = body["registered_again"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        again.sort();
        let mut expected = numbers.clone();
        expected.sort();
        assert_eq!(again, expected);
        for n in &numbers {
            let (_, shown) = admin.get(&format!("/api/v1/numbers/{n}")).await;
            assert_eq!(shown["e911"]["street"], "600 Congress Ave", "{shown}");
            assert_eq!(shown["e911"]["status"], "pending");
            let changes: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_log WHERE phone_number = $1 AND action = 'E911'
                   AND details->>'event' = 'changed' AND details->>'how' = 'saved_address'",
            )
            .bind(n)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            assert_eq!(changes, 1, "one audited change for {n}");
        }
        let (_, listed) = admin.get("/api/v1/e911/addresses").await;
        assert_eq!(
            listed["addresses"][0]["numbers"].as_array().unwrap().len(),
            3
        );
        // A new name alone registers nothing again.
        let mut renamed = address("600 Congress Ave");
        renamed["label"] = json!("Austin head office");
        let (status, body) = admin
            .put(&format!("/api/v1/e911/addresses/{id}"), renamed)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["registered_again"], json!([]));
        assert_eq!(body["address"]["label"], "Austin head office");

        // Another tenant neither sees it nor uses it.
        let other = app.api("admin@initech.test").await;
        let (status, _) = other.get(&format!("/api/v1/e911/addresses/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, theirs) = other.get("/api/v1/e911/addresses").await;
        assert_eq!(theirs["addresses"], json!([]));
        // Initech activates no number without a registered address: a held one is its own.
        let their_number = other.find("npa=512", 1).await.remove(0);
        let (status, held) = other.reserve(std::slice::from_ref(&their_number)).await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let (status, body) = other
            .put(
                &format!("/api/v1/numbers/{their_number}/e911"),
                json!({ "address_id": id }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(!body.to_string().contains("Congress"), "{body}");
        // Nor can a record of Initech's name it, even written past the application.
        let (status, _) = other
            .put(
                &format!("/api/v1/numbers/{their_number}/e911"),
                address("1 Main St"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let linked = sqlx::query("UPDATE e911_records SET address_id = $1::uuid WHERE e164 = $2")
            .bind(&id)
            .bind(&their_number)
            .execute(&app.pool)
            .await;
        assert!(linked.is_err(), "another tenant's address was linked");

        // In use, it stays; once its numbers have their own address, it goes.
        let (status, err) = admin.delete(&format!("/api/v1/e911/addresses/{id}")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{err}");
        assert_eq!(error_code(&err), "address_in_use");
        for n in &numbers {
            let (status, body) = admin
                .put(&format!("/api/v1/numbers/{n}/e911"), address("1 Main St"))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["e911"]["address_id"], json!(null));
        }
        let (status, _) = admin.delete(&format!("/api/v1/e911/addresses/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin.get(&format!("/api/v1/e911/addresses/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = admin.get("/api/v1/e911/addresses/not-an-id").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent.post("/api/v1/e911/addresses", hq).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    })
}

#[test]
fn alert_contacts_are_told_by_email_and_text_message() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let (site, other) = (&numbers[0], &numbers[1]);

        let (status, err) = admin
            .post(
                &format!("/api/v1/numbers/{site}/e911/test-alert"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&err), "no_alert_contacts");

        let (status, err) = admin
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "", "email": "nope" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&err), "invalid_contact");
        let fields: Vec<&str> = err["error"]["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["name", "email"]);
        let (status, desk) = admin
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "Front desk", "email": "desk@globex.test" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{desk}");
        let (status, guard) = admin
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "Site security", "phone": "(512) 555-0199", "number": site }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{guard}");
        assert_eq!(guard["phone"], "+15125550199");

        let names = |body: &Value| -> Vec<String> {
            body["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, for_site) = admin
            .get(&format!("/api/v1/e911/contacts?number={site}"))
            .await;
        assert_eq!(names(&for_site), ["Front desk", "Site security"]);
        let (_, for_other) = admin
            .get(&format!("/api/v1/e911/contacts?number={other}"))
            .await;
        assert_eq!(names(&for_other), ["Front desk"]);

        let (status, sent) = admin
            .post(
                &format!("/api/v1/numbers/{site}/e911/test-alert"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        let deliveries = sent["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 2, "{sent}");
        assert!(deliveries.iter().all(|d| d["sent"] == true), "{sent}");
        let (subject, body): (String, String) = sqlx::query_as(
            "SELECT subject, body FROM outbox_emails WHERE to_address = 'desk@globex.test'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(subject, format!("TEST 911 alert from {site}"));
        assert!(body.contains("no one dialed 911"), "{body}");
        let texted: String = sqlx::query_scalar(
            "SELECT body FROM sandbox_messages WHERE e164 = '+15125550199' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(texted, body);
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE phone_number = $1 AND action = 'E911'
               AND details->>'event' = 'test_alert'",
        )
        .bind(site)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(audited, 1);
        let (status, err) = admin
            .post(
                &format!("/api/v1/numbers/{site}/e911/test-alert"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "one test a minute: {err}");
        assert_eq!(error_code(&err), "alert_too_soon");

        // Other tenants see none of them; agents change none.
        let initech = app.api("admin@initech.test").await;
        let (_, theirs) = initech.get("/api/v1/e911/contacts").await;
        assert_eq!(theirs["contacts"], json!([]));
        let desk_id = desk["id"].as_str().unwrap();
        let (status, _) = initech
            .delete(&format!("/api/v1/e911/contacts/{desk_id}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "X", "email": "x@globex.test" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The number's own contact leaves with the number.
        let (status, body) = admin
            .post(&format!("/api/v1/numbers/{site}/release"), json!({}))
            .await;
        assert!(status.is_success(), "{body}");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM e911_contacts WHERE e164 = $1")
            .bind(site)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
        let (status, _) = admin
            .delete(&format!("/api/v1/e911/contacts/{desk_id}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin
            .delete(&format!("/api/v1/e911/contacts/{desk_id}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
}

#[test]
fn the_pages_save_addresses_add_contacts_and_send_a_test_alert() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get("/e911").await;
        assert!(page.contains("No saved address yet"), "{page}");

        let form = |label: &'static str, street: &'static str| {
            vec![
                ("label", label),
                ("street", street),
                ("city", "Austin"),
                ("state", "TX"),
                ("zip", "78701"),
            ]
        };
        let response = browser
            .post_form("/e911/addresses", &form("", "500 Congress Ave"))
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"id="label-error""#), "{page}");
        assert!(
            page.contains(r#"value="500 Congress Ave""#),
            "what was typed stays: {page}"
        );
        let response = browser
            .post_form("/e911/addresses", &form("Austin HQ", "500 Congress Avenue"))
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("500 Congress Ave, Austin TX 78701, US"),
            "{page}"
        );
        let mut chosen = form("Austin HQ", "500 Congress Ave");
        chosen.push(("as_typed", "on"));
        let response = browser.post_form("/e911/addresses", &chosen).await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let (_, page) = browser.get("/e911").await;
        assert!(
            page.contains("Austin HQ") && page.contains(r#"id="saved-addresses""#),
            "{page}"
        );

        let id: String = sqlx::query_scalar("SELECT id::text FROM e911_addresses")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let response = browser
            .post_form(
                &format!("/numbers/{number}/e911"),
                &[("address_id", id.as_str())],
            )
            .await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let (_, page) = browser.get(&format!("/numbers/{number}")).await;
        assert!(page.contains(r#"id="e911-saved""#), "{page}");
        let (_, page) = browser.get(&format!("/e911/addresses/{id}")).await;
        assert!(page.contains(r#"id="address-numbers""#), "{page}");

        let response = browser
            .post_form(
                "/e911/contacts",
                &[
                    ("name", "Security"),
                    ("phone", "12"),
                    ("number", number.as_str()),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"id="phone-error""#), "{page}");
        let response = browser
            .post_form(
                "/e911/contacts",
                &[
                    ("name", "Security"),
                    ("email", "security@globex.test"),
                    ("number", number.as_str()),
                ],
            )
            .await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let response = browser
            .post_form(&format!("/numbers/{number}/e911/test-alert"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"id="alert-sent""#) && page.contains("security@globex.test: sent"),
            "{page}"
        );
    })
}

#[test]
fn a_number_given_a_saved_address_mid_change_gets_its_new_form() {
    crate::db::db_test(|pool| async move {
        let app = spawn_fast_features(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let mut hq = address("500 Congress Ave");
        hq["label"] = json!("HQ");
        let (_, saved) = admin.post("/api/v1/e911/addresses", hq).await;
        let id = saved["id"].as_str().unwrap().to_string();
        // A change of the saved address, not committed yet, as another admin's would be
        // while its numbers are registered again.
        let mut change = app.pool.begin().await.unwrap();
        sqlx::query("UPDATE e911_addresses SET street = '900 Congress Ave' WHERE id = $1::uuid")
            .bind(&id)
            .execute(&mut *change)
            .await
            .unwrap();
        let path = format!("/api/v1/numbers/{number}/e911");
        let give = admin.put(&path, json!({ "address_id": id }));
        let commit = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            change.commit().await.unwrap();
        };
        let ((status, body), ()) = tokio::join!(give, commit);
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            street_of(&app, &number).await.as_deref(),
            Some("900 Congress Ave"),
            "the number waited for the change and took the address as changed"
        );
    })
}
