//! The NICE CXone adapter against the simulator, over real HTTP, through the portal.

use std::time::{Duration, Instant};

use inward::providers::simulator::cxone::{
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, CLIENT_ID, CLIENT_SECRET, SimState,
};
use inward::providers::simulator::cxone_with_state;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp};
use crate::genesys::app_with_key;

pub(crate) type Sim = crate::sim::Sim<SimState>;

impl crate::sim::Sim<SimState> {
    pub(crate) fn route(&self, number: &str) -> Option<(i64, String)> {
        self.state.lock().unwrap().route(number)
    }
}

fn credentials(secret: &str) -> Value {
    json!({
        "access_key_id": ACCESS_KEY_ID, "access_key_secret": secret, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "default_script": "Main IVR", "default_skill_id": "4002",
    })
}

pub(crate) async fn connected(app: &TestApp, sim: &Sim) -> Api {
    let admin = app.api("admin@globex.test").await;
    let (status, body) = admin.post("/api/v1/connections", json!({ "kind": "cxone", "base_url": sim.base, "credentials": credentials(ACCESS_KEY_SECRET) })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, test) = admin
        .post(
            &format!("/api/v1/connections/{}/test", body["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["imported_numbers"], 20, "{test}");
    app.api("agent@globex.test").await
}

pub(crate) async fn provision(api: &Api, number: &str, target: Value) -> (StatusCode, Value) {
    let (status, reservation) = api.reserve(&[number.to_string()]).await;
    assert_eq!(status, StatusCode::CREATED, "{reservation}");
    let id = reservation["id"].as_str().unwrap();
    api.post(
        &format!("/api/v1/reservations/{id}/provision"),
        json!({ "assignments": [{ "number": number, "name": "Line", "target": target }] }),
    )
    .await
}

#[test]
fn cxone_connection_test_and_the_portal_flow() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(cxone_with_state).await;
        let admin = app.api("admin@globex.test").await;
        let (_, bad) = admin
        .post(
            "/api/v1/connections",
            json!({ "kind": "cxone", "base_url": sim.base, "credentials": credentials("nope") }),
        )
        .await;
        let (_, test) = admin
            .post(
                &format!("/api/v1/connections/{}/test", bad["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(test["problem"], "bad_credentials", "{test}");

        let agent = connected(&app, &sim).await;
        let found = agent.find("npa=303&limit=20", 3).await;
        assert!(found.iter().all(|n| n.starts_with("+1303555")));

        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "queue", "name": "Sales" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.route(&found[0]),
            Some((4001, "Main IVR".to_string())),
            "skill + the default script"
        );
        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "ivr", "id": "After Hours" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.route(&found[1]),
            Some((4002, "After Hours".to_string())),
            "script + the default skill"
        );
        let (status, body) = provision(
            &agent,
            &found[2],
            json!({ "type": "extension", "name": "Desk" }),
        )
        .await;
        // Refused before anything is sent, as on RingCX: the number stays held.
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("skills and scripts"),
            "{body}"
        );
        assert_eq!(app.number_state(&found[2]).await, "reserved");
        // Asking which extensions there are says why there are none.
        let (status, body) = agent.get("/api/v1/targets?type=extension").await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");

        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{}/release", found[0]), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.route(&found[0]),
            None,
            "deprovisioned by deactivating the point of contact"
        );
        let inactive = sim
            .state
            .lock()
            .unwrap()
            .contacts
            .values()
            .filter(|c| c["isActive"] == false)
            .count();
        assert_eq!(inactive, 1);
        // Routing it again reactivates the same point of contact (there is no DELETE).
        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "queue", "name": "Billing" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.route(&found[0]), Some((4003, "Main IVR".to_string())));
        assert_eq!(sim.state.lock().unwrap().contacts.len(), 2);
    })
}

#[test]
fn cxone_tokens_retries_errors_and_compensation() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(cxone_with_state).await;
        let agent = connected(&app, &sim).await;
        let found = agent.find("npa=303&limit=20", 3).await;
        assert_eq!(
            sim.count("POST", "/auth/token"),
            1,
            "the sign-in that finds the API host is the API client's first token"
        );

        sim.state.lock().unwrap().tokens.clear();
        assert_eq!(
            agent.get("/api/v1/targets?type=queue").await.0,
            StatusCode::OK,
            "expired token refreshed once"
        );
        sim.set(|f| f.rate_limit_next = 1);
        let started = Instant::now();
        assert_eq!(
            agent.get("/api/v1/targets?type=ivr").await.0,
            StatusCode::OK
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "waited for Retry-After"
        );
        sim.set(|f| f.fail_next = 2);
        assert_eq!(
            agent.get("/api/v1/targets").await.0,
            StatusCode::OK,
            "a 5xx burst is retried"
        );

        sim.set(|f| f.forbid = Some("POST /inContactAPI".into()));
        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "queue", "name": "Sales" }),
        )
        .await;
        sim.set(|f| f.forbid = None);
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("permission denied"),
            "{body}"
        );

        let (status, _) = provision(
            &agent,
            &found[1],
            json!({ "type": "queue", "id": "999999" }),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Somebody routed the number in CXone itself meanwhile.
        sim.state.lock().unwrap().contacts.insert(
        1,
        json!({ "contactCode": 1, "contactAddress": found[2], "contactDescription": "Theirs", "defaultSkillId": 4003, "scriptName": "After Hours", "isActive": true }),
    );
        let (status, body) = provision(
            &agent,
            &found[2],
            json!({ "type": "queue", "name": "Sales" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already an active point of contact"),
            "{body}"
        );
        assert_eq!(
            sim.route(&found[2]),
            Some((4003, "After Hours".to_string())),
            "theirs is untouched"
        );

        sim.set(|f| f.fail_matching = Some("POST /inContactAPI".into()));
        let (status, _) = agent.post(&format!("/api/v1/reservations/{}/provision", reservation_of(&app, &found[0]).await), json!({ "assignments": [{ "number": found[0], "target": { "type": "queue", "name": "Sales" } }] })).await;
        sim.set(|f| f.fail_matching = None);
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            app.number_state(&found[0]).await,
            "reserved",
            "compensated and still held"
        );
        assert_eq!(sim.route(&found[0]), None, "nothing routed on the platform");
    })
}

async fn reservation_of(app: &TestApp, number: &str) -> String {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT reservation_id FROM numbers WHERE e164 = $1")
        .bind(number)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    id.to_string()
}

#[test]
fn cxone_orphan_check_flags_a_deleted_skill() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(cxone_with_state).await;
        let agent = connected(&app, &sim).await;
        let number = agent.find("npa=303", 1).await.remove(0);
        assert_eq!(
            provision(
                &agent,
                &number,
                json!({ "type": "queue", "name": "Support" })
            )
            .await
            .0,
            StatusCode::OK
        );
        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/queue/4002", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!(report.orphaned, 1);
        assert_eq!(app.number_state(&number).await, "orphaned");
    })
}

#[test]
fn writes_whose_answers_are_lost_leave_inward_and_cxone_agreeing() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app_with(pool, |c| {
            c.secrets.key = crate::genesys::SECRET_KEY.into();
            c.providers.base_delay_ms = 20;
            c.providers.targets_cache_seconds = 0;
            c.sagas.lease_seconds = 3;
        })
        .await;
        let sim = Sim::start(cxone_with_state).await;
        let agent = connected(&app, &sim).await;
        let found = agent.find("npa=303&limit=20", 2).await;
        let agree = |number: &str, state: &str| {
            let routed = sim.route(number).is_some();
            assert_eq!(
                matches!(state, "active" | "pending"),
                routed,
                "{number}: Inward says {state}, CXone routes it: {routed}"
            );
        };

        sim.set(|f| f.lose_answer_next = 1);
        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "queue", "name": "Sales" }),
        )
        .await;
        let state = app.number_state(&found[0]).await;
        agree(&found[0], &state);
        assert!(
            (status == StatusCode::OK && state == "active")
                || (status == StatusCode::BAD_GATEWAY && state == "reserved"),
            "{status} {body}"
        );

        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "queue", "name": "Sales" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sim.set(|f| f.lose_answer_next = 1);
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{}/release", found[1]), json!({}))
            .await;
        assert!(
            status == StatusCode::OK || body["error"]["code"] == "release_pending",
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        inward::jobs::run_once(&app.state).await;
        let state = app.number_state(&found[1]).await;
        assert_eq!(state, "released");
        agree(&found[1], &state);
    })
}

/// A role that cannot read points of contact fails "Test connection" with the problem named,
/// as an answer (200, `ok: false`), not as an error of the request.
#[test]
fn a_missing_points_of_contact_permission_is_a_failed_test() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(cxone_with_state).await;
        let admin = app.api("admin@globex.test").await;
        let (status, body) = admin.post("/api/v1/connections", json!({ "kind": "cxone", "base_url": sim.base, "credentials": credentials(ACCESS_KEY_SECRET) })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let path = format!("/api/v1/connections/{}/test", body["id"].as_str().unwrap());
        sim.set(|f| {
            f.forbid = Some(format!(
                "GET /inContactAPI/services/{}/points-of-contact",
                inward::providers::cxone::API_VERSION
            ))
        });
        let (status, test) = admin.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{test}");
        assert_eq!(test["ok"], false, "{test}");
        assert_eq!(test["problem"], "missing_permission", "{test}");
        sim.set(|f| f.forbid = None);
        let (_, test) = admin.post(&path, json!({})).await;
        assert_eq!(test["ok"], true, "{test}");
        assert!(
            test["message"]
                .as_str()
                .unwrap()
                .contains("points of contact"),
            "{test}"
        );
    })
}

/// Listings page with `skip`/`top` to their end: 2,500 phone numbers of which 1,200 are routed
/// by points of contact, and 1,100 scripts (three pages), all read.
#[test]
fn every_page_of_numbers_contacts_and_scripts_is_read() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(cxone_with_state).await;
        {
            let mut data = sim.state.lock().unwrap();
            for i in 0..2500 {
                data.numbers.push(format!("+1303556{i:04}"));
            }
            for i in 0..1200 {
                let code = 90_000 + i as i64;
                data.contacts.insert(
                    code,
                    json!({ "contactCode": code, "contactAddress": format!("+1303556{i:04}"),
                            "defaultSkillId": 4001, "scriptName": "Main IVR", "isActive": true, "mediaTypeId": 4 }),
                );
            }
            for i in 0..1100 {
                data.scripts.push(format!("Campaign {i}"));
            }
        }
        let admin = app.api("admin@globex.test").await;
        let (status, body) = admin.post("/api/v1/connections", json!({ "kind": "cxone", "base_url": sim.base, "credentials": credentials(ACCESS_KEY_SECRET) })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let path = format!("/api/v1/connections/{}/test", body["id"].as_str().unwrap());
        let (_, test) = admin.post(&path, json!({})).await;
        assert_eq!(test["ok"], true, "{test}");
        assert_eq!(test["imported_numbers"], 20 + 2500 - 1200, "{test}");
        let (_, ivrs) = admin.get("/api/v1/targets?type=ivr").await;
        assert_eq!(ivrs["targets"].as_array().unwrap().len(), 1102, "{ivrs}");
        let pages = sim.count(
            "GET",
            &format!(
                "/inContactAPI/services/{}/phone-numbers",
                inward::providers::cxone::API_VERSION
            ),
        );
        assert!(
            pages >= 6,
            "2,520 numbers in pages of 500: {pages} requests"
        );
    })
}
