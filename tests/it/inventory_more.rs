//! Inventory follow-ups: carriers (list, add, default, named by uploads), the reseller's
//! release through the lifecycle, the upload sweeper, and the reseller's own audit entries.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Api, TestApp, error_code, spawn_app};
use crate::inventory::{HEADER, run_upload};

fn carrier<'a>(list: &'a Value, kind: &str, name: &str) -> &'a Value {
    list["carriers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind && c["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} carrier {name} in {list}"))
}

async fn voice_carrier_of(app: &TestApp, e164: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT c.name FROM numbers n LEFT JOIN carriers c ON c.id = n.voice_carrier_id WHERE n.e164 = $1",
    )
    .bind(e164)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn second_reseller(app: &TestApp) -> Api {
    use inward::domain::policy::{OrgKind, Role};
    inward::admin::add_org(
        &app.pool,
        OrgKind::Reseller,
        "operator",
        "umbrella",
        "Umbrella",
    )
    .await
    .unwrap();
    inward::admin::add_user(
        &app.pool,
        "umbrella",
        Role::ResellerAdmin,
        "admin@umbrella.test",
        crate::common::PASSWORD,
    )
    .await
    .unwrap();
    app.api("admin@umbrella.test").await
}

#[test]
fn carriers_are_listed_added_made_default_and_named_by_uploads() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let operator = app.api("operator@inward.test").await;

        let (status, list) = reseller.get("/api/v1/inventory/carriers").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let sandbox = carrier(&list, "voice", "Sandbox Voice");
        assert_eq!(sandbox["effective_default"], true, "{list}");
        assert_eq!(
            sandbox["editable"], false,
            "a global carrier is the operator's"
        );

        // Bad input, then a new voice carrier of the reseller's own.
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/carriers",
                json!({ "kind": "fax", "name": "X" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/carriers",
                json!({ "kind": "voice", "name": "  " }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, acme_voice) = reseller
            .post(
                "/api/v1/inventory/carriers",
                json!({ "kind": "voice", "name": "Acme Voice" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{acme_voice}");
        assert_eq!(acme_voice["editable"], true);
        assert_eq!(acme_voice["effective_default"], false);
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/carriers",
                json!({ "kind": "voice", "name": "acme voice" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "carrier_exists");

        // Uploads accept the new name; an empty carrier column still gets the global default.
        let csv = format!(
            "{HEADER}1,5125550300,TRUE,FALSE,FALSE,Acme Voice,,\n1,5125550301,TRUE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(
            voice_carrier_of(&app, "+15125550300").await.as_deref(),
            Some("Acme Voice")
        );
        assert_eq!(
            voice_carrier_of(&app, "+15125550301").await.as_deref(),
            Some("Sandbox Voice")
        );

        // The reseller's own default wins over the global one for its next uploads.
        let id = acme_voice["id"].as_str().unwrap();
        let (status, body) = reseller
            .put(
                &format!("/api/v1/inventory/carriers/{id}/default"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["is_default"], true, "{body}");
        let (_, list) = reseller.get("/api/v1/inventory/carriers").await;
        assert_eq!(
            carrier(&list, "voice", "Acme Voice")["effective_default"],
            true
        );
        assert_eq!(
            carrier(&list, "voice", "Sandbox Voice")["effective_default"],
            false
        );
        let csv = format!("{HEADER}1,5125550302,TRUE,FALSE,FALSE,,,\n");
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(
            voice_carrier_of(&app, "+15125550302").await.as_deref(),
            Some("Acme Voice")
        );

        // A global carrier's default is the operator's; a malformed or unknown id is refused.
        let sandbox_id = carrier(&list, "voice", "Sandbox Voice")["id"]
            .as_str()
            .unwrap();
        let (status, body) = reseller
            .put(
                &format!("/api/v1/inventory/carriers/{sandbox_id}/default"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = reseller
            .put(
                &format!("/api/v1/inventory/carriers/{}/default", Uuid::new_v4()),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The operator adds global carriers, which every reseller sees but cannot edit; a second
        // reseller never sees Acme's own carrier.
        let (status, global) = operator
            .post(
                "/api/v1/inventory/carriers",
                json!({ "kind": "sms", "name": "Global SMS", "is_default": true }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{global}");
        assert_eq!(global["org_id"], Value::Null);
        let (_, list) = reseller.get("/api/v1/inventory/carriers").await;
        assert_eq!(
            carrier(&list, "sms", "Global SMS")["effective_default"],
            true
        );
        assert_eq!(
            carrier(&list, "sms", "Sandbox SMS")["effective_default"],
            false
        );
        let umbrella = second_reseller(&app).await;
        let (_, theirs) = umbrella.get("/api/v1/inventory/carriers").await;
        assert!(
            !theirs.to_string().contains("Acme Voice"),
            "another reseller's carrier leaked: {theirs}"
        );
        let (status, body) = umbrella
            .put(
                &format!("/api/v1/inventory/carriers/{id}/default"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        // Tenants do not manage carriers.
        let (status, _) = app
            .api("admin@globex.test")
            .await
            .get("/api/v1/inventory/carriers")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Audited with the acting organization.
        let acme: Uuid = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'acme'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE org_id = $1 AND action LIKE 'CARRIER_%' ORDER BY id",
    )
    .bind(acme)
    .fetch_all(&app.pool)
    .await
    .unwrap();
        assert_eq!(audited, ["CARRIER_CREATE", "CARRIER_DEFAULT"]);
    })
}

#[test]
fn reseller_release_goes_through_the_lifecycle() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv =
            format!("{HEADER}1,5125550310,TRUE,FALSE,FALSE,,,\n1,5125550311,TRUE,FALSE,FALSE,,,\n");
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let globex = app.tenant_id("globex").await;
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": ["+15125550310", "+15125550311"], "tenant_id": globex }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A number caught mid-provisioning: Globex reserved it and its saga is running.
        let (status, body) = app
            .api("agent@globex.test")
            .await
            .reserve(&["+15125550311".to_string()])
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sqlx::query("UPDATE numbers SET lifecycle = 'provisioning' WHERE e164 = '+15125550311'")
            .execute(&app.pool)
            .await
            .unwrap();

        let (status, body) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "numbers": ["+15125550310", "+15125550311"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "illegal_transition", "{body}");
        let message = body.to_string();
        assert!(
            message.contains("+15125550311") && message.contains("provisioning"),
            "{body}"
        );
        assert_eq!(app.number_state("+15125550310").await, "available");
        assert_eq!(app.number_state("+15125550311").await, "provisioning");

        // By filter: the legal one is released, the provisioning one left as it is.
        let (status, summary) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "filter": { "q": "51255503" }, "dry_run": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["to_release"], 1, "{summary}");
        assert_eq!(
            summary["illegal_state_numbers"],
            json!(["+15125550311 provisioning"])
        );
        let (status, summary) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "filter": { "q": "51255503" } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["released"], 1, "{summary}");
        assert_eq!(app.number_state("+15125550310").await, "released");
        assert_eq!(app.number_state("+15125550311").await, "provisioning");
        let allocated: Option<Uuid> = sqlx::query_scalar(
            "SELECT allocated_tenant_id FROM numbers WHERE e164 = '+15125550311'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            allocated,
            Some(globex),
            "the refused number keeps its allocation"
        );
        assert_eq!(
            app.audit_count("+15125550310", "RELEASE", "SUCCESS").await,
            1
        );
        assert_eq!(
            app.audit_count("+15125550311", "RELEASE", "SUCCESS").await,
            0
        );
    })
}

async fn insert_job(
    app: &TestApp,
    status: &str,
    updated_ago: &str,
    finished_ago: Option<&str>,
) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO inventory_uploads (id, org_id, user_id, mode, dry_run, status, updated_at, finished_at)
         SELECT $1, u.org_id, u.id, 'all_or_nothing', false, $2, now() - $3::interval, now() - $4::interval
         FROM users u WHERE u.email = 'reseller@acme.test'",
    )
    .bind(id)
    .bind(status)
    .bind(updated_ago)
    .bind(finished_ago)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO inventory_upload_rows (upload_id, line_no, field_count, country_code, phone)
         VALUES ($1, 2, 8, '1', '5125550320'), ($1, 3, 8, '1', '5125550321')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO inventory_upload_checked (upload_id, line_no, action, e164)
         VALUES ($1, 2, 'add', '+15125550320'), ($1, 3, 'add', '+15125550321')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn checked_rows(app: &TestApp, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inventory_upload_checked WHERE upload_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn job_state(app: &TestApp, id: Uuid) -> (String, Option<String>, i64) {
    sqlx::query_as(
        "SELECT status, error, (SELECT count(*) FROM inventory_upload_rows WHERE upload_id = $1)
         FROM inventory_uploads WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[test]
fn the_sweeper_fails_stalled_uploads_and_cleans_old_staging() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let stalled = insert_job(&app, "validating", "11 minutes", None).await;
        let stalled_import = insert_job(&app, "importing", "3 hours", Some("3 hours")).await;
        let moving = insert_job(&app, "validating", "2 minutes", None).await;
        let old_done = insert_job(&app, "completed", "25 hours", Some("25 hours")).await;
        let recent_done = insert_job(&app, "completed", "1 hour", Some("1 hour")).await;
        let old_validated = insert_job(&app, "validated", "30 hours", Some("30 hours")).await;

        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.uploads.stale_failed, 2, "{report:?}");
        assert_eq!(report.uploads.staging_cleaned, 2, "{report:?}");

        for id in [stalled, stalled_import] {
            let (status, error, rows) = job_state(&app, id).await;
            assert_eq!(status, "failed");
            assert_eq!(
                error.as_deref(),
                Some(inward::inventory::upload::STALE_MESSAGE)
            );
            assert_eq!(rows, 0, "staging rows of a failed upload are deleted");
            assert_eq!(checked_rows(&app, id).await, 0, "and its validation result");
        }
        assert_eq!(checked_rows(&app, moving).await, 2);
        assert_eq!(
            job_state(&app, moving).await,
            ("validating".into(), None, 2)
        );
        assert_eq!(
            job_state(&app, old_done).await,
            ("completed".into(), None, 0)
        );
        assert_eq!(
            job_state(&app, recent_done).await,
            ("completed".into(), None, 2)
        );
        let (status, error, rows) = job_state(&app, old_validated).await;
        assert_eq!((status.as_str(), rows), ("failed", 0));
        assert!(error.unwrap().contains("not imported"));
        assert_eq!(checked_rows(&app, old_validated).await, 0);
        let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'UPLOAD' AND status = 'FAILURE' AND target_id = $1",
    )
    .bind(stalled.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(failures, 1);

        // A second run finds nothing more to do.
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.uploads, Default::default());
    })
}

#[test]
fn a_reseller_sees_its_own_upload_entries_and_not_another_resellers() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let acme = app.api("reseller@acme.test").await;
        let umbrella = second_reseller(&app).await;
        let mine = run_upload(
            &acme,
            &format!("{HEADER}1,5125550330,TRUE,FALSE,FALSE,,,\n"),
            "all_or_nothing",
            false,
        )
        .await;
        let theirs = run_upload(
            &umbrella,
            &format!("{HEADER}1,5125550331,TRUE,FALSE,FALSE,,,\n"),
            "all_or_nothing",
            false,
        )
        .await;
        assert_eq!(mine["status"], "completed", "{mine}");
        assert_eq!(theirs["status"], "completed", "{theirs}");

        let uploads = |body: &Value| -> Vec<String> {
            body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "UPLOAD")
                .map(|e| e["target_id"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let (status, body) = acme.get("/api/v1/audit?action=UPLOAD").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(uploads(&body), [mine["id"].as_str().unwrap()], "{body}");
        let acme_id: Uuid = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'acme'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(body["entries"][0]["org_id"], json!(acme_id), "{body}");
        let (status, body) = umbrella.get("/api/v1/audit?action=UPLOAD").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(uploads(&body), [theirs["id"].as_str().unwrap()], "{body}");
        // Tenants still see only their own entries; the operator sees both.
        let (_, body) = app
            .api("admin@globex.test")
            .await
            .get("/api/v1/audit?action=UPLOAD")
            .await;
        assert!(uploads(&body).is_empty(), "{body}");
        let (_, body) = app
            .api("operator@inward.test")
            .await
            .get("/api/v1/audit?action=UPLOAD")
            .await;
        assert_eq!(uploads(&body).len(), 2, "{body}");
    })
}

#[test]
fn the_carriers_page_lists_adds_and_sets_the_default() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("reseller@acme.test").await;
        let (status, page) = browser.get("/inventory").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("/inventory/carriers"),
            "inventory links to carriers"
        );
        let (status, page) = browser.get("/inventory/carriers").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Sandbox Voice") && page.contains("Sandbox SMS"));

        let r = browser
            .post_form(
                "/inventory/carriers",
                &[
                    ("kind", "sms"),
                    ("name", "Acme Texts"),
                    ("is_default", "true"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, page) = browser.get("/inventory/carriers?notice=added").await;
        assert!(
            page.contains("Acme Texts") && page.contains("Carrier added."),
            "{page}"
        );
        let (own, default): (Option<Uuid>, bool) =
            sqlx::query_as("SELECT org_id, is_default FROM carriers WHERE name = 'Acme Texts'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(own.is_some() && default);

        // A duplicate answers the page again with the reason; nothing is added.
        let r = browser
            .post_form(
                "/inventory/carriers",
                &[("kind", "sms"), ("name", "ACME TEXTS")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("carrier-error") && page.contains("already exists"),
            "{page}"
        );

        // Another own carrier, then made the default from the page.
        browser
            .post_form(
                "/inventory/carriers",
                &[("kind", "sms"), ("name", "Acme Bulk")],
            )
            .await;
        let bulk: Uuid = sqlx::query_scalar("SELECT id FROM carriers WHERE name = 'Acme Bulk'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let r = browser
            .post_form(&format!("/inventory/carriers/{bulk}/default"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let defaults: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM carriers WHERE org_id IS NOT NULL AND kind = 'sms' AND is_default",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(defaults, ["Acme Bulk"]);

        let (status, _) = app
            .browser("admin@globex.test")
            .await
            .get("/inventory/carriers")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    })
}

#[test]
fn the_inventory_shows_each_numbers_cnam_and_e911_as_its_tenant_set_them() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let (with, without) = (&numbers[0], &numbers[1]);
        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{with}/cnam"),
                json!({ "name": "Globex Sales" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin
            .put(
                &format!("/api/v1/numbers/{with}/e911"),
                json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The demo's numbers are the operator's stock.
        let stock = app.api("operator@inward.test").await;
        let row = |e164: &str| {
            let (stock, e164) = (&stock, e164.to_string());
            async move {
                let (_, list) = stock
                    .get(&format!("/api/v1/inventory?q={}", &e164[2..]))
                    .await;
                list["numbers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["e164"] == e164.as_str())
                    .unwrap_or_else(|| panic!("{e164} in {list}"))
                    .clone()
            }
        };
        let shown = row(with).await;
        assert_eq!(shown["cnam"], "Globex Sales", "{shown}");
        assert_eq!(shown["e911_status"], "pending", "{shown}");
        let shown = row(without).await;
        assert_eq!(shown["cnam"], Value::Null, "{shown}");
        assert_eq!(shown["e911_status"], "not_set", "{shown}");
        // The E911 filter picks by that status.
        let (_, pending) = stock.get("/api/v1/inventory?e911=pending").await;
        let pending: Vec<&str> = pending["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        assert_eq!(pending, [with.as_str()]);
        let (_, not_set) = stock
            .get(&format!(
                "/api/v1/inventory?e911=not_set&q={}",
                &without[2..]
            ))
            .await;
        assert_eq!(not_set["numbers"][0]["e164"], without.as_str(), "{not_set}");
        let (_, unset) = stock
            .get(&format!("/api/v1/inventory?e911=not_set&q={}", &with[2..]))
            .await;
        assert_eq!(unset["numbers"], json!([]), "{unset}");
        let (status, body) = stock.get("/api/v1/inventory?e911=validated").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        let page = app.browser("operator@inward.test").await;
        let (_, html) = page.get(&format!("/inventory?q={}", &with[2..])).await;
        let cells = html
            .split(&format!("data-number=\"{with}\""))
            .nth(1)
            .expect("the row");
        let cells = &cells[..cells.find("</tr>").unwrap()];
        assert!(
            cells.contains("Globex Sales") && cells.contains(">Pending<"),
            "{cells}"
        );
        let (_, csv) = page.get("/inventory/export.csv").await;
        let line = csv
            .lines()
            .find(|l| l.contains(&with[2..]))
            .expect("exported");
        assert!(
            line.contains("Globex Sales") && line.contains("Pending"),
            "{line}"
        );
    })
}

#[test]
fn resellers_and_the_operator_land_on_the_inventory() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        for email in ["reseller@acme.test", "operator@inward.test"] {
            let page = app.browser(email).await;
            let landed = page.http.get(app.url("/")).send().await.unwrap();
            assert_eq!(landed.headers()["location"], "/inventory", "{email}");
        }
        let tenant = app.browser("agent@globex.test").await;
        let landed = tenant.http.get(app.url("/")).send().await.unwrap();
        assert_eq!(landed.headers()["location"], "/search");
    })
}
