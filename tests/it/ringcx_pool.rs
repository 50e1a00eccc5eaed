//! The RingCX DNIS pool and tracking numbers through the portal, against the simulator.

use inward::providers::simulator::ringcx::{ACCOUNT_ID, JWT};
use inward::providers::simulator::ringcx_with_state;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code};
use crate::genesys::app_with_key;
use crate::ringcx::{Sim, connect, credentials, test_connection};

async fn setup(app: &TestApp, sim: &Sim) -> (Api, String) {
    let admin = app.api("admin@globex.test").await;
    let id = connect(&admin, sim, credentials(JWT, ACCOUNT_ID)).await;
    (admin, id)
}

fn pool_path(id: &str) -> String {
    format!("/api/v1/connections/{id}/ringcx/dnis-pool")
}

fn numbers_of(body: &Value) -> Vec<String> {
    body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dnisE164"].as_str().unwrap().to_string())
        .collect()
}

async fn audit_rows(app: &TestApp, status: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'RINGCX_POOL' AND status = $1",
    )
    .bind(status)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn upload(app: &TestApp, admin: &Api, id: &str, csv: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url(&format!("{}/upload", pool_path(id))))
        .bearer_auth(&admin.token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[test]
fn created_records_are_searchable_on_ringcx_and_in_the_portal_after_a_test() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;

        let (status, body) = admin
        .post(
            &pool_path(&id),
            json!({ "numbers": ["+1 317 555 0100", "+13175550101"], "description": "Web leads" }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(numbers_of(&body), ["+13175550100", "+13175550101"]);
        assert_eq!(audit_rows(&app, "SUCCESS").await, 1);

        let (status, body) = admin
            .get(&format!("{}?search=3175550", pool_path(&id)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(numbers_of(&body), ["+13175550100", "+13175550101"]);
        assert_eq!(body["total"], 2);
        assert_eq!(body["records"][0]["dnisDescription"], "Web leads");

        let (status, body) = admin
            .post(&pool_path(&id), json!({ "numbers": ["+13175550100"] }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "already in the pool: {body}");
        assert_eq!(audit_rows(&app, "FAILURE").await, 1, "a refusal is audited");

        let (status, body) = admin
            .post(
                &pool_path(&id),
                json!({ "numbers": ["12", "+13175550102"] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains("not phone numbers: 12"), "{body}");

        let test = test_connection(&admin, &id).await;
        assert_eq!(test["ok"], true, "{test}");
        assert_eq!(
            test["imported_numbers"], 22,
            "20 seeded + 2 created: {test}"
        );
        let agent = app.api("agent@globex.test").await;
        let (_, found) = agent
            .get("/api/v1/numbers/available?npa=317&limit=100")
            .await;
        let found: Vec<&str> = found["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        assert!(
            found.contains(&"+13175550100") && found.contains(&"+13175550101"),
            "{found:?}"
        );
    })
}

#[test]
fn an_uploaded_csv_is_reported_row_by_row_and_bulk_update_changes_records() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;

        let csv =
            "dnis,dnisDescription\n13175550200,Billboard\nnot-a-number,Bad row\n13175550201,\n";
        let (status, body) = upload(&app, &admin, &id, csv).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let report = &body["report"];
        assert_eq!(
            (
                report["totalRecords"].clone(),
                report["validRecords"].clone(),
                report["validated"].clone()
            ),
            (json!(3), json!(2), json!(true)),
            "{body}"
        );
        let errors = report["errorMessage"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        assert!(errors[0].as_str().unwrap().contains("not-a-number"));

        let sent = sim
            .faults
            .requests
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.path.ends_with("/tnManager/uploadDnisPool"))
            .map(|r| (r.query.clone(), r.body.to_string()))
            .unwrap();
        assert_eq!(sent.0, "fileType=COMMA");
        assert!(
            sent.1.contains("name=\\\"file\\\"") && sent.1.contains("13175550200,Billboard"),
            "a multipart `file` part: {}",
            sent.1
        );

        let (status, body) = upload(&app, &admin, &id, "  \n").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        let (_, body) = admin
            .get(&format!("{}?search=317555020", pool_path(&id)))
            .await;
        assert_eq!(numbers_of(&body), ["+13175550200", "+13175550201"]);
        assert_eq!(body["records"][0]["dnisDescription"], "Billboard");

        let (status, body) = admin
        .put(
            &format!("{}/bulk", pool_path(&id)),
            json!({ "numbers": ["+13175550200", "+13175550201"], "description": "Spring", "active": false }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["status"].clone(), body["updatedRows"].clone()),
            (json!("SUCCESS"), json!("2"))
        );
        let (_, body) = admin
            .get(&format!("{}?search=317555020", pool_path(&id)))
            .await;
        for record in body["records"].as_array().unwrap() {
            assert_eq!(record["dnisDescription"], "Spring", "{record}");
            assert_eq!(record["active"], false, "{record}");
        }

        let (status, body) = admin
            .put(
                &format!("{}/bulk", pool_path(&id)),
                json!({ "numbers": ["+13175559999"], "notes": "x" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not in the pool: {body}");
        let (status, body) = admin
            .put(
                &format!("{}/bulk", pool_path(&id)),
                json!({ "numbers": ["+13175550200"] }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing to change: {body}"
        );
        assert_eq!(
            audit_rows(&app, "SUCCESS").await,
            2,
            "upload and bulk update"
        );
    })
}

#[test]
fn tracking_groups_are_listed_and_take_new_numbers() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;
        let groups_path = format!("/api/v1/connections/{id}/ringcx/tracking-groups");

        let (status, body) = admin.get(&groups_path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["groups"][0]["groupName"], "Spring campaign");
        assert_eq!(
            body["groups"][0]["tracNumbers"][0]["description"],
            "Radio spot"
        );
        let group = body["groups"][0]["tracGroupId"].as_i64().unwrap();

        let (status, created) = admin
            .post(
                &format!("{groups_path}/{group}/numbers"),
                json!({ "description": "TV spot", "outbound_caller_id": "+13175550100" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created["tracId"].as_i64().is_some(), "{created}");
        let (_, body) = admin.get(&groups_path).await;
        let descriptions: Vec<&str> = body["groups"][0]["tracNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["description"].as_str().unwrap())
            .collect();
        assert_eq!(descriptions, ["Radio spot", "TV spot"]);

        let (status, _) = admin
            .post(
                &format!("{groups_path}/{group}/numbers"),
                json!({ "description": " " }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = admin
            .post(
                &format!("{groups_path}/999/numbers"),
                json!({ "description": "Nowhere" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
}

#[test]
fn refusals_platform_forbidden_other_platform_and_tenant_user() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;

        sim.set(|f| f.forbid = Some("POST /voice".into()));
        let (status, body) = admin
            .post(&pool_path(&id), json!({ "numbers": ["+13175550300"] }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(error_code(&body), "provider_forbidden", "{body}");
        let (status, _) = admin.get(&pool_path(&id)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "search is a POST too");
        sim.set(|f| f.forbid = None);
        assert!(
            !sim.state.lock().unwrap().pool.contains_key("13175550300"),
            "nothing was created"
        );

        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent.get(&pool_path(&id)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "tenant users may not");
        let (status, _) = agent
            .post(&pool_path(&id), json!({ "numbers": ["+13175550300"] }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, body) = admin
            .post("/api/v1/connections", json!({ "kind": "sandbox" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let sandbox = body["id"].as_str().unwrap();
        let (status, body) = admin.get(&pool_path(sandbox)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "not_ringcx", "{body}");
        let (status, body) = admin
            .get(&format!(
                "/api/v1/connections/{sandbox}/ringcx/tracking-groups"
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    })
}

#[test]
fn the_pool_page_searches_adds_and_uploads() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        setup(&app, &sim).await;
        let browser = app.browser("admin@globex.test").await;

        let (status, page) = browser.get("/settings/connection").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("/settings/connection/ringcx-pool"), "linked");
        let (status, page) = browser
            .get("/settings/connection/ringcx-pool?search=3173330100")
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("+13173330100") && page.contains("Spring campaign"),
            "{page}"
        );

        let r = browser
            .post_form(
                "/settings/connection/ringcx-pool/add",
                &[
                    ("numbers", "+13175550400\n+13175550401\n"),
                    ("description", ""),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(page.contains("Added 2 numbers"), "{page}");

        let form = reqwest::multipart::Form::new()
            .text("csrf", browser.csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"13175550500\nbad\n".to_vec())
                    .file_name("pool.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            );
        let r = browser
            .http
            .post(format!(
                "{}/settings/connection/ringcx-pool/upload",
                browser.base
            ))
            .header("x-csrf-token", browser.csrf.clone())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(page.contains("1 of 2 rows accepted"), "{page}");

        let agent = app.browser("agent@globex.test").await;
        let (status, _) = agent.get("/settings/connection/ringcx-pool").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    })
}

#[test]
fn pool_requests_match_ringcx_published_schemas() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;
        admin
            .post(
                &pool_path(&id),
                json!({ "numbers": ["+13175550600"], "description": "d" }),
            )
            .await;
        admin.get(&format!("{}?search=317", pool_path(&id))).await;
        admin
            .put(
                &format!("{}/bulk", pool_path(&id)),
                json!({ "numbers": ["+13175550600"], "notes": "n" }),
            )
            .await;
        upload(&app, &admin, &id, "13175550601\n").await;
        admin
            .post(
                &format!("/api/v1/connections/{id}/ringcx/tracking-groups/701/numbers"),
                json!({ "description": "TV" }),
            )
            .await;
        admin
            .get(&format!("/api/v1/connections/{id}/ringcx/tracking-groups"))
            .await;

        let spec: Value =
            serde_json::from_str(include_str!("../fixtures/providers/ringcx.subset.json")).unwrap();
        let schemas = &spec["components"]["schemas"];
        let check = |name: &str, body: &Value| {
            let props = schemas[name]["properties"].as_object().unwrap();
            for key in body.as_object().unwrap().keys() {
                assert!(props.contains_key(key), "{name} has no property `{key}`");
            }
        };
        let tn = "/voice/api/v1/admin/utilities/tnManager";
        let accounts = format!("/voice/api/v1/admin/accounts/{ACCOUNT_ID}");
        let requests = sim.faults.requests.lock().unwrap().clone();
        let sent = |method: &str, path: &str| {
            requests
                .iter()
                .find(|r| r.method == method && r.path == path)
                .unwrap_or_else(|| panic!("no {method} {path}"))
                .clone()
        };
        let declared = |path: &str, method: &str| -> Vec<String> {
            spec["paths"][path][method]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        };

        let create = sent("POST", &format!("{tn}/dnisPool"));
        let records = create.body.as_array().expect("a DnisPool array");
        assert_eq!(records[0]["dnis"], "13175550600");
        assert_eq!(
            records[0]["reservedAccountId"], ACCOUNT_ID,
            "owned by the account"
        );
        records.iter().for_each(|r| check("DnisPool", r));

        let search = sent("POST", &format!("{tn}/search"));
        check("TnManagerSearchCriteria", &search.body);
        assert_eq!(search.body["accountIds"], json!([ACCOUNT_ID]));
        let params = declared(&format!("{tn}/search"), "post");
        for (name, _) in url::form_urlencoded::parse(search.query.as_bytes()) {
            assert!(
                params.contains(&name.to_string()),
                "search takes no `{name}`"
            );
        }

        let bulk = sent("PUT", &format!("{tn}/updateBulkDnisPool"));
        let records = bulk.body.as_array().expect("a DnisPool array");
        records.iter().for_each(|r| check("DnisPool", r));
        assert_eq!(records[0]["notes"], "n");

        let upload = sent("POST", &format!("{tn}/uploadDnisPool"));
        let params = declared(&format!("{tn}/uploadDnisPool"), "post");
        for (name, _) in url::form_urlencoded::parse(upload.query.as_bytes()) {
            assert!(
                params.contains(&name.to_string()),
                "upload takes no `{name}`"
            );
        }

        let trac = sent("POST", &format!("{accounts}/tracGroups/701/tracNumbers"));
        check("TracNumber", &trac.body);
        assert_eq!(trac.body["description"], "TV");
        sent("GET", &format!("{accounts}/tracGroups/withChildren"));
    })
}

#[tokio::test]
async fn the_adapter_updates_one_record_pages_the_pool_and_lists_a_groups_numbers() {
    use inward::domain::E164;
    use inward::providers::http::OutboundPolicy;
    use inward::providers::ringcx::{RingCx, RingCxConfig, pool_record};
    use inward::providers::simulator::ringcx::{CLIENT_ID, CLIENT_SECRET};

    let sim = Sim::start(ringcx_with_state).await;
    let mut config = RingCxConfig::new(
        JWT.into(),
        CLIENT_ID.into(),
        CLIENT_SECRET.into(),
        ACCOUNT_ID.into(),
    );
    config.rc_base = sim.base.clone();
    config.ringcx_base = sim.base.clone();
    // The simulator listens on this machine.
    let policy = OutboundPolicy {
        allow: inward::outbound::Allowlist::parse(&["127.0.0.1".into()]).unwrap(),
        ..OutboundPolicy::default()
    };
    let ringcx = RingCx::new(config, policy);

    let first = ringcx.pool_search("1317333", 0, 15).await.unwrap();
    let second = ringcx.pool_search("1317333", 1, 15).await.unwrap();
    assert_eq!((first.records.len(), second.records.len()), (15, 5));
    assert_eq!(first.total, Some(20));
    assert_ne!(first.records[0]["dnis"], second.records[0]["dnis"]);

    let number = E164::parse("+13173330100").unwrap();
    let mut record = pool_record(ACCOUNT_ID, &number, Some("Front desk"));
    record["notes"] = json!("moved");
    let updated = ringcx.pool_update(&record).await.unwrap();
    assert_eq!(updated[0]["dnisDescription"], "Front desk");
    let found = ringcx.pool_search("13173330100", 0, 10).await.unwrap();
    assert_eq!(found.records[0]["notes"], "moved");

    let missing = pool_record(ACCOUNT_ID, &E164::parse("+13179990000").unwrap(), None);
    let err = ringcx.pool_update(&missing).await.unwrap_err();
    assert_eq!(
        err.kind,
        inward::providers::ProviderErrorKind::NotFound,
        "{err}"
    );

    let numbers = ringcx.tracking_numbers(701).await.unwrap();
    assert_eq!(numbers[0]["tracId"], 801);
}

/// RingCX creates are not idempotent: after a lost answer the adapter looks for what it
/// asked for (a pool record by its DNIS, a tracking number as the new one with its
/// description) instead of creating it again or reporting a failure for a record that exists.
#[test]
fn creates_whose_answer_was_lost_are_found_not_repeated() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = Sim::start(ringcx_with_state).await;
        let (admin, id) = setup(&app, &sim).await;

        let lose =
            |line: Option<&str>| sim.set(|f| f.lose_answer_matching = line.map(str::to_string));
        lose(Some(
            "POST /voice/api/v1/admin/utilities/tnManager/dnisPool",
        ));
        let (status, body) = admin
            .post(
                &pool_path(&id),
                json!({ "numbers": ["+13175550150"], "description": "Lost answer" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(numbers_of(&body), ["+13175550150"]);
        lose(None);
        let (_, found) = admin
            .get(&format!("{}?search=3175550150", pool_path(&id)))
            .await;
        assert_eq!(numbers_of(&found), ["+13175550150"], "created once");

        // The answer to a create that did not land is an error, and nothing is there.
        sim.set(|f| f.fail_next = 5);
        let (status, body) = admin
            .post(&pool_path(&id), json!({ "numbers": ["+13175550151"] }))
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        sim.set(|f| f.fail_next = 0);

        let groups_path = format!("/api/v1/connections/{id}/ringcx/tracking-groups");
        let (_, groups) = admin.get(&groups_path).await;
        let group = groups["groups"][0]["tracGroupId"].as_i64().unwrap();
        let count = |groups: &Value| groups["groups"][0]["tracNumbers"].as_array().unwrap().len();
        let before = count(&groups);
        lose(Some("POST /voice/api/v1/admin/accounts/"));
        let (status, created) = admin
            .post(
                &format!("{groups_path}/{group}/numbers"),
                json!({ "description": "Radio spot", "outbound_caller_id": "+13175550100" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["description"], "Radio spot");
        lose(None);
        let (_, groups) = admin.get(&groups_path).await;
        assert_eq!(count(&groups), before + 1, "one tracking number: {groups}");
        assert!(
            groups["groups"][0]["tracNumbers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["tracId"] == created["tracId"]),
            "{created} {groups}"
        );
    })
}
