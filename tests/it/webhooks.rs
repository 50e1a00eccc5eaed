//! Webhooks against a real HTTP receiver: signed envelopes in order per number, every kind of
//! change announced, retries with back-off, an endpoint disabled after its run of failures,
//! and what the API refuses (the outbox across a crash: `webhooks_crash`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code, spawn_app_with};
use crate::receiver::{Got, Receiver, verified};

fn fast(c: &mut inward::config::AppConfig) {
    c.webhooks.poll_interval_ms = 50;
    c.webhooks.retry_base_ms = 100;
    c.webhooks.retry_cap_ms = 400;
    c.webhooks.timeout_seconds = 2;
    c.webhooks.lease_seconds = 5;
}

pub async fn register(admin: &Api, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = admin
        .post("/api/v1/webhooks", json!({ "url": url, "events": events }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    (body["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(admin: &Api, id: &str) -> Vec<Value> {
    let (status, body) = admin
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

#[test]
fn a_tenant_and_its_reseller_hear_of_holds_signed_and_in_order() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, fast).await;
        let receiver = Receiver::start(0).await;
        let admin = app.api("admin@globex.test").await;
        let (id, secret) = register(
            &admin,
            &receiver.url,
            &["number.reserved", "number.released"],
        )
        .await;
        let reseller_receiver = Receiver::start(0).await;
        let reseller = app.api("reseller@acme.test").await;
        let (_, reseller_secret) =
            register(&reseller, &reseller_receiver.url, &["number.reserved"]).await;
        // Another tenant's endpoint hears nothing of Globex.
        let other_receiver = Receiver::start(0).await;
        let other = app.api("admin@initech.test").await;
        register(&other, &other_receiver.url, &["number.reserved"]).await;

        let (status, shown) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown.get("secret").is_none(), "the secret is shown once");
        let (status, body) = other.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512", 2).await;
        let (status, reservation) = agent.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let reservation_id = reservation["id"].as_str().unwrap();
        let (status, body) = agent
            .delete(&format!("/api/v1/reservations/{reservation_id}"))
            .await;
        assert!(status.is_success(), "{body}");

        let got = receiver.wait_for(4, Duration::from_secs(20)).await;
        let globex = app.tenant_id("globex").await.to_string();
        let mut seen = Vec::new();
        for g in &got {
            let envelope = verified(&secret, g);
            assert_eq!(envelope["version"], 1);
            assert_eq!(envelope["tenant"], globex.as_str());
            assert_eq!(envelope["organization"], globex.as_str());
            assert_eq!(
                g.headers["inward-event-id"].to_str().unwrap(),
                envelope["id"]
            );
            assert_eq!(
                g.headers["inward-event-type"].to_str().unwrap(),
                envelope["type"]
            );
            if envelope["type"] == "number.reserved" {
                assert_eq!(envelope["data"]["reservation_id"], reservation_id);
                assert_eq!(envelope["data"]["outcome"], "success");
            }
            seen.push((
                envelope["data"]["number"].as_str().unwrap().to_string(),
                envelope["type"].as_str().unwrap().to_string(),
            ));
        }
        for number in &numbers {
            let order: Vec<&str> = seen
                .iter()
                .filter(|(n, _)| n == number)
                .map(|(_, t)| t.as_str())
                .collect();
            assert_eq!(order, ["number.reserved", "number.released"], "{number}");
        }

        let reseller_got = reseller_receiver.wait_for(2, Duration::from_secs(20)).await;
        let reserved_ids: Vec<Value> = got
            .iter()
            .map(Got::json)
            .filter(|e| e["type"] == "number.reserved")
            .map(|e| e["id"].clone())
            .collect();
        for g in &reseller_got {
            let envelope = verified(&reseller_secret, g);
            assert!(
                reserved_ids.contains(&envelope["id"]),
                "the same event, the same id"
            );
        }

        // The receiver has the POST before the dispatcher records its answer: wait for that.
        let mut listed = deliveries(&admin, &id).await;
        for _ in 0..100 {
            if listed.iter().all(|d| d["status"] == "delivered") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            listed = deliveries(&admin, &id).await;
        }
        assert_eq!(listed.len(), 4);
        for d in &listed {
            assert_eq!(d["status"], "delivered", "{d}");
            assert_eq!(d["last_status_code"], 200);
            assert_eq!(d["attempts"], 1);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(other_receiver.got().is_empty(), "Initech heard of Globex");
        assert_eq!(receiver.got().len(), 4, "each event once");
    })
}

#[test]
fn a_receiver_that_fails_five_times_gets_the_event_on_the_sixth_attempt() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, fast).await;
        let receiver = Receiver::start(5).await;
        let admin = app.api("admin@globex.test").await;
        let (id, secret) = register(&admin, &receiver.url, &["number.reserved"]).await;
        let (status, body) = admin
            .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");

        let got = receiver.wait_for(6, Duration::from_secs(30)).await;
        let first = verified(&secret, &got[0]);
        assert_eq!(first["type"], "webhook.test");
        for (i, g) in got.iter().enumerate() {
            assert_eq!(verified(&secret, g)["id"], first["id"], "one event id");
            assert_eq!(g.body, got[0].body, "the same bytes each time");
            assert_eq!(
                g.headers["inward-delivery-attempt"].to_str().unwrap(),
                (i + 1).to_string()
            );
        }
        let delivery = wait_until_delivered(&admin, &id).await;
        assert_eq!(delivery["attempts"], 6, "{delivery}");
        assert_eq!(delivery["last_status_code"], 200);
        let (_, endpoint) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(endpoint["failure_run"], 0, "a success ends the run");

        // Resending keeps the event id.
        let delivery_id = delivery["id"].as_i64().unwrap();
        let (status, body) = admin
            .post(
                &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/resend"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let got = receiver.wait_for(7, Duration::from_secs(10)).await;
        assert_eq!(verified(&secret, &got[6])["id"], first["id"]);
        assert_eq!(audit_webhook_events(&app, "resent").await, 1);
        assert_eq!(audit_webhook_events(&app, "test").await, 1);

        // Kept for the retention period, then gone with its deliveries.
        wait_until_all_delivered(&app).await;
        sqlx::query("UPDATE webhook_events SET occurred_at = now() - interval '31 days'")
            .execute(&app.pool)
            .await
            .unwrap();
        let report = inward::jobs::run_once(&app.state).await;
        assert!(report.failed.is_empty(), "{report:?}");
        assert!(deliveries(&admin, &id).await.is_empty());
    })
}

async fn wait_until_all_delivered(app: &TestApp) {
    for _ in 0..100 {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries stayed pending");
}

async fn wait_until_delivered(admin: &Api, id: &str) -> Value {
    for _ in 0..100 {
        let listed = deliveries(admin, id).await;
        if let Some(d) = listed.iter().find(|d| d["status"] == "delivered") {
            return d.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery was recorded as delivered");
}

#[test]
fn an_endpoint_that_keeps_failing_is_disabled_and_its_admins_told() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            fast(c);
            c.webhooks.disable_after_failures = 3;
        })
        .await;
        // Fails three times, then would answer: but it is disabled after the third.
        let receiver = Receiver::start(3).await;
        let admin = app.api("admin@globex.test").await;
        let (id, _) = register(&admin, &receiver.url, &["number.reserved"]).await;
        admin
            .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
            .await;
        receiver.wait_for(3, Duration::from_secs(20)).await;
        let endpoint = wait_for_disabled(&admin, &id).await;
        assert_eq!(endpoint["failure_run"], 3);
        assert!(
            endpoint["disabled_reason"]
                .as_str()
                .unwrap()
                .contains("3 attempts"),
            "{endpoint}"
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            receiver.got().len(),
            3,
            "nothing goes to a disabled endpoint"
        );
        let (_, notes) = admin.get("/api/v1/notifications").await;
        assert!(
            notes.to_string().contains("was disabled"),
            "the admin is told: {notes}"
        );
        assert_eq!(
            audit_webhook_events(&app, "disabled").await,
            1,
            "the disabling is audited"
        );
        // What is still waiting cannot be doubled.
        let waiting = deliveries(&admin, &id).await[0]["id"].as_i64().unwrap();
        let (status, body) = admin
            .post(
                &format!("/api/v1/webhooks/{id}/deliveries/{waiting}/resend"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "delivery_pending");

        // Switched on again, what was waiting goes.
        let (status, body) = admin
            .patch(
                &format!("/api/v1/webhooks/{id}"),
                json!({ "enabled": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["enabled"].as_bool(), body["failure_run"].as_i64()),
            (Some(true), Some(0))
        );
        receiver.wait_for(4, Duration::from_secs(10)).await;
        wait_until_delivered(&admin, &id).await;
    })
}

async fn wait_for_disabled(admin: &Api, id: &str) -> Value {
    for _ in 0..100 {
        let (_, endpoint) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        if endpoint["enabled"] == false {
            return endpoint;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the endpoint stayed enabled");
}

async fn audit_webhook_events(app: &TestApp, event: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'WEBHOOK' AND details ->> 'event' = $1",
    )
    .bind(event)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[test]
fn bad_endpoints_and_callers_are_refused_with_the_field_named() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, fast).await;
        let admin = app.api("admin@globex.test").await;
        for (body, field) in [
            (
                json!({ "url": "http://hooks.example.com/x", "events": ["number.reserved"] }),
                "url",
            ),
            (
                json!({ "url": "https://169.254.169.254/latest", "events": ["number.reserved"] }),
                "url",
            ),
            (
                json!({ "url": "https://localhost/x", "events": ["number.reserved"] }),
                "url",
            ),
            (
                json!({ "url": "https://10.1.2.3/x", "events": ["number.reserved"] }),
                "url",
            ),
            (json!({ "url": "", "events": ["number.reserved"] }), "url"),
            (
                json!({ "url": "https://hooks.example.com/x", "events": [] }),
                "events",
            ),
            (
                json!({ "url": "https://hooks.example.com/x", "events": ["number.bought"] }),
                "events",
            ),
            (
                json!({ "url": "https://hooks.example.com/x", "events": ["webhook.test"] }),
                "events",
            ),
            (
                json!({ "url": "https://hooks.example.com/x", "events": ["number.reserved"], "description": "x".repeat(201) }),
                "description",
            ),
        ] {
            let (status, answer) = admin.post("/api/v1/webhooks", body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            assert_eq!(
                answer["error"]["details"]["field"], field,
                "{body}: {answer}"
            );
        }
        let (status, answer) = admin
            .post(
                "/api/v1/webhooks",
                json!({ "url": "https://hooks.example.com/x" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(error_code(&answer), "invalid_json");

        let (id, _) = register(
            &admin,
            "https://hooks.example.com/inward",
            &["number.reserved"],
        )
        .await;
        let (status, answer) = admin
            .patch(
                &format!("/api/v1/webhooks/{id}"),
                json!({ "events": ["nope"] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        for query in ["status=lost", "before=yesterday", "limit=0", "limit=201"] {
            let (status, answer) = admin
                .get(&format!("/api/v1/webhooks/{id}/deliveries?{query}"))
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{query}: {answer}"
            );
        }
        for path in [
            "/api/v1/webhooks/not-an-id".to_string(),
            format!("/api/v1/webhooks/{}", uuid::Uuid::new_v4()),
            format!("/api/v1/webhooks/{id}/deliveries/12345"),
            format!("/api/v1/webhooks/{id}/deliveries/x"),
        ] {
            let (status, answer) = admin.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        }
        let agent = app.api("agent@globex.test").await;
        let (status, answer) = agent.get("/api/v1/webhooks").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        let operator = app.api("operator@inward.test").await;
        let (status, _) = operator.get("/api/v1/webhooks").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, _) = admin.delete(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(audit_webhook_events(&app, "created").await, 1);
        assert_eq!(audit_webhook_events(&app, "deleted").await, 1);
    })
}

#[test]
fn the_database_and_the_code_agree_on_which_audit_entries_announce_events() {
    crate::db::db_test(|pool| async move {
        use inward::audit::{Action, Outcome};
        use inward::domain::webhook::EventType;
        for action in Action::ALL {
            for outcome in Outcome::ALL {
                let in_sql: Option<String> =
                    sqlx::query_scalar("SELECT webhook_event_type($1, $2)")
                        .bind(action.as_str())
                        .bind(outcome.as_str())
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                let in_rust = EventType::for_audit(action.as_str(), outcome.as_str())
                    .map(|t| t.as_str().to_string());
                assert_eq!(in_sql, in_rust, "{} {}", action.as_str(), outcome.as_str());
            }
        }
    })
}

/// The distinct event types received so far, each envelope's signature checked.
fn types_received(receiver: &Receiver, secret: &str) -> std::collections::BTreeSet<String> {
    receiver
        .got()
        .iter()
        .map(|g| verified(secret, g)["type"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_for_types(receiver: &Receiver, secret: &str, wanted: &[&str]) -> Vec<Value> {
    for _ in 0..300 {
        let seen = types_received(receiver, secret);
        if wanted.iter().all(|t| seen.contains(*t)) {
            return receiver.got().iter().map(Got::json).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "wanted {wanted:?}, got {:?}",
        types_received(receiver, secret)
    );
}

#[test]
fn every_kind_of_change_is_announced() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            fast(c);
            c.sandbox.cnam_delay_seconds = 0;
            c.sandbox.e911_delay_seconds = 0;
            c.sandbox.port_ack_seconds = 0;
            c.sandbox.port_foc_seconds = 0;
            c.sandbox.port_complete_seconds = 0;
        })
        .await;
        let receiver = Receiver::start(0).await;
        let admin = app.api("admin@globex.test").await;
        let every: Vec<&str> = inward::domain::webhook::EventType::SUBSCRIBABLE
            .iter()
            .map(|t| t.as_str())
            .collect();
        let (_, secret) = register(&admin, &receiver.url, &every).await;
        let reseller_receiver = Receiver::start(0).await;
        let reseller = app.api("reseller@acme.test").await;
        let (_, reseller_secret) =
            register(&reseller, &reseller_receiver.url, &["upload.completed"]).await;
        let agent = app.api("agent@globex.test").await;

        // A premium hold asks for approval; the admin approves.
        let (_, body) = agent
            .get("/api/v1/numbers/available?kind=toll_free&pattern=8XX-OUR-FOOD")
            .await;
        let premium = body["numbers"][0]["e164"].as_str().unwrap().to_string();
        let (status, held) = agent
            .post(
                "/api/v1/reservations",
                json!({ "numbers": [premium], "justification": "campaign" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let (_, pending) = admin.get("/api/v1/approvals?status=pending").await;
        let approval = pending["approvals"][0]["id"].as_str().unwrap().to_string();
        let (status, body) = admin
            .post(
                &format!("/api/v1/approvals/{approval}/approve"),
                json!({ "reason": "ok" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // A port request, submitted and moving (the sandbox's clock runs at once).
        crate::porting::submitted_port(&admin, &["+13126200101"], "1234").await;
        for _ in 0..4 {
            inward::jobs::run_once(&app.state).await;
        }

        // With E911 required, routing the approved number without an address fails.
        let (_, mut settings) = admin.get("/api/v1/tenant/settings").await;
        settings["require_e911"] = json!(true);
        let (status, body) = admin.put("/api/v1/tenant/settings", settings.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let held_id = held["id"].as_str().unwrap();
        let (status, body) = agent
            .post(
                &format!("/api/v1/reservations/{held_id}/provision"),
                json!({ "assignments": [{ "number": premium, "target": { "type": "queue", "name": "Sales" } }] }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        settings["require_e911"] = json!(false);
        let (status, body) = admin.put("/api/v1/tenant/settings", settings).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Routed, named, located, re-routed, found unrouted by reconciliation, released.
        let numbers = admin.provisioned(2).await;
        let (routed, orphan) = (&numbers[0], &numbers[1]);
        for (path, body) in [
            ("cnam", json!({ "name": "GLOBEX" })),
            (
                "e911",
                json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            ),
        ] {
            let (status, answer) = admin
                .put(&format!("/api/v1/numbers/{routed}/{path}"), body)
                .await;
            assert!(status.is_success(), "{answer}");
        }
        crate::common::settle(&app, 5).await;
        let support = admin.target_id("queue", "Support").await;
        let (status, body) = admin
            .post(
                &format!("/api/v1/numbers/{routed}/reroute"),
                json!({ "target": { "type": "queue", "id": support } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sqlx::query("DELETE FROM sandbox_assignments WHERE e164 = $1")
            .bind(routed)
            .execute(&app.pool)
            .await
            .unwrap();
        let (status, body) = admin.post("/api/v1/drift/run", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin
            .post(&format!("/api/v1/numbers/{routed}/release"), json!({}))
            .await;
        assert!(status.is_success(), "{body}");

        // A target deleted on the platform orphans its number.
        sqlx::query(
            "UPDATE sandbox_targets SET deleted_at = now()
              WHERE id = (SELECT target_id FROM sandbox_assignments WHERE e164 = $1)",
        )
        .bind(orphan)
        .execute(&app.pool)
        .await
        .unwrap();
        let report = crate::common::as_jobs(inward::jobs::orphans::run_once(&app.state))
            .await
            .unwrap();
        // The ported number went to the same queue: it is orphaned too.
        assert!(report.orphaned >= 1, "{report:?}");

        // A hold that lapses.
        let lapsing = agent.find("npa=718", 1).await;
        let (status, body) = agent.reserve(&lapsing).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sqlx::query(
            "UPDATE holds SET expires_at = now() - interval '1 second' WHERE e164 = ANY($1)",
        )
        .bind(&lapsing)
        .execute(&app.pool)
        .await
        .unwrap();
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.expired, 1, "{report:?}");

        // An upload of the reseller's.
        let csv = format!(
            "{}1,(512) 555-0188,TRUE,FALSE,FALSE,,,\n",
            crate::inventory::HEADER
        );
        let job = crate::inventory::run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");

        let envelopes = wait_for_types(&receiver, &secret, &every[..every.len() - 1]).await;
        let upload = reseller_receiver.wait_for(1, Duration::from_secs(20)).await;
        let upload = verified(&reseller_secret, &upload[0]);
        assert_eq!(upload["type"], "upload.completed");
        assert!(
            upload["tenant"].is_null(),
            "a reseller's own event: {upload}"
        );
        assert_eq!(upload["data"]["added"], 1, "{upload}");

        let of = |t: &str| -> Vec<&Value> { envelopes.iter().filter(|e| e["type"] == t).collect() };
        let decided = of("approval.decided");
        assert_eq!(decided[0]["data"]["decision"], "approved");
        assert_eq!(decided[0]["data"]["approval_id"], approval.as_str());
        let drift = of("number.drift_detected");
        let unrouted = drift
            .iter()
            .find(|e| e["data"]["number"] == routed.as_str())
            .unwrap_or_else(|| panic!("no drift event for {routed}: {drift:?}"));
        assert_eq!(unrouted["data"]["class"], "unrouted");
        assert!(
            of("cnam.status_changed")
                .iter()
                .any(|e| e["data"]["status"] == "synced"),
            "the provider's answer is announced too"
        );
        assert!(
            of("port.status_changed")
                .iter()
                .any(|e| e["data"]["status"] == "foc_set" && e["data"]["foc_date"].is_string()),
            "the FOC date is announced: {:?}",
            of("port.status_changed")
        );
        assert!(
            of("number.orphaned")
                .iter()
                .any(|e| e["data"]["number"] == orphan.as_str())
        );
        let failed = of("number.provision_failed");
        assert_eq!(failed[0]["data"]["number"], premium.as_str());
        assert!(
            failed[0]["data"]["error"]
                .as_str()
                .unwrap()
                .contains("E911")
        );
        assert_eq!(
            of("number.rerouted")[0]["data"]["to"]["id"],
            support.as_str()
        );
    })
}

#[test]
fn two_instances_deliver_each_event_once_and_each_numbers_events_in_order() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, fast).await;
        let other = crate::common::another_instance(&app, fast).await;
        let receiver = Receiver::start(0).await;
        let admin = app.api("admin@globex.test").await;
        let (_, secret) = register(
            &admin,
            &receiver.url,
            &["number.reserved", "number.released"],
        )
        .await;
        // Each number is held and let go three times, half the calls through each instance.
        let agents = [
            app.api("agent@globex.test").await,
            other.api("agent@globex.test").await,
        ];
        let numbers = agents[0].find("npa=512", 6).await;
        for round in 0..3 {
            for (i, number) in numbers.iter().enumerate() {
                let agent = &agents[(i + round) % 2];
                let (status, body) = agent.reserve(std::slice::from_ref(number)).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                let id = body["id"].as_str().unwrap();
                let (status, body) = agent.delete(&format!("/api/v1/reservations/{id}")).await;
                assert!(status.is_success(), "{body}");
            }
        }
        let expected = numbers.len() * 3 * 2;
        let got = receiver.wait_for(expected, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = if receiver.got().len() > got.len() {
            receiver.got()
        } else {
            got
        };
        assert_eq!(got.len(), expected, "each event once, no more");
        let mut ids = std::collections::BTreeSet::new();
        for number in &numbers {
            let sequence: Vec<String> = got
                .iter()
                .map(|g| verified(&secret, g))
                .filter(|e| e["data"]["number"] == number.as_str())
                .inspect(|e| assert!(ids.insert(e["id"].to_string()), "{e} twice"))
                .map(|e| e["type"].as_str().unwrap().to_string())
                .collect();
            let alternating: Vec<&str> = (0..6)
                .map(|i| {
                    if i % 2 == 0 {
                        "number.reserved"
                    } else {
                        "number.released"
                    }
                })
                .collect();
            assert_eq!(
                sequence, alternating,
                "{number}: in the order they happened"
            );
        }
    })
}

#[test]
fn the_endpoint_page_saves_switches_resends_filters_and_deletes() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, fast).await;
        let receiver = Receiver::start(0).await;
        let admin = app.api("admin@globex.test").await;
        let (id, _) = register(&admin, &receiver.url, &["number.reserved"]).await;
        let page = app.browser("admin@globex.test").await;

        // A refused URL is said beside its field, in the layout; what was ticked stays.
        let refused = page
            .post_form(
                &format!("/webhooks/{id}"),
                &[
                    ("url", "http://hooks.example.com/x"),
                    ("events", "number.released"),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(
            html.contains("id=\"url-error\"") && html.contains("<nav"),
            "{html}"
        );
        assert!(html.contains("value=\"number.released\" checked"), "{html}");
        let saved = page
            .post_form(
                &format!("/webhooks/{id}"),
                &[
                    ("url", &receiver.url),
                    ("events", "number.released"),
                    ("description", "CRM"),
                ],
            )
            .await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let (_, endpoint) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(
            (
                endpoint["events"][0].as_str(),
                endpoint["description"].as_str()
            ),
            (Some("number.released"), Some("CRM"))
        );

        // Off, a test event waits; on again, it goes.
        let off = page
            .post_form(&format!("/webhooks/{id}/disable"), &[])
            .await;
        assert_eq!(off.status(), StatusCode::SEE_OTHER);
        let test = page.post_form(&format!("/webhooks/{id}/test"), &[]).await;
        assert_eq!(test.status(), StatusCode::SEE_OTHER);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            receiver.got().is_empty(),
            "nothing goes to a disabled endpoint"
        );
        let (_, shown) = page.get(&format!("/webhooks/{id}?status=pending")).await;
        assert!(
            shown.contains("webhook.test") && shown.contains("Enable and send the 1 waiting"),
            "{shown}"
        );
        let on = page.post_form(&format!("/webhooks/{id}/enable"), &[]).await;
        assert_eq!(on.status(), StatusCode::SEE_OTHER);
        receiver.wait_for(1, Duration::from_secs(10)).await;
        let delivered = wait_until_delivered(&admin, &id).await;
        let (_, shown) = page.get(&format!("/webhooks/{id}?status=failed")).await;
        assert!(
            shown.contains("id=\"no-deliveries\""),
            "none failed: {shown}"
        );

        // Resent from the page, with the same event id.
        let resent = page
            .post_form(
                &format!("/webhooks/{id}/deliveries/{}/resend", delivered["id"]),
                &[],
            )
            .await;
        assert_eq!(resent.status(), StatusCode::SEE_OTHER);
        let got = receiver.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(got[0].json()["id"], got[1].json()["id"]);
        assert!(
            app.metrics_text()
                .await
                .contains("webhook_attempts_total{outcome=\"delivered\"}")
        );

        let gone = page.post_form(&format!("/webhooks/{id}/delete"), &[]).await;
        assert_eq!(gone.status(), StatusCode::OK);
        assert!(gone.text().await.unwrap().contains("deleted"));
        let (status, _) = admin.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
}
