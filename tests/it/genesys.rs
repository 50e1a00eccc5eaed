//! The Genesys Cloud adapter against the simulator, over real HTTP, through the portal.

use std::time::{Duration, Instant};

use inward::providers::simulator::genesys::{CLIENT_ID, CLIENT_SECRET, SimState};
use inward::providers::simulator::genesys_with_state;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{Api, TestApp, error_code, spawn_app_with};

pub const SECRET_KEY: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

pub(crate) type Sim = crate::sim::Sim<SimState>;

impl crate::sim::Sim<SimState> {
    pub fn id_of(&self, kind: &str, name: &str) -> String {
        self.state.lock().unwrap().id_of(kind, name).unwrap()
    }

    pub fn owner(&self, number: &str) -> Option<(String, &'static str)> {
        self.state.lock().unwrap().owner(number)
    }
}

pub async fn app_with_key(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |c| {
        c.secrets.key = SECRET_KEY.into();
        c.providers.base_delay_ms = 20;
        // These tests count what reaches the platform.
        c.providers.targets_cache_seconds = 0;
    })
    .await
}

async fn connect(admin: &Api, sim: &Sim, secret: &str) -> (StatusCode, Value) {
    admin
        .post(
            "/api/v1/connections",
            json!({ "kind": "genesys", "base_url": sim.base, "credentials": { "client_id": CLIENT_ID, "client_secret": secret } }),
        )
        .await
}

pub(crate) async fn connected(app: &TestApp, sim: &Sim) -> (Api, Api) {
    let admin = app.api("admin@globex.test").await;
    let (status, body) = connect(&admin, sim, CLIENT_SECRET).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (_, test) = admin
        .post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await;
    assert_eq!(test["ok"], true, "{test}");
    (admin, app.api("agent@globex.test").await)
}

pub(crate) async fn provision(api: &Api, number: &str, target: Value) -> (StatusCode, Value) {
    let (status, reservation) = api.reserve(&[number.to_string()]).await;
    assert_eq!(status, StatusCode::CREATED, "{reservation}");
    let id = reservation["id"].as_str().unwrap();
    api.post(
        &format!("/api/v1/reservations/{id}/provision"),
        json!({ "assignments": [{ "number": number, "target": target }] }),
    )
    .await
}

#[test]
fn test_connection_names_what_failed_and_secrets_stay_sealed() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let admin = app.api("admin@globex.test").await;
        assert_eq!(
            connect(&app.api("agent@globex.test").await, &sim, CLIENT_SECRET)
                .await
                .0,
            StatusCode::FORBIDDEN,
            "tenant users cannot connect"
        );

        let (_, body) = connect(&admin, &sim, "wrong-secret").await;
        let id = body["id"].as_str().unwrap().to_string();
        assert!(
            body.get("credentials").is_none(),
            "credentials are never returned"
        );
        let (_, test) = admin
            .post(&format!("/api/v1/connections/{id}/test"), json!({}))
            .await;
        assert_eq!(
            (test["ok"].clone(), test["problem"].clone()),
            (json!(false), json!("bad_credentials")),
            "{test}"
        );

        let stored: Vec<u8> = sqlx::query_scalar("SELECT credentials FROM connections")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&stored).contains("wrong-secret"),
            "encrypted at rest"
        );

        let (_, body) = connect(&admin, &sim, CLIENT_SECRET).await;
        let id = body["id"].as_str().unwrap().to_string();
        sim.set(|f| f.forbid = Some("GET /api/v2/routing/queues".into()));
        let (_, test) = admin
            .post(&format!("/api/v1/connections/{id}/test"), json!({}))
            .await;
        assert_eq!(test["problem"], "missing_permission", "{test}");
        sim.set(|f| f.forbid = None);
        let (_, test) = admin
            .post(&format!("/api/v1/connections/{id}/test"), json!({}))
            .await;
        assert_eq!(test["ok"], true, "{test}");
        assert_eq!(test["imported_numbers"], 20);

        let unreachable = admin
        .post("/api/v1/connections", json!({ "kind": "genesys", "base_url": "http://127.0.0.1:9", "credentials": { "client_id": "a", "client_secret": "b" } }))
        .await
        .1;
        let (_, test) = admin
            .post(
                &format!(
                    "/api/v1/connections/{}/test",
                    unreachable["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await;
        assert_eq!(test["problem"], "unreachable", "{test}");

        let (status, body) = admin
            .post(
                "/api/v1/connections",
                json!({ "kind": "genesys", "region": "moon", "credentials": {} }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("region")
        );
    })
}

#[test]
fn the_portal_flow_provisions_each_target_kind_on_genesys() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 4).await;
        assert!(
            found.iter().all(|n| n.starts_with("+1317222")),
            "the platform's unassigned DIDs are searchable"
        );
        let other = app.api("agent@initech.test").await;
        let (_, theirs) = other.get("/api/v1/numbers/available?npa=317").await;
        assert!(
            theirs["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| !n["e164"].as_str().unwrap().starts_with("+1317222")),
            "only for the connected tenant"
        );

        let queue = sim.id_of("queue", "Sales");
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": queue })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.owner(&found[0]),
            Some((sim.id_of("ivr", "Sales"), "IVR_CONFIG")),
            "queue reached through its call route"
        );

        let user = sim.id_of("user", "Ada Lovelace");
        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "extension", "id": user }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[1]), Some((user, "USER")));

        let (status, body) = provision(
            &agent,
            &found[2],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.owner(&found[2]),
            Some((sim.id_of("ivr", "Main Menu"), "IVR_CONFIG"))
        );

        let (status, body) = provision(
            &agent,
            &found[3],
            json!({ "type": "extension", "name": "Nobody Yet" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("created in Genesys"),
            "{body}"
        );
        assert_eq!(app.number_state(&found[3]).await, "reserved");

        for n in &found[..3] {
            let (status, body) = agent
                .post(&format!("/api/v1/numbers/{n}/release"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(sim.owner(n), None, "deprovisioned on the platform");
        }
        let targets = agent.get("/api/v1/targets?type=queue").await.1;
        assert_eq!(targets["targets"].as_array().unwrap().len(), 2);
    })
}

#[test]
fn tokens_refresh_and_throttling_retries_recover() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;

        sim.state.lock().unwrap().tokens.clear();
        let (status, body) = agent.get("/api/v1/targets?type=ivr").await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a 401 mid-flow refreshes the token once: {body}"
        );

        sim.set(|f| f.rate_limit_next = 1);
        let started = Instant::now();
        let (status, _) = agent.get("/api/v1/targets?type=queue").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "waited for Retry-After"
        );

        sim.set(|f| f.fail_next = 2);
        let (status, _) = agent.get("/api/v1/targets?type=extension").await;
        assert_eq!(status, StatusCode::OK, "a burst of 503s is retried");
        // Each call above used a different target type, so none was answered from the cache.
        let tokens = sim.count("POST", "/oauth/token");
        assert_eq!(tokens, 2, "one token at connect, one refresh after expiry");

        // A throttled token exchange is waited out and tried again, as any other call.
        sim.set(|f| {
            f.rate_limit_matching = Some("POST /oauth/token".into());
            f.rate_limit_next = 2;
        });
        sim.state.lock().unwrap().tokens.clear();
        let started = Instant::now();
        let (status, body) = agent.get("/api/v1/targets?type=ivr").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            started.elapsed() >= Duration::from_millis(1800),
            "waited twice"
        );

        // A platform that asks for longer than Inward waits for one call is not retried early.
        sim.set(|f| {
            f.rate_limit_matching = None;
            f.rate_limit_next = 1;
            f.retry_after_seconds = 600;
        });
        let started = Instant::now();
        let (status, body) = agent.get("/api/v1/targets?type=queue").await;
        assert!(started.elapsed() < Duration::from_secs(5), "failed at once");
        assert_eq!(
            error_code(&body),
            "provider_rate_limited",
            "{status} {body}"
        );
        assert!(body.to_string().contains("asks to wait 600 s"), "{body}");
    })
}

#[test]
fn platform_errors_are_clear_and_a_failed_saga_leaves_nothing_assigned() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 3).await;

        sim.set(|f| f.forbid = Some("PUT /api/v2/architect/ivrs".into()));
        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("permission denied"),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("routing:callRoute:edit"),
            "names the missing right: {body}"
        );
        sim.set(|f| f.forbid = None);

        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "queue", "id": "0000-missing" }),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        // Someone assigns the DID in Genesys's own UI while we hold it.
        let user = sim.id_of("user", "Grace Hopper");
        sim.state.lock().unwrap().users.get_mut(&user).unwrap()["addresses"] =
            json!([{ "address": found[2], "mediaType": "PHONE", "type": "WORK" }]);
        let (status, body) = provision(
            &agent,
            &found[2],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already assigned"),
            "{body}"
        );
        assert_eq!(
            sim.owner(&found[2]),
            Some((user, "USER")),
            "their assignment is untouched"
        );

        // Persistent 5xx on the write: retried, then the saga compensates.
        let number = agent.find("npa=317", 4).await[3].clone();
        sim.set(|f| f.fail_matching = Some("PUT /api/v2/architect/ivrs".into()));
        let (status, body) = provision(
            &agent,
            &number,
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        sim.set(|f| f.fail_matching = None);
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(error_code(&body), "provider_error");
        assert_eq!(
            app.number_state(&number).await,
            "reserved",
            "compensated, still held"
        );
        assert_eq!(
            sim.owner(&number),
            None,
            "nothing left assigned on the platform"
        );
        assert_eq!(app.audit_count(&number, "PROVISION", "FAILURE").await, 1);
        let puts = sim
            .faults
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "PUT")
            .count();
        assert!(puts >= 4, "the write was retried ({puts} attempts)");
    })
}

#[test]
fn a_target_deleted_on_the_platform_is_flagged_orphaned_and_rerouted() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (admin, agent) = connected(&app, &sim).await;
        let number = agent.find("npa=317", 1).await.remove(0);
        let user = sim.id_of("user", "Ada Lovelace");
        assert_eq!(
            provision(&agent, &number, json!({ "type": "extension", "id": user }))
                .await
                .0,
            StatusCode::OK
        );

        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/user/{user}", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!((report.checked, report.orphaned), (1, 1));
        assert_eq!(app.number_state(&number).await, "orphaned");
        assert_eq!(app.audit_count(&number, "ORPHAN", "SUCCESS").await, 1);
        let notices: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notifications WHERE phone_number = $1")
                .bind(&number)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(notices >= 1, "tenant admins are told");
        assert_eq!(
            admin.get("/api/v1/orphaned-numbers").await.1["numbers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let ivr = sim.id_of("ivr", "Main Menu");
        let (status, body) = agent
            .post(
                &format!("/api/v1/numbers/{number}/reroute"),
                json!({ "target": { "type": "ivr", "id": ivr } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.number_state(&number).await, "active");
        assert_eq!(sim.owner(&number), Some((ivr, "IVR_CONFIG")));
    })
}

#[test]
fn a_live_number_is_re_routed_on_genesys_from_a_user_to_a_call_route_and_on() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let number = agent.find("npa=317", 1).await.remove(0);
        let ada = sim.id_of("user", "Ada Lovelace");
        assert_eq!(
            provision(&agent, &number, json!({ "type": "extension", "id": ada }))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(sim.owner(&number), Some((ada.clone(), "USER")));

        let ivr = sim.id_of("ivr", "Main Menu");
        let (status, body) = agent
            .post(
                &format!("/api/v1/numbers/{number}/reroute"),
                json!({ "target": { "type": "ivr", "id": ivr } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&number), Some((ivr, "IVR_CONFIG")));

        let grace = sim.id_of("user", "Grace Hopper");
        let (status, body) = agent
            .post(
                &format!("/api/v1/numbers/{number}/reroute"),
                json!({ "target": { "type": "extension", "id": grace } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&number), Some((grace, "USER")));
        assert_eq!(app.number_state(&number).await, "active");
        assert_eq!(app.audit_count(&number, "REROUTE", "SUCCESS").await, 2);
    })
}

/// What the adapter sent matches the published shapes: known fields only, required ones present.
#[test]
fn requests_match_the_published_genesys_shapes() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 2).await;
        provision(
            &agent,
            &found[0],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        provision(
            &agent,
            &found[1],
            json!({ "type": "extension", "id": sim.id_of("user", "Grace Hopper") }),
        )
        .await;

        let spec: Value = serde_json::from_str(include_str!(
            "../fixtures/providers/genesys-cloud.subset.json"
        ))
        .unwrap();
        let check = |definition: &str, body: &Value| {
            let def = &spec["definitions"][definition];
            let props = def["properties"].as_object().unwrap();
            for key in body.as_object().unwrap().keys() {
                assert!(
                    props.contains_key(key),
                    "{definition} has no property `{key}`"
                );
                assert!(
                    props[key]["readOnly"] != true,
                    "`{key}` of {definition} is read-only: a write must not send it"
                );
            }
            for required in def["required"].as_array().into_iter().flatten() {
                assert!(
                    body.get(required.as_str().unwrap()).is_some(),
                    "{definition} requires `{required}`"
                );
            }
        };
        let requests = sim.faults.requests.lock().unwrap().clone();
        let puts: Vec<_> = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with("/api/v2/architect/ivrs/"))
            .collect();
        let patches: Vec<_> = requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.starts_with("/api/v2/users/"))
            .collect();
        assert!(!puts.is_empty() && !patches.is_empty());
        puts.iter().for_each(|r| check("IVR", &r.body));
        patches.iter().for_each(|r| check("UpdateUser", &r.body));
        for r in patches {
            for address in r.body["addresses"].as_array().unwrap() {
                check("Contact", address);
            }
        }
        let searched = requests.iter().any(|r| {
            r.path == "/api/v2/telephony/providers/edges/didpools/dids"
                && r.query.contains("type=UNASSIGNED")
        });
        assert!(searched);
    })
}

/// Whether Inward and Genesys agree on the number: Inward routes it exactly when Genesys
/// has it on a user or a call route.
async fn agree(app: &TestApp, sim: &Sim, number: &str) -> (String, bool) {
    let state = app.number_state(number).await;
    let routed = sim.owner(number).is_some();
    assert_eq!(
        matches!(state.as_str(), "active" | "pending"),
        routed,
        "{number}: Inward says {state}, Genesys routes it: {routed}"
    );
    (state, routed)
}

#[test]
fn writes_whose_answers_are_lost_leave_inward_and_genesys_agreeing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            c.secrets.key = SECRET_KEY.into();
            c.providers.base_delay_ms = 20;
            c.providers.targets_cache_seconds = 0;
            c.sagas.lease_seconds = 3;
        })
        .await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 3).await;

        // The assignment lands on Genesys and its answer is lost: a user's PATCH is not
        // resent, so the saga undoes it; a call route's PUT may be resent and found done.
        for (number, target) in [
            (
                &found[0],
                json!({ "type": "extension", "name": "Grace Hopper" }),
            ),
            (&found[1], json!({ "type": "ivr", "name": "Main Menu" })),
        ] {
            sim.set(|f| f.lose_answer_next = 1);
            let (status, body) = provision(&agent, number, target).await;
            let (state, _) = agree(&app, &sim, number).await;
            assert!(
                (status == StatusCode::OK && state == "active")
                    || (status == StatusCode::BAD_GATEWAY && state == "reserved"),
                "{status} {body}"
            );
        }
        assert_eq!(
            app.number_state(&found[0]).await,
            "reserved",
            "a PATCH is never resent"
        );

        // A routed number's release loses the answer of its unassignment.
        let released = &found[2];
        let target = json!({ "type": "extension", "name": "Grace Hopper" });
        let (status, body) = provision(&agent, released, target).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sim.set(|f| f.lose_answer_next = 1);
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{released}/release"), json!({}))
            .await;
        assert!(
            status == StatusCode::OK || error_code(&body) == "release_pending",
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        inward::jobs::run_once(&app.state).await;
        assert_eq!(
            agree(&app, &sim, released).await,
            ("released".into(), false)
        );
    })
}

/// Another editor changes a call route between Inward's read and its write: Genesys refuses
/// the stale `version` with 409, the adapter reads the route again and writes once more; a
/// route that keeps changing fails the step, and the saga leaves nothing routed.
#[test]
fn a_call_route_changed_by_someone_else_is_read_again_and_written_once_more() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 2).await;
        let queue = sim.id_of("queue", "Sales");
        let route = sim.id_of("ivr", "Sales");

        sim.set(|f| f.conflict_next = 1);
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": queue })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[0]), Some((route.clone(), "IVR_CONFIG")));
        assert_eq!(agree(&app, &sim, &found[0]).await, ("active".into(), true));

        sim.set(|f| f.conflict_next = 2);
        let (status, body) =
            provision(&agent, &found[1], json!({ "type": "queue", "id": queue })).await;
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{status} {body}"
        );
        assert!(body.to_string().contains("kept changing"), "{body}");
        assert_eq!(
            agree(&app, &sim, &found[1]).await,
            ("reserved".into(), false)
        );
        assert_eq!(
            sim.owner(&found[0]),
            Some((route, "IVR_CONFIG")),
            "the other number on the route is untouched"
        );

        sim.set(|f| f.conflict_next = 1);
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{}/release", found[0]), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            agree(&app, &sim, &found[0]).await,
            ("released".into(), false)
        );
    })
}

/// The simulator's answer for `path`, with a token of its own.
async fn sim_get(sim: &Sim, path: &str) -> Value {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth/token", sim.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.get(format!("{}{path}", sim.base))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[test]
fn dids_are_judged_by_their_owner_and_a_release_clears_the_call_route() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 2).await;
        let main_menu = sim.id_of("ivr", "Main Menu");
        let (status, body) = provision(
            &agent,
            &found[0],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The answers have the published shapes: a DID has no `assigned`, only an owner.
        let spec: Value = serde_json::from_str(include_str!(
            "../fixtures/providers/genesys-cloud.subset.json"
        ))
        .unwrap();
        let conforms = |definition: &str, body: &Value| {
            let def = &spec["definitions"][definition];
            for key in body.as_object().unwrap().keys() {
                assert!(
                    def["properties"].get(key).is_some(),
                    "{definition} has no `{key}`: {body}"
                );
            }
            for required in def["required"].as_array().into_iter().flatten() {
                assert!(
                    body.get(required.as_str().unwrap()).is_some(),
                    "{definition} requires `{required}`"
                );
            }
        };
        let number = found[0].replace('+', "%2B");
        let did = sim_get(
            &sim,
            &format!("/api/v2/telephony/providers/edges/dids?phoneNumber={number}"),
        )
        .await;
        let did = &did["entities"][0];
        conforms("DID", did);
        assert_eq!(did["owner"]["id"], main_menu.as_str());
        assert_eq!(did["ownerType"], "IVR_CONFIG");
        let pooled = sim_get(
            &sim,
            "/api/v2/telephony/providers/edges/didpools/dids?type=ASSIGNED_AND_UNASSIGNED",
        )
        .await;
        for entity in pooled["entities"].as_array().unwrap() {
            conforms("DIDNumber", entity);
        }

        // Releasing removes the DID from the call route on Genesys.
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{}/release", found[0]), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[0]), None, "no longer on the call route");

        // A DID that sits on another call route is not ours to route to Main Menu.
        let sales_route = sim.id_of("ivr", "Sales");
        sim.state
            .lock()
            .unwrap()
            .ivrs
            .get_mut(&sales_route)
            .unwrap()["dnis"] = json!([found[1]]);
        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "ivr", "name": "Main Menu" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already assigned"),
            "{body}"
        );
        assert_eq!(
            sim.owner(&found[1]).map(|(id, _)| id),
            Some(sales_route),
            "untouched"
        );
    })
}

/// Listings are read to their last page, in pages of 100: 5,100 call routes (past the 50 pages
/// reading once stopped at without a word), 350 unassigned DIDs, 250 queues and 250 users.
#[test]
fn every_page_of_call_routes_and_dids_is_read() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        {
            let mut data = sim.state.lock().unwrap();
            for i in 0..5100 {
                let id = format!("c0ffee00-0000-4000-8000-{i:012}");
                data.ivrs.insert(
                    id.clone(),
                    json!({ "id": id, "name": format!("Campaign {i:04}"), "dnis": [], "version": 1, "state": "active" }),
                );
            }
            for i in 0..350 {
                data.dids.push(format!("+1317223{i:04}"));
            }
            for i in 0..250 {
                let id = format!("0eee0000-0000-4000-8000-{i:012}");
                data.queues.insert(
                    id.clone(),
                    json!({ "id": id, "name": format!("Queue {i:03}"), "memberCount": 1 }),
                );
                let id = format!("0ddd0000-0000-4000-8000-{i:012}");
                data.users.insert(
                    id.clone(),
                    json!({ "id": id, "name": format!("Agent {i:03}"), "version": 1, "addresses": [], "state": "active" }),
                );
            }
        }
        let (admin, _) = connected(&app, &sim).await;
        let (_, ivrs) = admin.get("/api/v1/targets?type=ivr").await;
        assert_eq!(ivrs["targets"].as_array().unwrap().len(), 5103);
        let (_, queues) = admin.get("/api/v1/targets?type=queue").await;
        let queues = queues["targets"].as_array().unwrap();
        assert!(
            queues.iter().any(|q| q["name"] == "Queue 249"),
            "the last page of queues is read"
        );
        let (_, users) = admin.get("/api/v1/targets?type=extension").await;
        let users = users["targets"].as_array().unwrap();
        assert!(
            users.iter().any(|u| u["name"] == "Agent 249"),
            "the last page of users is read"
        );
        assert!(sim.count("GET", "/api/v2/routing/queues") >= 3);
        assert!(sim.count("GET", "/api/v2/users") >= 3);
        let imported: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM numbers WHERE e164 LIKE '+1317223%' OR e164 LIKE '+1317222%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(imported, 370, "every unassigned DID is imported");
    })
}

/// When the platform drops its tokens, the requests refused together make one new sign-in,
/// not one each (RingCX allows five token exchanges a minute).
#[test]
fn a_burst_of_refused_tokens_makes_one_sign_in() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let sign_ins = || sim.count("POST", "/oauth/token");
        let before = sign_ins();
        sim.state.lock().unwrap().tokens.clear();
        // Held at the platform, every call is sent with the old token before the first 401.
        sim.set(|f| {
            f.stall_matching = Some("GET /api/v2/".into());
            f.stall_ms = 1500;
        });
        let calls = (0..6).map(|i| {
            let agent = &agent;
            let kind = ["queue", "ivr", "extension"][i % 3];
            async move { agent.get(&format!("/api/v1/targets?type={kind}")).await.0 }
        });
        for status in futures::future::join_all(calls).await {
            assert_eq!(status, StatusCode::OK);
        }
        assert_eq!(sign_ins() - before, 1, "one exchange for the whole burst");
    })
}

#[test]
fn a_genesys_tenant_has_no_carrier_so_its_caller_id_name_fails_and_holds_reserve_nothing_there() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(genesys_with_state).await;
        let (admin, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=1", 1).await;
        let queue = sim.id_of("queue", "Sales");
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": queue })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let carrier_reservations: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_reservations WHERE e164 = $1")
                .bind(&found[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            carrier_reservations, 0,
            "the sandbox carrier is not behind Genesys"
        );

        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{}/cnam", found[0]),
                json!({ "name": "Globex Sales" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["cnam"]["status"], "pending");
        inward::jobs::run_once(&app.state).await;
        let (_, shown) = admin.get(&format!("/api/v1/numbers/{}", found[0])).await;
        assert_eq!(shown["cnam"]["status"], "failed", "{shown}");
        let reason = shown["cnam"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("kept by the carrier") && reason.contains("genesys"),
            "the tenant is told whom to ask: {reason}"
        );
    })
}
