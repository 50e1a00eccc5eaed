//! The RingCX adapter against the simulator, over real HTTP, through the portal.

use std::time::{Duration, Instant};

use inward::providers::simulator::ringcx::{ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, JWT, SimState};
use inward::providers::simulator::ringcx_with_state;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code};
use crate::genesys::app_with_key;

pub(crate) type Sim = crate::sim::Sim<SimState>;

impl crate::sim::Sim<SimState> {
    pub(crate) fn id_of(&self, kind: &str, name: &str) -> String {
        self.state
            .lock()
            .unwrap()
            .id_of(kind, name)
            .unwrap()
            .to_string()
    }

    pub(crate) fn owner(&self, number: &str) -> Option<(&'static str, String)> {
        self.state
            .lock()
            .unwrap()
            .owner(number)
            .map(|(kind, id)| (kind, id.to_string()))
    }
}

pub(crate) fn credentials(jwt: &str, account: &str) -> Value {
    json!({ "jwt": jwt, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "account_id": account })
}

pub(crate) async fn connect(admin: &Api, sim: &Sim, credentials: Value) -> String {
    let (status, body) = admin
        .post(
            "/api/v1/connections",
            json!({ "kind": "ringcx", "base_url": sim.base, "credentials": credentials }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("credentials").is_none(), "never returned");
    body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn test_connection(admin: &Api, id: &str) -> Value {
    admin
        .post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await
        .1
}

pub(crate) async fn connected(app: &TestApp, sim: &Sim) -> (Api, Api) {
    let admin = app.api("admin@globex.test").await;
    let id = connect(&admin, sim, credentials(JWT, ACCOUNT_ID)).await;
    let test = test_connection(&admin, &id).await;
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

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn connecting_exchanges_tokens_once_then_refreshes_and_names_what_failed() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let admin = app.api("admin@globex.test").await;

        let id = connect(&admin, &sim, credentials("not-the-jwt", ACCOUNT_ID)).await;
        let test = test_connection(&admin, &id).await;
        assert_eq!(
            (test["ok"].clone(), test["problem"].clone()),
            (json!(false), json!("bad_credentials")),
            "{test}"
        );
        assert!(test["message"].as_str().unwrap().contains("JWT"), "{test}");

        let id = connect(&admin, &sim, credentials(JWT, "99999999")).await;
        let test = test_connection(&admin, &id).await;
        assert_eq!(test["problem"], "missing_permission", "{test}");

        let id = connect(&admin, &sim, credentials(JWT, ACCOUNT_ID)).await;
        sim.set(|f| f.forbid = Some("GET /voice/api/v1/admin/accounts".into()));
        let test = test_connection(&admin, &id).await;
        assert_eq!(test["problem"], "missing_permission", "{test}");
        assert!(
            test["message"]
                .as_str()
                .unwrap()
                .contains("permission denied"),
            "{test}"
        );
        sim.set(|f| f.forbid = None);
        let test = test_connection(&admin, &id).await;
        assert_eq!(test["ok"], true, "{test}");
        assert_eq!(test["imported_numbers"], 20, "the unassigned DNIS pool");
        assert!(
            test["message"]
                .as_str()
                .unwrap()
                .contains("3 queues (gates)"),
            "{test}"
        );
        let exchanges_before = sim.count("POST", "/api/auth/login/rc/accesstoken");

        // Every RingCX token ends mid-flow: the refresh endpoint is used, not a new exchange.
        let agent = app.api("agent@globex.test").await;
        let r = reqwest::Client::new()
            .post(format!("{}/__sim/expire-tokens", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (status, body) = agent.get("/api/v1/targets?type=queue").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["targets"].as_array().unwrap().len(), 3, "{body}");

        // Tokens that live one second: each expiry is refreshed again.
        sim.set(|f| f.token_ttl_seconds = 1);
        reqwest::Client::new()
            .post(format!("{}/__sim/expire-tokens", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            agent.get("/api/v1/targets?type=ivr").await.0,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (status, body) = agent.get("/api/v1/targets?type=ivr").await;
        assert_eq!(status, StatusCode::OK, "{body}");

        assert_eq!(
            sim.count("POST", "/api/auth/login/rc/accesstoken"),
            exchanges_before,
            "no new exchange after expiry"
        );
        assert!(
            sim.count("POST", "/api/auth/token/refresh") >= 2,
            "refreshed twice"
        );

        // A spent refresh token: the adapter falls back to one new exchange.
        {
            let mut data = sim.state.lock().unwrap();
            data.refresh_tokens.clear();
            data.tokens.clear();
        }
        let (status, body) = agent.get("/api/v1/targets?type=queue").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.count("POST", "/api/auth/login/rc/accesstoken"),
            exchanges_before + 1
        );

        let requests = sim.faults.requests.lock().unwrap().clone();
        let exchange = requests
            .iter()
            .rfind(|r| r.path == "/api/auth/login/rc/accesstoken")
            .unwrap();
        assert!(exchange.query.contains("includeRefresh=true"));
        let form = exchange.body.as_str().unwrap();
        assert!(form.contains("rcAccessToken=") && form.contains("rcTokenType=Bearer"));
        let rc = requests
            .iter()
            .find(|r| r.path == "/restapi/oauth/token")
            .unwrap();
        assert!(
            rc.body
                .as_str()
                .unwrap()
                .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
        );

        let (status, body) = admin
        .post(
            "/api/v1/connections",
            json!({ "kind": "ringcx", "base_url": sim.base, "credentials": { "jwt": JWT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET } }),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message(&body).contains("RingCX account id is required"),
            "{body}"
        );
    })
}

#[test]
fn the_portal_flow_provisions_each_target_kind_on_ringcx() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 4).await;
        assert!(
            found.iter().all(|n| n.starts_with("+1317333")),
            "the DNIS pool is searchable"
        );
        let other = app.api("agent@initech.test").await;
        let (_, theirs) = other.get("/api/v1/numbers/available?npa=317").await;
        assert!(
            theirs["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| !n["e164"].as_str().unwrap().starts_with("+1317333")),
            "only for the connected tenant"
        );

        let targets = agent.get("/api/v1/targets?type=ivr").await.1;
        assert!(
            targets["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == "crp-30301"),
            "cloud route profiles are listed as ivr: {targets}"
        );

        let gate = sim.id_of("gate", "Sales");
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": gate })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[0]), Some(("gate", gate)));

        let ivr = sim.id_of("visualIvr", "Main Menu");
        let (status, body) =
            provision(&agent, &found[1], json!({ "type": "ivr", "id": ivr })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[1]), Some(("visualIvr", ivr)));

        let (status, body) = provision(
            &agent,
            &found[2],
            json!({ "type": "ivr", "name": "After hours" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sim.owner(&found[2]),
            Some((
                "cloudRouteProfile",
                sim.id_of("cloudRouteProfile", "After hours")
            ))
        );
        assert_eq!(app.number_state(&found[2]).await, "active");

        let (status, body) = provision(
            &agent,
            &found[3],
            json!({ "type": "extension", "name": "Ada" }),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
        assert!(
            message(&body).contains("RingCX has no extensions"),
            "{body}"
        );
        assert_eq!(app.number_state(&found[3]).await, "reserved");
        assert_eq!(sim.owner(&found[3]), None);

        for n in &found[..3] {
            let (status, body) = agent
                .post(&format!("/api/v1/numbers/{n}/release"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(sim.owner(n), None, "deprovisioned on the platform");
        }
        assert_eq!(
            sim.count(
                "DELETE",
                "/voice/api/v1/admin/utilities/tnManager/assignedDnis/"
            ),
            3
        );
    })
}

#[test]
fn rate_limits_and_server_error_bursts_are_waited_out() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (_, agent) = connected(&app, &sim).await;

        sim.set(|f| f.rate_limit_next = 1);
        let started = Instant::now();
        let (status, body) = agent.get("/api/v1/targets?type=queue").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "waited for Retry-After"
        );

        let number = agent.find("npa=317", 1).await.remove(0);
        sim.set(|f| f.fail_next = 2);
        let (status, body) = provision(
            &agent,
            &number,
            json!({ "type": "queue", "id": sim.id_of("gate", "Support") }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "a burst of 503s is retried: {body}");
        assert_eq!(
            sim.owner(&number),
            Some(("gate", sim.id_of("gate", "Support")))
        );
    })
}

#[test]
fn platform_errors_are_clear_and_a_failed_saga_leaves_nothing_assigned() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 6).await;
        let sales = sim.id_of("gate", "Sales");

        sim.set(|f| {
            f.forbid = Some("PUT /voice/api/v1/admin/utilities/tnManager/assignedDnis/gates".into())
        });
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": sales })).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(message(&body).contains("permission denied"), "{body}");
        sim.set(|f| f.forbid = None);
        assert_eq!(sim.owner(&found[0]), None);

        let (status, body) = provision(
            &agent,
            &found[1],
            json!({ "type": "queue", "id": "999999" }),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) =
            provision(&agent, &found[2], json!({ "type": "ivr", "id": "99999" })).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(message(&body).contains("has no visual IVR 99999"), "{body}");

        // Someone assigns the DNIS in RingCX's own admin while we hold it.
        let callbacks: i64 = sim.id_of("gate", "Callbacks").parse().unwrap();
        sim.state
            .lock()
            .unwrap()
            .assign_directly(&found[3], "gate", callbacks);
        let (status, body) =
            provision(&agent, &found[3], json!({ "type": "queue", "id": sales })).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            message(&body).contains("already assigned in RingCX"),
            "{body}"
        );
        assert_eq!(
            sim.owner(&found[3]),
            Some(("gate", callbacks.to_string())),
            "their assignment is untouched"
        );
        assert_eq!(app.number_state(&found[3]).await, "reserved");

        // They assign it between our re-check and our write: RingCX answers 409.
        let racing = agent.find("npa=317", 7).await.remove(6);
        sim.state
            .lock()
            .unwrap()
            .taken_before_put
            .insert(racing.trim_start_matches('+').to_string(), callbacks);
        let (status, body) =
            provision(&agent, &racing, json!({ "type": "queue", "id": sales })).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            message(&body).contains("by someone else meanwhile"),
            "{body}"
        );
        assert_eq!(
            sim.owner(&racing),
            Some(("gate", callbacks.to_string())),
            "the saga does not undo their assignment"
        );
        assert_eq!(app.number_state(&racing).await, "reserved");

        // Persistent 5xx on the write: retried, then the saga compensates.
        sim.set(|f| f.fail_matching = Some("PUT /voice/api/v1/admin/utilities/tnManager".into()));
        let puts_before = sim.count("PUT", "/voice/api");
        let (status, body) =
            provision(&agent, &found[4], json!({ "type": "queue", "id": sales })).await;
        sim.set(|f| f.fail_matching = None);
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(error_code(&body), "provider_error");
        assert_eq!(
            app.number_state(&found[4]).await,
            "reserved",
            "compensated, still held"
        );
        assert_eq!(
            sim.owner(&found[4]),
            None,
            "nothing left assigned on the platform"
        );
        assert_eq!(app.audit_count(&found[4], "PROVISION", "FAILURE").await, 1);
        let puts = sim.count("PUT", "/voice/api") - puts_before;
        assert!(puts >= 4, "the write was retried ({puts} attempts)");

        // Once the platform recovers, provisioning works again.
        let (status, body) =
            provision(&agent, &found[5], json!({ "type": "queue", "id": sales })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sim.owner(&found[5]), Some(("gate", sales)));
    })
}

#[test]
fn a_gate_deleted_on_ringcx_is_flagged_orphaned_and_rerouted() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, agent) = connected(&app, &sim).await;
        let number = agent.find("npa=317", 1).await.remove(0);
        let gate = sim.id_of("gate", "Support");
        assert_eq!(
            provision(&agent, &number, json!({ "type": "queue", "id": gate }))
                .await
                .0,
            StatusCode::OK
        );
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!((report.checked, report.orphaned), (1, 0), "the gate exists");

        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/gate/{gate}", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!((report.checked, report.orphaned), (1, 1));
        assert_eq!(app.number_state(&number).await, "orphaned");
        assert_eq!(app.audit_count(&number, "ORPHAN", "SUCCESS").await, 1);
        assert_eq!(
            admin.get("/api/v1/orphaned-numbers").await.1["numbers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let (status, body) = agent
            .post(
                &format!("/api/v1/numbers/{number}/reroute"),
                json!({ "target": { "type": "ivr", "id": "crp-30301" } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.number_state(&number).await, "active");
        assert_eq!(
            sim.owner(&number),
            Some(("cloudRouteProfile", "30301".to_string()))
        );
    })
}

/// What the adapter sent matches RingCX's published OpenAPI: every call is a documented
/// operation, JSON bodies use known property names, token calls use the documented parameters.
#[test]
fn requests_match_the_published_ringcx_openapi() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317", 3).await;
        for (n, target) in found.iter().zip([
            json!({ "type": "queue", "id": sim.id_of("gate", "Sales") }),
            json!({ "type": "ivr", "id": sim.id_of("visualIvr", "Main Menu") }),
            json!({ "type": "ivr", "id": "crp-30301" }),
        ]) {
            assert_eq!(provision(&agent, n, target).await.0, StatusCode::OK);
        }
        agent
            .post(&format!("/api/v1/numbers/{}/release", found[0]), json!({}))
            .await;
        reqwest::Client::new()
            .post(format!("{}/__sim/expire-tokens", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(agent.get("/api/v1/targets").await.0, StatusCode::OK);

        let spec: Value =
            serde_json::from_str(include_str!("../fixtures/providers/ringcx.subset.json")).unwrap();
        let schemas = &spec["components"]["schemas"];
        let check = |name: &str, body: &Value| {
            let def = &schemas[name];
            let props = def["properties"].as_object().unwrap();
            for key in body.as_object().unwrap().keys() {
                assert!(props.contains_key(key), "{name} has no property `{key}`");
            }
            for required in def["required"].as_array().into_iter().flatten() {
                assert!(
                    body.get(required.as_str().unwrap()).is_some(),
                    "{name} requires `{required}`"
                );
            }
        };
        let operation = |method: &str, path: &str| -> Option<Value> {
            spec["paths"]
                .as_object()
                .unwrap()
                .iter()
                .find_map(|(template, ops)| {
                    let t: Vec<&str> = template.split('/').collect();
                    let p: Vec<&str> = path.split('/').collect();
                    let matches = t.len() == p.len()
                        && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b);
                    matches
                        .then(|| ops.get(method.to_lowercase()).cloned())
                        .flatten()
                })
        };

        let requests = sim.faults.requests.lock().unwrap().clone();
        let mut bodies = 0;
        for r in &requests {
            if r.path.starts_with("/__sim") || r.path == "/restapi/oauth/token" {
                continue;
            }
            let op = operation(&r.method, &r.path)
                .unwrap_or_else(|| panic!("{} {} is not in RingCX's OpenAPI", r.method, r.path));
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if r.path.starts_with("/api/auth/") {
                // The token calls take their parameters as form fields or query parameters.
                let form = r.body.as_str().unwrap_or_default();
                for (name, _) in
                    url::form_urlencoded::parse(format!("{}&{form}", r.query).as_bytes())
                {
                    assert!(
                        name.is_empty() || declared.contains(&name.as_ref()),
                        "{} takes no parameter `{name}`",
                        r.path
                    );
                }
                continue;
            }
            let Some(schema) =
                op["requestBody"]["content"]["application/json"]["schema"].as_object()
            else {
                continue;
            };
            bodies += 1;
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                check(reference.rsplit('/').next().unwrap(), &r.body);
            } else {
                let item = schema["items"]["$ref"].as_str().unwrap();
                let items = r.body.as_array().expect("an array body");
                assert!(!items.is_empty());
                for entry in items {
                    check(item.rsplit('/').next().unwrap(), entry);
                }
            }
        }
        assert!(bodies >= 4, "searchDnis and three assignments were checked");
        assert!(requests.iter().any(|r| r.path == "/api/auth/token/refresh"));
        assert!(
            requests
                .iter()
                .any(|r| r.method == "PUT" && r.path.contains("/assignedDnis/visualIvrs/"))
        );
        assert!(
            requests
                .iter()
                .any(|r| r.method == "PUT" && r.path.contains("/assignedDnis/cloudRouteProfiles/"))
        );
        let search = requests
            .iter()
            .find(|r| r.path.ends_with("/tnManager/searchDnis"))
            .unwrap();
        assert_eq!(search.body["dnisState"], "UNASSIGNED");
        assert_eq!(search.body["accountIds"], json!([ACCOUNT_ID]));
    })
}

#[test]
fn the_settings_page_connects_ringcx() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser.get("/settings/connection").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"<option value="ringcx""#),
            "RingCX is offered"
        );
        assert!(page.contains(r#"name="cred_jwt""#) && page.contains(r#"name="cred_account_id""#));

        let mut fields = vec![
            ("kind", "ringcx"),
            ("region", ""),
            ("base_url", sim.base.as_str()),
            ("cred_jwt", JWT),
            ("cred_client_id", CLIENT_ID),
            ("cred_client_secret", CLIENT_SECRET),
            ("cred_account_id", ""),
        ];
        let r = browser.post_form("/settings/connection", &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("RingCX account id is required")
        );

        fields[6] = ("cred_account_id", ACCOUNT_ID);
        let r = browser.post_form("/settings/connection", &fields).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = browser.post_form("/settings/connection/test", &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("connected to RingCX account 15580001")
                && page.contains("20 new numbers"),
            "{page}"
        );
        assert!(!page.contains(JWT), "the JWT is never shown again");
    })
}

#[test]
fn writes_whose_answers_are_lost_leave_inward_and_ringcx_agreeing() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app_with(pool, |c| {
            c.secrets.key = crate::genesys::SECRET_KEY.into();
            c.providers.base_delay_ms = 20;
            c.providers.targets_cache_seconds = 0;
            c.sagas.lease_seconds = 3;
        })
        .await;
        let sim = Sim::start(ringcx_with_state).await;
        let (_, agent) = connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 2).await;
        let gate = sim.id_of("gate", "Sales");
        let agree = |number: &str, state: &str| {
            let routed = sim.owner(number).is_some();
            assert_eq!(
                matches!(state, "active" | "pending"),
                routed,
                "{number}: Inward says {state}, RingCX routes it: {routed}"
            );
        };

        sim.set(|f| f.lose_answer_next = 1);
        let (status, body) =
            provision(&agent, &found[0], json!({ "type": "queue", "id": gate })).await;
        let state = app.number_state(&found[0]).await;
        agree(&found[0], &state);
        assert!(
            (status == StatusCode::OK && state == "active")
                || (status == StatusCode::BAD_GATEWAY && state == "reserved"),
            "{status} {body}"
        );

        let (status, body) =
            provision(&agent, &found[1], json!({ "type": "queue", "id": gate })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sim.set(|f| f.lose_answer_next = 1);
        let (status, body) = agent
            .post(&format!("/api/v1/numbers/{}/release", found[1]), json!({}))
            .await;
        assert!(
            status == StatusCode::OK || body["error"]["code"] == "release_pending",
            "{status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        inward::jobs::run_once(&app.state).await;
        let state = app.number_state(&found[1]).await;
        assert_eq!(state, "released");
        agree(&found[1], &state);
    })
}
