//! Reconciliation against each platform's simulator: the simulator is drifted behind Inward's
//! back (as an admin in the platform's own console would), a run must report exactly those
//! differences, and each action must clear its row and make both sides agree.

use std::collections::BTreeMap;

use inward::providers::simulator::{cxone_with_state, genesys_with_state, ringcx_with_state};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp};
use crate::genesys::app_with_key;

/// Runs reconciliation for the admin's tenant; the differences by number: (class, actions).
async fn run(admin: &Api) -> BTreeMap<String, (String, Vec<String>)> {
    let (status, body) = admin.post("/api/v1/drift/run", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, listed) = admin.get("/api/v1/drift").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["differences"], body["differences"]);
    listed["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["number"].as_str().unwrap().to_string(),
                (
                    d["class"].as_str().unwrap().to_string(),
                    d["actions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                ),
            )
        })
        .collect()
}

fn expected(rows: &[(&str, &str, &[&str])]) -> BTreeMap<String, (String, Vec<String>)> {
    rows.iter()
        .map(|(n, class, actions)| {
            (
                n.to_string(),
                (
                    class.to_string(),
                    actions.iter().map(|a| a.to_string()).collect(),
                ),
            )
        })
        .collect()
}

/// One action on one number; its outcome.
async fn act(admin: &Api, action: &str, number: &str) -> Value {
    let (status, body) = admin
        .post(
            "/api/v1/drift/actions",
            json!({ "action": action, "numbers": [number] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"][0].clone()
}

async fn target_of(admin: &Api, number: &str) -> (String, String) {
    let (status, body) = admin.get(&format!("/api/v1/numbers/{number}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let n = if body["number"].is_object() {
        &body["number"]
    } else {
        &body
    };
    (
        n["state"].as_str().unwrap_or_default().to_string(),
        n["target"]["id"]
            .as_str()
            .or(n["target_id"].as_str())
            .unwrap_or_default()
            .to_string(),
    )
}

async fn no_drift_left(app: &TestApp, admin: &Api) {
    assert!(run(admin).await.is_empty(), "both sides agree");
    let tenant = app.tenant_id("globex").await;
    let found = crate::common::as_jobs(inward::drift::compare_tenant(
        &app.state,
        inward::domain::TenantId(tenant),
    ))
    .await
    .unwrap();
    assert!(found.drift.is_empty(), "{:?}", found.drift);
}

#[test]
fn genesys_drift_is_found_number_by_number_and_each_action_clears_its_row() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = crate::genesys::Sim::start(genesys_with_state).await;
        let (admin, agent) = crate::genesys::connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 4).await;
        let (queue_call, user, ivr) = (&found[0], &found[1], &found[2]);
        let in_stock = &found[3];
        let sales = sim.id_of("queue", "Sales");
        let ada = sim.id_of("user", "Ada Lovelace");
        let main = sim.id_of("ivr", "Main Menu");
        for (n, target) in [
            (queue_call, json!({ "type": "queue", "id": sales })),
            (user, json!({ "type": "extension", "id": ada })),
            (ivr, json!({ "type": "ivr", "id": main })),
        ] {
            let (status, body) = crate::genesys::provision(&agent, n, target).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert!(run(&admin).await.is_empty(), "nothing has drifted yet");

        // Behind Inward's back: the call route carrying Sales is deleted, Ada loses her
        // number, Main Menu's number moves to Support's call route, the stock number is
        // routed to Main Menu, and a DID Inward never saw is routed to Support.
        let unknown = "+13172229999";
        let sales_route = sim.id_of("ivr", "Sales");
        let support_route = sim.id_of("ivr", "Support");
        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/ivr/{sales_route}", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        {
            let mut data = sim.state.lock().unwrap();
            data.users.get_mut(&ada).unwrap()["addresses"] = json!([]);
            data.ivrs.get_mut(&main).unwrap()["dnis"] = json!([in_stock]);
            data.ivrs.get_mut(&support_route).unwrap()["dnis"] = json!([ivr, unknown]);
            data.dids.push(unknown.to_string());
        }
        assert_eq!(
            run(&admin).await,
            expected(&[
                (queue_call, "target_gone", &["release"]),
                (user, "unrouted", &["apply", "release"]),
                (ivr, "different_target", &["apply", "adopt", "release"]),
                (in_stock, "routed_not_active", &["apply"]),
                (unknown, "unknown", &["apply", "adopt"]),
            ])
        );
        assert_eq!(
            app.number_state(queue_call).await,
            "orphaned",
            "a target gone is an orphan"
        );
        let (_, listed) = admin.get("/api/v1/drift").await;
        assert_eq!(listed["last_run"]["counts"]["unrouted"], 1, "{listed}");
        assert_eq!(listed["last_run"]["error"], Value::Null);

        // Only tenant admins see or act on drift.
        assert_eq!(agent.get("/api/v1/drift").await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            agent
                .post(
                    "/api/v1/drift/actions",
                    json!({ "action": "apply", "numbers": [user] })
                )
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        // An action a row does not offer is refused for that number alone.
        let refused = act(&admin, "release", unknown).await;
        assert_eq!(refused["ok"], false, "{refused}");
        assert_eq!(refused["error"]["code"], "action_not_offered", "{refused}");

        let done = act(&admin, "release", queue_call).await;
        assert_eq!(done["ok"], true, "{done}");
        assert_eq!(app.number_state(queue_call).await, "released");

        assert_eq!(act(&admin, "apply", user).await["ok"], true);
        assert_eq!(sim.owner(user), Some((ada.clone(), "USER")));

        assert_eq!(act(&admin, "adopt", ivr).await["ok"], true);
        let support = sim.id_of("queue", "Support");
        assert_eq!(target_of(&admin, ivr).await, ("active".into(), support));
        assert_eq!(sim.owner(ivr), Some((support_route.clone(), "IVR_CONFIG")));

        assert_eq!(act(&admin, "apply", in_stock).await["ok"], true);
        assert_eq!(sim.owner(in_stock), None, "unrouted on the platform");
        assert_eq!(app.number_state(in_stock).await, "available");

        assert_eq!(act(&admin, "adopt", unknown).await["ok"], true);
        assert_eq!(app.number_state(unknown).await, "active");
        assert_eq!(
            app.audit_count(unknown, "RECONCILE", "SUCCESS").await,
            1,
            "each action is audited"
        );
        no_drift_left(&app, &admin).await;
    })
}

#[test]
fn cxone_drift_is_found_and_cleared() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = crate::cxone::Sim::start(cxone_with_state).await;
        let agent = crate::cxone::connected(&app, &sim).await;
        let admin = app.api("admin@globex.test").await;
        let found = agent.find("npa=303&limit=10", 3).await;
        let (sales_call, billing_call, in_stock) = (&found[0], &found[1], &found[2]);
        for (n, skill) in [(sales_call, "4001"), (billing_call, "4003")] {
            let (status, body) =
                crate::cxone::provision(&agent, n, json!({ "type": "queue", "id": skill })).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert!(run(&admin).await.is_empty(), "nothing has drifted yet");

        // In CXone's console: the Sales point of contact is switched off, Billing's moves to
        // Support, the stock number gets a point of contact, and one Inward never saw too.
        let unknown = "+13035559999";
        {
            let mut data = sim.state.lock().unwrap();
            let mut next = data.contacts.keys().max().copied().unwrap_or(0) + 1;
            for poc in data.contacts.values_mut() {
                if poc["contactAddress"] == sales_call.as_str() {
                    poc["isActive"] = json!(false);
                }
                if poc["contactAddress"] == billing_call.as_str() {
                    poc["defaultSkillId"] = json!(4002);
                }
            }
            for number in [in_stock.as_str(), unknown] {
                data.contacts.insert(
                    next,
                    json!({ "contactCode": next, "contactAddress": number, "contactDescription": "console",
                            "defaultSkillId": 4001, "scriptName": "Main IVR", "isActive": true, "mediaTypeId": 4 }),
                );
                next += 1;
            }
        }
        assert_eq!(
            run(&admin).await,
            expected(&[
                (sales_call, "unrouted", &["apply", "release"]),
                (
                    billing_call,
                    "different_target",
                    &["apply", "adopt", "release"]
                ),
                (in_stock, "routed_not_active", &["apply"]),
                (unknown, "unknown", &["apply", "adopt"]),
            ])
        );
        assert_eq!(act(&admin, "apply", sales_call).await["ok"], true);
        assert_eq!(sim.route(sales_call), Some((4001, "Main IVR".into())));
        assert_eq!(act(&admin, "apply", billing_call).await["ok"], true);
        assert_eq!(sim.route(billing_call), Some((4003, "Main IVR".into())));
        assert_eq!(act(&admin, "apply", in_stock).await["ok"], true);
        assert_eq!(sim.route(in_stock), None);
        assert_eq!(act(&admin, "adopt", unknown).await["ok"], true);
        assert_eq!(
            target_of(&admin, unknown).await,
            ("active".into(), "4001".into())
        );
        no_drift_left(&app, &admin).await;

        // A skill deleted in CXone: its numbers' target is gone, and they are orphans.
        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/queue/4003", sim.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let drift = run(&admin).await;
        assert_eq!(drift[billing_call.as_str()].0, "target_gone", "{drift:?}");
        assert_eq!(app.number_state(billing_call).await, "orphaned");
        assert_eq!(act(&admin, "release", billing_call).await["ok"], true);
        assert_eq!(app.number_state(billing_call).await, "released");
        no_drift_left(&app, &admin).await;
    })
}

#[test]
fn ringcx_drift_is_found_and_cleared() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = crate::ringcx::Sim::start(ringcx_with_state).await;
        let (admin, agent) = crate::ringcx::connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 4).await;
        let (sales_call, support_call, menu_call, in_stock) =
            (&found[0], &found[1], &found[2], &found[3]);
        let sales = sim.id_of("queue", "Sales");
        let support = sim.id_of("queue", "Support");
        for (n, target) in [
            (sales_call, json!({ "type": "queue", "id": sales })),
            (support_call, json!({ "type": "queue", "id": support })),
            (
                menu_call,
                json!({ "type": "ivr", "id": sim.id_of("ivr", "Main Menu") }),
            ),
        ] {
            let (status, body) = crate::ringcx::provision(&agent, n, target).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert!(run(&admin).await.is_empty(), "nothing has drifted yet");

        // In RingCX's console: Sales' number is unassigned, Support's moves to Sales, the
        // stock number goes to Support, and a number Inward never saw is added and assigned.
        let unknown = "+13173339999";
        {
            let mut data = sim.state.lock().unwrap();
            data.pool
                .insert(sales_call.trim_start_matches('+').to_string(), None);
            let sales: i64 = sales.parse().unwrap();
            let support: i64 = support.parse().unwrap();
            data.assign_directly(support_call, "gate", sales);
            data.assign_directly(in_stock, "gate", support);
            data.pool
                .insert(unknown.trim_start_matches('+').to_string(), None);
            data.assign_directly(unknown, "gate", sales);
        }
        assert_eq!(
            run(&admin).await,
            expected(&[
                (sales_call, "unrouted", &["apply", "release"]),
                (
                    support_call,
                    "different_target",
                    &["apply", "adopt", "release"]
                ),
                (in_stock, "routed_not_active", &["apply"]),
                (unknown, "unknown", &["apply", "adopt"]),
            ])
        );
        assert_eq!(act(&admin, "release", sales_call).await["ok"], true);
        assert_eq!(app.number_state(sales_call).await, "released");
        assert_eq!(act(&admin, "adopt", support_call).await["ok"], true);
        assert_eq!(
            target_of(&admin, support_call).await,
            ("active".into(), sales.clone())
        );
        assert_eq!(act(&admin, "apply", in_stock).await["ok"], true);
        assert_eq!(sim.owner(in_stock), None);
        assert_eq!(act(&admin, "apply", unknown).await["ok"], true);
        assert_eq!(sim.owner(unknown), None, "unrouted, not adopted");
        no_drift_left(&app, &admin).await;

        // The gate Sales is deleted in RingCX: the number Inward routes to it has lost its
        // target, is orphaned, and releasing it clears the row.
        let r = reqwest::Client::new()
            .delete(format!("{}/__sim/targets/gate/{sales}", sim.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let drift = run(&admin).await;
        assert_eq!(drift[support_call.as_str()].0, "target_gone", "{drift:?}");
        assert_eq!(app.number_state(support_call).await, "orphaned");
        assert_eq!(act(&admin, "release", support_call).await["ok"], true);
        assert_eq!(app.number_state(support_call).await, "released");
        no_drift_left(&app, &admin).await;
    })
}

#[test]
fn the_drift_page_lists_differences_and_resolves_them_in_bulk() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = crate::genesys::Sim::start(genesys_with_state).await;
        let (_, agent) = crate::genesys::connected(&app, &sim).await;
        let found = agent.find("npa=317&limit=10", 2).await;
        let main = sim.id_of("ivr", "Main Menu");
        sim.state.lock().unwrap().ivrs.get_mut(&main).unwrap()["dnis"] = json!(found);

        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser.get("/drift").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Not checked yet"), "{page}");
        let r = browser.post_form("/drift/run", &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Checked 2 numbers against the platform: 2 differences."),
            "{page}"
        );
        assert!(page.contains("Routed on the platform, not active in Inward"));

        // A bulk action with nothing ticked says so, inside the page.
        let r = browser
            .post_form("/drift/act", &[("action", "apply")])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("choose at least one number")
        );

        let r = browser
            .post_form(
                "/drift/act",
                &[
                    ("action", "apply"),
                    ("number", &found[0]),
                    ("number", &found[1]),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(page.contains("2 numbers resolved"), "{page}");
        assert!(page.contains("id=\"no-drift\""), "{page}");
        assert_eq!(sim.owner(&found[0]), None);
        assert_eq!(sim.owner(&found[1]), None);

        // Tenant users are refused the page.
        let user = app.browser("agent@globex.test").await;
        assert_eq!(user.get("/drift").await.0, StatusCode::FORBIDDEN);
    })
}

/// Reconciliation reads every page of the platform's DIDs: 250 DIDs routed behind Inward's
/// back, read in pages of 100, are each reported.
#[test]
fn genesys_reconciliation_reads_every_page_of_dids() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let sim = crate::genesys::Sim::start(genesys_with_state).await;
        let (admin, _) = crate::genesys::connected(&app, &sim).await;
        let support_route = sim.id_of("ivr", "Support");
        let routed: Vec<String> = (0..250).map(|i| format!("+1317444{i:04}")).collect();
        {
            let mut data = sim.state.lock().unwrap();
            data.dids.extend(routed.iter().cloned());
            data.ivrs.get_mut(&support_route).unwrap()["dnis"] = json!(routed);
        }
        let pages_before = sim.count("GET", "/api/v2/telephony/providers/edges/dids");
        let found = run(&admin).await;
        assert_eq!(found.len(), 250, "{found:?}");
        assert!(found.values().all(|(class, _)| class == "unknown"));
        assert!(found.contains_key("+13174440249"), "the last page too");
        let pages = sim.count("GET", "/api/v2/telephony/providers/edges/dids") - pages_before;
        assert!(pages >= 3, "{pages} pages of DIDs");
    })
}
