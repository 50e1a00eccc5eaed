//! Switching a tenant from one platform to another while numbers are routed: the switch says
//! how many numbers it affects and wants a confirmation, and re-applying routes each number
//! to the namesake of its target on the new platform, over real HTTP to both simulators.

use inward::providers::simulator::cxone::{
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, CLIENT_ID, CLIENT_SECRET,
};
use inward::providers::simulator::{cxone_with_state, genesys_with_state};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::genesys::app_with_key;

fn cxone(base: &str, confirm: bool) -> Value {
    json!({
        "kind": "cxone", "base_url": base, "confirm_switch": confirm,
        "credentials": {
            "access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "default_script": "Main IVR", "default_skill_id": "4002",
        },
    })
}

#[test]
fn a_platform_switch_is_confirmed_then_routing_is_reapplied_by_target_name() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let genesys = crate::genesys::Sim::start(genesys_with_state).await;
        let cx = crate::cxone::Sim::start(cxone_with_state).await;
        let (admin, agent) = crate::genesys::connected(&app, &genesys).await;
        let found = agent.find("npa=317&limit=10", 2).await;
        let (sales_number, menu_number) = (&found[0], &found[1]);
        let sales = genesys.id_of("queue", "Sales");
        let menu = genesys.id_of("ivr", "Main Menu");
        for (n, target) in [
            (sales_number, json!({ "type": "queue", "id": sales })),
            (menu_number, json!({ "type": "ivr", "id": menu })),
        ] {
            let (status, body) = crate::genesys::provision(&agent, n, target).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }

        // The numbers' carrier serves the new platform too.
        cx.state
            .lock()
            .unwrap()
            .numbers
            .extend([sales_number.clone(), menu_number.clone()]);

        // Not without a confirmation, and nothing changes.
        let (status, refused) = admin
            .post("/api/v1/connections", cxone(&cx.base, false))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(refused["error"]["code"], "switch_affects_numbers");
        assert_eq!(refused["error"]["details"]["affected_numbers"], 2);
        assert_eq!(
            refused["error"]["details"]["confirm_with"], "confirm_switch",
            "the refusal names how to confirm"
        );
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("2 routed numbers are routed on genesys"),
            "{message}"
        );
        let (_, listed) = admin.get("/api/v1/connections").await;
        assert_eq!(listed["connections"][0]["kind"], "genesys", "{listed}");
        assert!(cx.count("POST", "/points-of-contact") == 0);

        // Only an admin may re-apply.
        let (status, _) = agent.post("/api/v1/connections/reapply", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, saved) = admin
            .post("/api/v1/connections", cxone(&cx.base, true))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{saved}");
        assert_eq!(saved["affected_numbers"], 2, "{saved}");

        // CXone has a skill named Sales, and no script named Main Menu.
        let (status, report) = admin.post("/api/v1/connections/reapply", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["routed"], 1, "{report}");
        assert_eq!(report["no_matching_target"], 1, "{report}");
        assert_eq!(report["failed"], 0, "{report}");
        let unmatched = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["outcome"] == "no_matching_target")
            .unwrap();
        assert_eq!(unmatched["number"], menu_number.as_str());
        assert!(
            unmatched["message"].as_str().unwrap().contains("Main Menu"),
            "{unmatched}"
        );
        let (skill, _) = cx.route(sales_number).expect("routed on CXone");
        assert_eq!(skill, 4001, "the skill named Sales");
        assert_eq!(cx.route(menu_number), None);
        let (_, shown) = agent.get(&format!("/api/v1/numbers/{sales_number}")).await;
        let shown = if shown["number"].is_object() {
            &shown["number"]
        } else {
            &shown
        };
        assert_eq!(shown["state"], "active", "{shown}");
        assert_eq!(shown["target"]["id"], "4001", "{shown}");
        assert_eq!(app.audit_count(sales_number, "CONNECT", "SUCCESS").await, 1);
        assert_eq!(app.audit_count(menu_number, "CONNECT", "FAILURE").await, 1);

        // New credentials for the same account are no switch.
        let (status, again) = admin
            .post("/api/v1/connections", cxone(&cx.base, false))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert_eq!(again["affected_numbers"], 0);

        // Deleting the connection moves the tenant to the sandbox: confirmed, too.
        let id = again["id"].as_str().unwrap();
        let (status, refused) = admin.delete(&format!("/api/v1/connections/{id}")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(refused["error"]["code"], "switch_affects_numbers");
        let (status, _) = admin
            .delete(&format!("/api/v1/connections/{id}?confirm_switch=true"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    })
}

#[test]
fn the_connection_page_warns_asks_and_reapplies() {
    crate::db::db_test(|pool| async move {
        let app = app_with_key(pool).await;
        let cx = crate::cxone::Sim::start(cxone_with_state).await;
        let api = app.api("admin@globex.test").await;
        // On the sandbox, one number routed to the Sales queue.
        let numbers = api.provisioned(1).await;
        cx.state.lock().unwrap().numbers.push(numbers[0].clone());
        let page = app.browser("admin@globex.test").await;
        let (_, shown) = page.get("/settings/connection").await;
        assert!(shown.contains("id=\"confirm_switch\""), "{shown}");
        assert!(shown.contains("1 routed number."), "{shown}");

        let fields = [
            ("kind", "cxone"),
            ("base_url", cx.base.as_str()),
            ("cred_access_key_id", ACCESS_KEY_ID),
            ("cred_access_key_secret", ACCESS_KEY_SECRET),
            ("cred_client_id", CLIENT_ID),
            ("cred_client_secret", CLIENT_SECRET),
            ("cred_default_script", "Main IVR"),
        ];
        let refused = page.post_form("/settings/connection", &fields).await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        let body = refused.text().await.unwrap();
        assert!(body.contains("id=\"connection-error\""), "{body}");
        assert!(
            body.contains("1 routed number is routed on sandbox"),
            "{body}"
        );

        let mut confirmed = fields.to_vec();
        confirmed.push(("confirm_switch", "on"));
        let saved = page.post_form("/settings/connection", &confirmed).await;
        assert!(saved.status().is_redirection(), "{}", saved.status());
        assert_eq!(
            saved.headers()["location"],
            "/settings/connection?switched=1"
        );
        let (_, shown) = page.get("/settings/connection?switched=1").await;
        assert!(shown.contains("id=\"switched\""), "{shown}");

        let done = page.post_form("/settings/connection/reapply", &[]).await;
        assert_eq!(done.status(), StatusCode::OK);
        let body = done.text().await.unwrap();
        assert!(body.contains("Routing re-applied: 1 routed, 0"), "{body}");
        assert_eq!(cx.route(&numbers[0]).map(|(skill, _)| skill), Some(4001));
    })
}
