//! Reseller inventory: uploads (every kind of bad row, modes, dry run, re-upload), allocation
//! and release, delete rules, export, and tenant isolation on every inventory route.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code, spawn_app};

pub const HEADER: &str =
    "Country Code,Phone Number,Voice,SMS,Fax,Voice Carrier Name,SMS Carrier Profile,Tenant\n";

fn multipart(csv: &[u8], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "inward-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"numbers.csv\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload(api: &Api, csv: &[u8], mode: &str, dry_run: bool) -> (StatusCode, Value) {
    let dry = dry_run.to_string();
    let (content_type, body) = multipart(csv, &[("mode", mode), ("dry_run", &dry)]);
    let r = api
        .http
        .post(format!("{}/api/v1/inventory/uploads", api.base))
        .bearer_auth(&api.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Polls the job until it stops moving.
pub async fn finished(api: &Api, id: &str) -> Value {
    for _ in 0..1800 {
        let (status, job) = api.get(&format!("/api/v1/inventory/uploads/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if ["validated", "completed", "aborted", "failed"]
            .contains(&job["status"].as_str().unwrap())
        {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("upload {id} did not finish");
}

/// Uploads and waits: the finished job.
pub async fn run_upload(api: &Api, csv: &str, mode: &str, dry_run: bool) -> Value {
    let (status, body) = upload(api, csv.as_bytes(), mode, dry_run).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    finished(api, body["id"].as_str().unwrap()).await
}

async fn count_numbers(app: &TestApp, like: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM numbers WHERE e164 LIKE $1")
        .bind(like)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn seeded_number(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT e164 FROM numbers WHERE e164 LIKE '+1512%' ORDER BY e164 LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// inventory org, allocated tenant, voice, sms, voice carrier, SMS carrier, uploaded by.
type UploadedRow = (
    uuid::Uuid,
    Option<uuid::Uuid>,
    bool,
    bool,
    Option<String>,
    Option<String>,
    Option<uuid::Uuid>,
);

#[test]
fn upload_happy_path_sets_default_carriers_allocates_and_is_idempotent() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}1,(512) 555-0100,TRUE,TRUE,FALSE,,,\n1,5125550101,TRUE,FALSE,TRUE,sandbox voice,,globex\n\
         44,020 7946 0958,TRUE,FALSE,FALSE,,,\n+1,1-512-555-0102,FALSE,TRUE,FALSE,,Sandbox SMS,Globex Support\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["added"], 4, "{job}");
        assert_eq!(job["counts"]["rejected"], 0);
        assert_eq!(job["progress"], 100);

        let acme = app.tenant_id("acme").await;
        let globex = app.tenant_id("globex").await;
        let row: UploadedRow = sqlx::query_as(
        "SELECT n.inventory_org_id, n.allocated_tenant_id, n.voice, n.sms, vc.name, sc.name, n.uploaded_by_org_id
         FROM numbers n LEFT JOIN carriers vc ON vc.id = n.voice_carrier_id LEFT JOIN carriers sc ON sc.id = n.sms_carrier_id
         WHERE e164 = '+15125550100'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(row.0, acme);
        assert_eq!(row.1, None);
        assert!(row.2 && row.3);
        assert_eq!(
            row.4.as_deref(),
            Some("Sandbox Voice"),
            "default voice carrier"
        );
        assert_eq!(row.5.as_deref(), Some("Sandbox SMS"), "default SMS carrier");
        assert_eq!(row.6, Some(acme));
        let allocated: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT allocated_tenant_id FROM numbers WHERE e164 = '+15125550101'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(allocated, Some(globex));
        let london: (String, String) =
            sqlx::query_as("SELECT country, kind FROM numbers WHERE e164 = '+442079460958'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(london, ("GB".to_string(), "local".to_string()));
        let uploads: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'UPLOAD' AND status = 'SUCCESS'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(uploads, 1);

        // The same file again changes nothing.
        let again = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(again["status"], "completed", "{again}");
        assert_eq!(again["counts"]["unchanged"], 4, "{again}");
        assert_eq!(again["counts"]["added"], 0);
        assert_eq!(again["counts"]["updated"], 0);
        assert_eq!(count_numbers(&app, "+1512555010%").await, 3);
    })
}

fn bad_file(seeded: &str) -> String {
    let seeded_national = &seeded[2..];
    format!(
        "{HEADER}\
         1,5125550150,TRUE,FALSE,FALSE,,,\n\
         1,0125550151,TRUE,FALSE,FALSE,,,\n\
         44,123,TRUE,FALSE,FALSE,,,\n\
         1,5125550152,YES,FALSE,FALSE,,,\n\
         1,5125550150,TRUE,FALSE,FALSE,,,\n\
         1,{seeded_national},TRUE,FALSE,FALSE,,,\n\
         1,5125550153,TRUE,FALSE,FALSE,,,no-such-tenant\n\
         1,5125550154,TRUE,FALSE,FALSE,Carrier Pigeon,,\n\
         1,5125550155,TRUE,FALSE\n\
         US,5125550156,TRUE,FALSE,FALSE,,,\n\
         1,5125550157,TRUE,FALSE,FALSE,,,initech\n"
    )
}

#[test]
fn every_bad_row_gets_its_reason_and_all_or_nothing_writes_nothing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let seeded = seeded_number(&app).await;
        let job = run_upload(&reseller, &bad_file(&seeded), "all_or_nothing", false).await;
        assert_eq!(job["status"], "aborted", "{job}");
        let reasons = &job["counts"]["rejected_by_reason"];
        assert_eq!(reasons["invalid_number"], 2, "{job}");
        assert_eq!(reasons["invalid_boolean"], 1, "{job}");
        assert_eq!(reasons["duplicate_in_file"], 1, "{job}");
        assert_eq!(reasons["duplicate_in_inventory"], 1, "{job}");
        assert_eq!(reasons["unknown_tenant"], 1, "{job}");
        assert_eq!(reasons["unknown_carrier"], 1, "{job}");
        assert_eq!(reasons["wrong_column_count"], 1, "{job}");
        assert_eq!(reasons["invalid_country_code"], 1, "{job}");
        assert_eq!(job["counts"]["rejected"], 9);
        assert_eq!(
            job["counts"]["to_add"], 2,
            "lines 2 and 12 are valid: {job}"
        );
        assert_eq!(
            count_numbers(&app, "+151255501%").await,
            0,
            "nothing written"
        );
        let failures: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'UPLOAD' AND status = 'FAILURE'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(failures, 1);

        // The rejected rows come back as CSV, in file order, with the reason per line.
        let id = job["id"].as_str().unwrap();
        let r = reseller
            .http
            .get(format!(
                "{}/api/v1/inventory/uploads/{id}/rejected.csv",
                reseller.base
            ))
            .bearer_auth(&reseller.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = r.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10, "{text}");
        assert!(lines[0].ends_with(",Error"), "{text}");
        assert!(lines[1].contains("line 3: invalid_number"), "{text}");
        assert!(lines[5].contains("duplicate_in_inventory"), "{text}");
        assert!(lines[6].contains("unknown_tenant"), "{text}");
    })
}

#[test]
fn valid_only_writes_exactly_the_valid_rows() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let seeded = seeded_number(&app).await;
        let job = run_upload(&reseller, &bad_file(&seeded), "valid_only", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["added"], 2, "{job}");
        let written: Vec<String> =
            sqlx::query_scalar("SELECT e164 FROM numbers WHERE upload_id = $1::uuid ORDER BY e164")
                .bind(job["id"].as_str().unwrap())
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert_eq!(written, vec!["+15125550150", "+15125550157"]);
        // The seeded number stays the operator's.
        let owner: uuid::Uuid =
            sqlx::query_scalar("SELECT inventory_org_id FROM numbers WHERE e164 = $1")
                .bind(&seeded)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(owner, inward::tenants::OPERATOR_ORG_ID);
    })
}

#[test]
fn fixed_rejected_rows_re_import() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}1,5125550160,TRUE,FALSE,FALSE,,,\n1,5125550161,YES,FALSE,FALSE,,,\n1,5125550162,TRUE,FALSE,FALSE,,,nobody\n"
        );
        let job = run_upload(&reseller, &csv, "valid_only", false).await;
        assert_eq!(job["counts"]["added"], 1, "{job}");
        assert_eq!(job["counts"]["rejected"], 2, "{job}");
        let id = job["id"].as_str().unwrap();
        let rejected = reseller
            .http
            .get(format!(
                "{}/api/v1/inventory/uploads/{id}/rejected.csv",
                reseller.base
            ))
            .bearer_auth(&reseller.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let fixed = rejected
            .replace(",YES,", ",TRUE,")
            .replace(",nobody,", ",globex,");
        let again = run_upload(&reseller, &fixed, "all_or_nothing", false).await;
        assert_eq!(again["status"], "completed", "{again}");
        assert_eq!(again["counts"]["added"], 2, "{again}");
        assert_eq!(count_numbers(&app, "+1512555016%").await, 3);
    })
}

#[test]
fn refused_files_answer_422_and_write_nothing() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let (status, body) = upload(&reseller, b"", "all_or_nothing", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "empty_file");
        let (status, body) = upload(&reseller, HEADER.as_bytes(), "all_or_nothing", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "empty_file");
        let png: Vec<u8> = [
            0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0xff, 0xfe,
        ]
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect();
        let (status, body) = upload(&reseller, &png, "all_or_nothing", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "not_an_inventory_csv");
        let one_row = format!("{HEADER}1,5125550140,TRUE,FALSE,FALSE,,,\n");
        let (status, body) = upload(&reseller, one_row.as_bytes(), "sometimes", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "mode");
        // A JSON body is not an upload.
        let (status, body) = reseller.post("/api/v1/inventory/uploads", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let failed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM inventory_uploads WHERE status = 'failed'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(failed, 4);
        let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_upload_rows")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(staged, 0);
    })
}

#[test]
fn a_50_mb_file_streams_through() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        // 50,000 rows padded with an extra column the importer ignores: 50 MB over the wire,
        // 25 times the limit of every other route.
        let padding = "x".repeat(1000);
        let mut csv = String::with_capacity(52 * 1024 * 1024);
        csv.push_str("Country Code,Phone Number,Voice,SMS,Fax,Notes\n");
        for i in 0..50_000 {
            csv.push_str(&format!(
                "1,299{:03}{:04},TRUE,FALSE,FALSE,{padding}\n",
                200 + i / 10_000,
                i % 10_000
            ));
        }
        assert!(csv.len() > 50_000_000);
        let job = run_upload(&reseller, &csv, "all_or_nothing", true).await;
        assert_eq!(job["status"], "validated", "{job}");
        assert_eq!(job["counts"]["total"], 50_000);
        assert_eq!(job["counts"]["to_add"], 50_000, "{job}");
        assert_eq!(
            count_numbers(&app, "+1299%").await,
            0,
            "a dry run writes nothing"
        );
    })
}

#[test]
fn a_dry_run_is_committed_later_from_the_summary() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}1,5125550170,TRUE,FALSE,FALSE,,,\n1,5125550171,MAYBE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", true).await;
        assert_eq!(job["status"], "validated", "{job}");
        assert_eq!(count_numbers(&app, "+1512555017%").await, 0);
        let id = job["id"].as_str().unwrap();
        let (status, _) = reseller
            .post(
                &format!("/api/v1/inventory/uploads/{id}/commit"),
                json!({ "mode": "valid_only" }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let done = finished(&reseller, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(count_numbers(&app, "+1512555017%").await, 1);
        // A finished upload cannot be committed twice.
        let (status, body) = reseller
            .post(
                &format!("/api/v1/inventory/uploads/{id}/commit"),
                json!({ "mode": "valid_only" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    })
}

#[test]
fn a_checked_dry_run_is_reopened_from_recent_uploads_and_imported_from_the_page() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}1,5125550170,TRUE,FALSE,FALSE,,,\n1,5125550171,MAYBE,FALSE,FALSE,,,\n1,5125550172,TRUE,FALSE,FALSE,,,nobody\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", true).await;
        assert_eq!(job["status"], "validated", "{job}");
        let id = job["id"].as_str().unwrap();

        let browser = app.browser("reseller@acme.test").await;
        let (_, inventory) = browser.get("/inventory").await;
        assert!(
            inventory.contains(&format!(
                "href=\"/inventory/uploads/{id}\" class=\"open-upload\">open to import"
            )),
            "Recent uploads offers to open the checked dry run"
        );
        let (status, page) = browser.get(&format!("/inventory/uploads/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Skip to content"), "a page in the layout");
        assert!(
            page.contains("Checked: ready to import") && page.contains("100%"),
            "{page}"
        );
        assert!(
            page.contains("Voice, SMS or Fax not TRUE or FALSE")
                && page.contains("Tenant not found among yours")
                && !page.contains("· invalid_boolean"),
            "reasons in words: {page}"
        );
        assert!(page.contains("id=\"import-valid\""));
        // htmx asks for the fragment alone, as the polling does.
        let fragment = browser
            .http
            .get(format!("{}/inventory/uploads/{id}", browser.base))
            .header("hx-request", "true")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(fragment.starts_with("<div id=\"upload-job\""), "{fragment}");
        let response = browser
            .post_form(
                &format!("/inventory/uploads/{id}/commit"),
                &[("mode", "valid_only")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let done = finished(&reseller, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(count_numbers(&app, "+1512555017%").await, 1);
    })
}

async fn checked_rows(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inventory_upload_checked WHERE upload_id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[test]
fn one_reason_per_row_in_rule_order_and_duplicates_point_at_the_first_line() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}\
         1,5125550180,YES,FALSE,FALSE,,,\n\
         1,5125550181,TRUE,FALSE,FALSE,,,\n\
         1,512-555-0180,TRUE,FALSE,FALSE,,,\n\
         1,(512) 555-0181,MAYBE,FALSE,FALSE,,,\n\
         1,15125550181,TRUE,FALSE,FALSE,,,\n\
         1,5125550182,TRUE,FALSE,FALSE,,,nobody\n\
         1,5121550183,TRUE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&reseller, &csv, "valid_only", true).await;
        assert_eq!(job["status"], "validated", "{job}");
        assert_eq!(job["counts"]["to_add"], 1, "{job}");
        assert_eq!(job["counts"]["rejected"], 6, "{job}");
        let reasons = &job["counts"]["rejected_by_reason"];
        assert_eq!(reasons["invalid_boolean"], 2, "{job}");
        assert_eq!(reasons["duplicate_in_file"], 2, "{job}");
        assert_eq!(reasons["unknown_tenant"], 1, "{job}");
        assert_eq!(reasons["invalid_number"], 1, "{job}");
        let id = job["id"].as_str().unwrap();
        assert_eq!(
            checked_rows(&app, id).await,
            7,
            "a dry run keeps its result"
        );

        let text = reseller
            .http
            .get(format!(
                "{}/api/v1/inventory/uploads/{id}/rejected.csv",
                reseller.base
            ))
            .bearer_auth(&reseller.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let errors: Vec<String> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().next_back().unwrap().to_string())
            .collect();
        assert_eq!(errors.len(), 6, "{text}");
        // A duplicate points at the first line with the number, even a rejected one; a line that
        // breaks an earlier rule keeps that reason.
        assert!(errors[0].starts_with("line 2: invalid_boolean"), "{text}");
        assert!(
            errors[1].starts_with("line 4: duplicate_in_file: the number is also on line 2"),
            "{text}"
        );
        assert!(errors[2].starts_with("line 5: invalid_boolean"), "{text}");
        assert!(
            errors[3].starts_with("line 6: duplicate_in_file: the number is also on line 3"),
            "{text}"
        );
        assert!(
            errors[4].starts_with("line 7: unknown_tenant: no tenant “nobody” of yours"),
            "{text}"
        );
        assert!(
            errors[5].starts_with(
                "line 8: invalid_number: “5121550183” is not a valid North American number"
            ),
            "{text}"
        );

        let (status, _) = reseller
            .post(
                &format!("/api/v1/inventory/uploads/{id}/commit"),
                json!({ "mode": "valid_only" }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let done = finished(&reseller, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["counts"]["added"], 1, "{done}");
        assert_eq!(count_numbers(&app, "+1512555018%").await, 1);
        assert_eq!(
            checked_rows(&app, id).await,
            0,
            "the result is gone once imported"
        );
        let staged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM inventory_upload_rows WHERE upload_id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(staged, 6, "only the rejected rows stay, for the download");
    })
}

#[test]
fn allocation_limits_search_to_the_tenant_and_release_returns_numbers() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let globex_agent = app.api("agent@globex.test").await;
        let initech_agent = app.api("agent@initech.test").await;
        let csv = format!(
            "{HEADER}1,5125550180,TRUE,FALSE,FALSE,,,\n1,5125550181,TRUE,FALSE,FALSE,,,\n1,5125550182,TRUE,FALSE,FALSE,,,\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let globex = app.tenant_id("globex").await;
        let numbers = json!(["+15125550180", "+15125550181"]);

        let (status, summary) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": numbers, "tenant_id": globex, "dry_run": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["to_allocate"], 2, "{summary}");
        let unallocated: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM numbers WHERE allocated_tenant_id IS NOT NULL",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(unallocated, 0, "a dry run changes nothing");

        let (status, summary) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": numbers, "tenant_id": globex }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["allocated"], 2, "{summary}");
        assert_eq!(
            app.audit_count("+15125550180", "ALLOCATE", "SUCCESS").await,
            1
        );

        // Only Globex is offered the allocated numbers; the unallocated one is offered to both.
        let offered = |body: &Value| -> Vec<String> {
            body["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["e164"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, g) = globex_agent
            .get("/api/v1/numbers/available?npa=512&nxx=555&limit=100")
            .await;
        let (_, i) = initech_agent
            .get("/api/v1/numbers/available?npa=512&nxx=555&limit=100")
            .await;
        assert!(offered(&g).contains(&"+15125550180".to_string()), "{g}");
        assert!(!offered(&i).contains(&"+15125550180".to_string()), "{i}");
        assert!(offered(&i).contains(&"+15125550182".to_string()), "{i}");
        let (status, _) = initech_agent.reserve(&["+15125550180".to_string()]).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "another tenant's allocation cannot be reserved"
        );

        // Allocation by filter: the one left.
        let (status, summary) = reseller
        .post(
            "/api/v1/inventory/allocations",
            json!({ "filter": { "tenant": "unassigned", "q": "512555018" }, "tenant_id": globex }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["allocated"], 1, "{summary}");

        // Globex takes one into service: the reseller cannot release that one.
        let (status, _) = globex_agent.reserve(&["+15125550181".to_string()]).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "numbers": ["+15125550181"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, summary) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "numbers": ["+15125550180"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["released"], 1);
        assert_eq!(app.number_state("+15125550180").await, "released");
        assert_eq!(
            app.audit_count("+15125550180", "RELEASE", "SUCCESS").await,
            1
        );
        let (_, i) = initech_agent
            .get("/api/v1/numbers/available?npa=512&nxx=555&limit=100")
            .await;
        assert!(
            offered(&i).contains(&"+15125550180".to_string()),
            "released numbers are reassignable: {i}"
        );

        // Unknown numbers and other resellers' tenants are not found.
        let (status, _) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": ["+15125550199"], "tenant_id": globex }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": numbers, "tenant_id": uuid::Uuid::new_v4() }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
}

#[test]
fn delete_only_unassigned_numbers_by_the_uploading_org() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let operator = app.api("operator@inward.test").await;
        let csv = format!(
            "{HEADER}1,5125550190,TRUE,FALSE,FALSE,,,\n1,5125550191,TRUE,FALSE,FALSE,,,globex\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let op_csv = format!("{HEADER}1,5125550192,TRUE,FALSE,FALSE,,,\n");
        run_upload(&operator, &op_csv, "all_or_nothing", false).await;

        let (status, body) = reseller.delete("/api/v1/inventory/+15125550191").await;
        assert_eq!(status, StatusCode::CONFLICT, "allocated: {body}");
        assert_eq!(error_code(&body), "number_assigned");
        let (status, body) = operator.delete("/api/v1/inventory/+15125550190").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "the master reseller did not upload it: {body}"
        );
        let (status, _) = reseller.delete("/api/v1/inventory/+15125550192").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the operator's upload is not in the reseller's inventory"
        );
        let seeded = seeded_number(&app).await;
        let (status, _) = operator
            .delete(&format!("/api/v1/inventory/{seeded}"))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "carrier stock was not uploaded"
        );

        let (status, body) = reseller.delete("/api/v1/inventory/+15125550190").await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(count_numbers(&app, "+15125550190").await, 0);
        assert_eq!(
            app.audit_count("+15125550190", "DELETE", "SUCCESS").await,
            1
        );
        let (status, _) = operator.delete("/api/v1/inventory/+15125550192").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    })
}

#[test]
fn the_export_is_the_filtered_view_and_re_imports_unchanged() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}1,5125550200,TRUE,TRUE,FALSE,,,\n1,5125550201,TRUE,FALSE,TRUE,,,globex\n44,020 7946 0959,TRUE,FALSE,FALSE,,,\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let (status, list) = reseller.get("/api/v1/inventory?limit=2").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["numbers"].as_array().unwrap().len(), 2);
        let cursor = list["next_cursor"].as_str().unwrap().to_string();
        let (_, rest) = reseller
            .get(&format!(
                "/api/v1/inventory?limit=2&cursor={}",
                cursor.replace('+', "%2B")
            ))
            .await;
        assert_eq!(rest["numbers"].as_array().unwrap().len(), 1, "{rest}");
        let globex = app.tenant_id("globex").await;
        let (_, only) = reseller
            .get(&format!("/api/v1/inventory?tenant={globex}"))
            .await;
        assert_eq!(only["numbers"].as_array().unwrap().len(), 1, "{only}");
        assert_eq!(only["numbers"][0]["tenant"]["name"], "Globex Support");
        assert_eq!(only["numbers"][0]["e911_status"], "not_set");
        let (_, search) = reseller.get("/api/v1/inventory?q=Globex").await;
        assert_eq!(search["numbers"].as_array().unwrap().len(), 1, "{search}");
        let (_, search) = reseller.get("/api/v1/inventory?q=(512)%20555-02").await;
        assert_eq!(search["numbers"].as_array().unwrap().len(), 2, "{search}");

        let export = reseller
            .http
            .get(format!(
                "{}/api/v1/inventory?status=available",
                reseller.base
            ))
            .bearer_auth(&reseller.token)
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(export.lines().count(), 4, "{export}");
        assert!(
            export.contains(
                "1,5125550201,TRUE,FALSE,TRUE,Sandbox Voice,,globex,FALSE,TRUE,AVAILABLE"
            ),
            "{export}"
        );
        let job = run_upload(&reseller, &export, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["unchanged"], 3, "{job}");
    })
}

#[test]
fn tenants_only_reach_their_own_inventory() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let globex_admin = app.api("admin@globex.test").await;
        let initech_admin = app.api("admin@initech.test").await;
        let agent = app.api("agent@globex.test").await;
        let csv = format!(
            "{HEADER}1,5125550210,TRUE,FALSE,FALSE,,,globex\n1,5125550211,TRUE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let id = job["id"].as_str().unwrap();
        let globex = app.tenant_id("globex").await;

        // Globex's admin sees its allocated number only; Initech's admin sees none of them.
        let (status, g) = globex_admin.get("/api/v1/inventory?q=512555021").await;
        assert_eq!(status, StatusCode::OK);
        let seen: Vec<&str> = g["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        assert_eq!(seen, vec!["+15125550210"]);
        let (_, i) = initech_admin.get("/api/v1/inventory?q=512555021").await;
        assert!(i["numbers"].as_array().unwrap().is_empty(), "{i}");

        // Nobody else reads the reseller's upload job.
        for api in [&globex_admin, &initech_admin] {
            assert_eq!(
                api.get(&format!("/api/v1/inventory/uploads/{id}")).await.0,
                StatusCode::NOT_FOUND
            );
            let r = api
                .http
                .get(format!(
                    "{}/api/v1/inventory/uploads/{id}/rejected.csv",
                    api.base
                ))
                .bearer_auth(&api.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            let (status, _) = api
                .post(
                    &format!("/api/v1/inventory/uploads/{id}/commit"),
                    json!({ "mode": "valid_only" }),
                )
                .await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{status}"
            );
            let (status, _) = api
                .post(
                    "/api/v1/inventory/allocations",
                    json!({ "numbers": ["+15125550211"], "tenant_id": globex }),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, _) = api
                .post(
                    "/api/v1/inventory/releases",
                    json!({ "numbers": ["+15125550210"] }),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        assert_eq!(
            initech_admin
                .delete("/api/v1/inventory/+15125550210")
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            globex_admin
                .delete("/api/v1/inventory/+15125550210")
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        // Tenant admins upload only with "Allow external numbers"; tenant users never.
        let (status, body) = upload(&globex_admin, csv.as_bytes(), "all_or_nothing", false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = upload(&agent, csv.as_bytes(), "all_or_nothing", false).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            agent.get("/api/v1/inventory").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            agent.get("/api/v1/inventory/uploads").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            agent.delete("/api/v1/inventory/+15125550210").await.0,
            StatusCode::FORBIDDEN
        );
        let page = app.browser("agent@globex.test").await;
        assert_eq!(page.get("/inventory").await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            page.get(&format!("/inventory/uploads/{id}")).await.0,
            StatusCode::FORBIDDEN,
            "a tenant's plain user sees no upload, its tenant's or another's"
        );
        let initech_page = app.browser("admin@initech.test").await;
        let (status, html) = initech_page.get("/inventory").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !html.contains("5125550210") && !html.contains("555-0210"),
            "{html}"
        );
        assert_eq!(
            initech_page
                .get(&format!("/inventory/uploads/{id}/rejected.csv"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (status, csv_out) = initech_page.get("/inventory/export.csv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!csv_out.contains("5125550210"));

        // With the flag set by its reseller, Globex's admin uploads its own numbers, allocated to
        // itself. Only the tenant's reseller may set the flag.
        let path = format!("/api/v1/inventory/tenants/{globex}/external-numbers");
        assert_eq!(
            globex_admin.post(&path, json!({ "allow": true })).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = reseller.post(&path, json!({ "allow": true })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'SETTINGS' AND tenant_id = $1
           AND org_id IS NOT NULL AND details->>'allow_external_numbers' = 'true'",
        )
        .bind(globex)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(audited, 1, "the flag change is audited");
        let own = format!(
            "{HEADER}1,5125550212,TRUE,FALSE,FALSE,,,\n1,5125550213,TRUE,FALSE,FALSE,,,initech\n"
        );
        let job = run_upload(&globex_admin, &own, "valid_only", false).await;
        assert_eq!(job["counts"]["added"], 1, "{job}");
        assert_eq!(
            job["counts"]["rejected_by_reason"]["unknown_tenant"], 1,
            "{job}"
        );
        let owner: (uuid::Uuid, Option<uuid::Uuid>) = sqlx::query_as(
            "SELECT inventory_org_id, allocated_tenant_id FROM numbers WHERE e164 = '+15125550212'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(owner, (globex, Some(globex)));
        let (status, _) = globex_admin.delete("/api/v1/inventory/+15125550212").await;
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "a tenant deletes what it uploaded"
        );
    })
}

#[test]
fn capabilities_change_only_while_unassigned_and_permanent_release_is_the_operators() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let operator = app.api("operator@inward.test").await;
        let csv = format!(
            "{HEADER}1,5125550220,TRUE,FALSE,FALSE,,,\n1,5125550221,TRUE,FALSE,FALSE,,,globex\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let patch = |api: &Api, number: &str, body: Value| {
            let r = api
                .http
                .patch(format!("{}/api/v1/inventory/{number}", api.base))
                .bearer_auth(&api.token)
                .json(&body)
                .send();
            async move {
                let r = r.await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, body) = patch(
            &reseller,
            "+15125550220",
            json!({ "sms": true, "fax": true }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let sms: (bool, bool, Option<String>) = sqlx::query_as(
        "SELECT n.sms, n.fax, c.name FROM numbers n LEFT JOIN carriers c ON c.id = n.sms_carrier_id WHERE e164 = '+15125550220'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(
            sms,
            (true, true, Some("Sandbox SMS".to_string())),
            "default SMS carrier set"
        );
        assert_eq!(
            app.audit_count("+15125550220", "UPDATE_CAPABILITIES", "SUCCESS")
                .await,
            1
        );
        let (status, body) = patch(
            &reseller,
            "+15125550220",
            json!({ "voice_carrier": "Nope" }),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        // In use by a tenant: refused.
        let globex = app.api("agent@globex.test").await;
        let (status, _) = globex.reserve(&["+15125550221".to_string()]).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = patch(&reseller, "+15125550221", json!({ "sms": true })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, _) = patch(
            &app.api("admin@globex.test").await,
            "+15125550220",
            json!({ "sms": false }),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Permanent release: the operator's, with the number typed again.
        let (status, _) = reseller
            .post(
                "/api/v1/inventory/+15125550220/permanent-release",
                json!({ "confirm": "+15125550220" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = operator
            .post(
                "/api/v1/inventory/+15125550220/permanent-release",
                json!({ "confirm": "+15125550000" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = operator
            .post(
                "/api/v1/inventory/+15125550221/permanent-release",
                json!({ "confirm": "+15125550221" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = operator
            .post(
                "/api/v1/inventory/+15125550220/permanent-release",
                json!({ "confirm": "(512) 555-0220" }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(count_numbers(&app, "+15125550220").await, 0);
        assert_eq!(
            app.audit_count("+15125550220", "PERMANENT_RELEASE", "SUCCESS")
                .await,
            1
        );
    })
}

#[test]
fn tenant_admins_assign_their_numbers_and_see_the_unassigned_ones() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let admin = app.api("admin@globex.test").await;
        let other = app.api("admin@initech.test").await;
        let csv = format!(
            "{HEADER}1,5125550230,TRUE,FALSE,FALSE,,,globex\n1,5125550231,TRUE,TRUE,FALSE,,,globex\n"
        );
        run_upload(&reseller, &csv, "all_or_nothing", false).await;
        let put = |api: &Api, number: &str, body: Value| {
            let r = api
                .http
                .put(format!("{}/api/v1/inventory/{number}/assignment", api.base))
                .bearer_auth(&api.token)
                .json(&body)
                .send();
            async move {
                let r = r.await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, body) = put(
            &admin,
            "+15125550230",
            json!({ "kind": "user", "assignee": "alice@globex.test" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = put(
            &admin,
            "+15125550230",
            json!({ "kind": "sms", "assignee": "alice" }),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not SMS-enabled: {body}"
        );
        assert_eq!(
            put(
                &other,
                "+15125550231",
                json!({ "kind": "user", "assignee": "bob" })
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            put(
                &reseller,
                "+15125550231",
                json!({ "kind": "user", "assignee": "bob" })
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.audit_count("+15125550230", "ASSIGN", "SUCCESS").await,
            1
        );

        let (_, free) = admin
            .get("/api/v1/inventory?assignment=unassigned&q=512555023")
            .await;
        let free: Vec<&str> = free["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["e164"].as_str().unwrap())
            .collect();
        assert_eq!(free, vec!["+15125550231"]);
        let (_, used) = admin.get("/api/v1/inventory?assignment=assigned").await;
        assert_eq!(
            used["numbers"][0]["assignment"]["assignee"], "alice@globex.test",
            "{used}"
        );

        // The unassigned one can still go back to the reseller; unassigning frees the other.
        let (status, _) = reseller
            .post(
                "/api/v1/inventory/releases",
                json!({ "numbers": ["+15125550231"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = admin
            .delete("/api/v1/inventory/+15125550230/assignment")
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            other
                .delete("/api/v1/inventory/+15125550230/assignment")
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let page = app.browser("admin@globex.test").await;
        let (status, html) = page.get("/inventory?assignment=unassigned").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("(512) 555-0230"), "{html}");
    })
}

#[test]
fn a_control_character_in_a_field_rejects_its_row_and_names_the_column() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = format!(
            "{HEADER}\
         1,5125550190,TRUE,FALSE,FALSE,,,\n\
         1,51255501\u{0}91,TRUE,FALSE,FALSE,,,\n\
         1,5125550192,TRUE,FALSE,FALSE,Sandbox\u{7} Voice,,\n"
        );
        let job = run_upload(&reseller, &csv, "valid_only", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["rejected"], 2, "{job}");
        assert_eq!(
            job["counts"]["rejected_by_reason"]["control_character"], 2,
            "{job}"
        );
        let id = job["id"].as_str().unwrap();
        let text = reseller
            .http
            .get(format!(
                "{}/api/v1/inventory/uploads/{id}/rejected.csv",
                reseller.base
            ))
            .bearer_auth(&reseller.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("the Phone Number column contains a control character"),
            "{text}"
        );
        assert!(text.contains("the Voice Carrier Name column"), "{text}");
        assert!(!text.contains('\u{0}'), "the download holds no NUL");
        let added: i64 =
            sqlx::query_scalar("SELECT count(*) FROM numbers WHERE e164 = '+15125550190'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(added, 1, "the good row is imported");
    })
}

pub async fn rejected_csv(api: &Api, id: &str) -> String {
    api.http
        .get(format!(
            "{}/api/v1/inventory/uploads/{id}/rejected.csv",
            api.base
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn rows_taken_since_a_dry_run_are_rejected_never_dropped() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let operator = app.api("operator@inward.test").await;
        let csv = format!(
            "{HEADER}\
         1,3075550140,TRUE,FALSE,FALSE,,,\n\
         1,3075550141,TRUE,FALSE,FALSE,,,\n\
         1,3075550142,TRUE,FALSE,FALSE,,,\n"
        );
        let strict = run_upload(&reseller, &csv, "all_or_nothing", true).await;
        let lenient = run_upload(&reseller, &csv, "valid_only", true).await;
        for job in [&strict, &lenient] {
            assert_eq!(job["status"], "validated", "{job}");
            assert_eq!(job["counts"]["to_add"], 3, "{job}");
        }
        // Meanwhile another organization imports one of the numbers.
        let other = run_upload(
            &operator,
            &format!("{HEADER}1,3075550141,TRUE,FALSE,FALSE,,,\n"),
            "valid_only",
            false,
        )
        .await;
        assert_eq!(other["counts"]["added"], 1, "{other}");

        let commit = |id: String, mode: &'static str| {
            let api = &reseller;
            async move {
                let (status, body) = api
                    .post(
                        &format!("/api/v1/inventory/uploads/{id}/commit"),
                        json!({ "mode": mode }),
                    )
                    .await;
                assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                finished(api, &id).await
            }
        };
        // All-or-nothing means nothing: the job fails and names the line.
        let id = strict["id"].as_str().unwrap().to_string();
        let done = commit(id.clone(), "all_or_nothing").await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["counts"]["added"], 0, "{done}");
        assert_eq!(
            done["counts"]["rejected_by_reason"]["taken_since_validation"], 1,
            "{done}"
        );
        assert_eq!(
            count_numbers(&app, "+130755501%").await,
            1,
            "only the other organization's"
        );
        let rejected = rejected_csv(&reseller, &id).await;
        assert!(
            rejected.contains("3075550141") && rejected.contains("line 3"),
            "{rejected}"
        );

        // Valid rows only: the others are added, the taken one is rejected, and every row
        // of the file is accounted for.
        let id = lenient["id"].as_str().unwrap().to_string();
        let done = commit(id.clone(), "valid_only").await;
        assert_eq!(done["status"], "completed", "{done}");
        let counts = &done["counts"];
        assert_eq!(
            (counts["added"].as_i64(), counts["rejected"].as_i64()),
            (Some(2), Some(1)),
            "{done}"
        );
        let accounted = ["added", "updated", "unchanged", "rejected"]
            .iter()
            .map(|k| counts[k].as_i64().unwrap())
            .sum::<i64>();
        assert_eq!(accounted, counts["total"].as_i64().unwrap(), "{done}");
        assert_eq!(count_numbers(&app, "+130755501%").await, 3);
        assert!(
            rejected_csv(&reseller, &id)
                .await
                .contains("taken_since_validation")
        );
    })
}

#[test]
fn a_file_with_cr_line_endings_is_read_row_by_row() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let csv = HEADER.trim_end().to_string()
            + "\r1,3075550150,TRUE,FALSE,FALSE,,,\r1,3075550151,MAYBE,FALSE,FALSE,,,\r1,3075550152,TRUE,FALSE,FALSE,,,\r";
        let job = run_upload(&reseller, &csv, "valid_only", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["total"], 3, "{job}");
        assert_eq!(job["counts"]["added"], 2, "{job}");
        let rejected = rejected_csv(&reseller, job["id"].as_str().unwrap()).await;
        assert!(
            rejected.contains("line 3: invalid_boolean"),
            "the row a spreadsheet shows: {rejected}"
        );
    })
}

#[test]
fn a_tenants_assignment_goes_with_the_number_when_it_is_released() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.api("reseller@acme.test").await;
        let globex = app.api("admin@globex.test").await;
        let initech = app.api("admin@initech.test").await;
        let number = "+15125550240";
        run_upload(
            &reseller,
            &format!("{HEADER}1,5125550240,TRUE,FALSE,FALSE,,,globex\n"),
            "all_or_nothing",
            false,
        )
        .await;
        let assign = |api: &Api, who: &str| {
            let r = api
                .http
                .put(format!("{}/api/v1/inventory/{number}/assignment", api.base))
                .bearer_auth(&api.token)
                .json(&json!({ "kind": "user", "assignee": who }))
                .send();
            async move { r.await.unwrap().status() }
        };
        assert_eq!(assign(&globex, "alice@globex.test").await, StatusCode::OK);

        let (status, body) = reseller
            .post("/api/v1/inventory/releases", json!({ "numbers": [number] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM number_assignments")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "the previous tenant's assignee is gone");

        let initech_id = app.tenant_id("initech").await;
        let (status, body) = reseller
            .post(
                "/api/v1/inventory/allocations",
                json!({ "numbers": [number], "tenant_id": initech_id }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(assign(&initech, "bob@initech.test").await, StatusCode::OK);
        let removed = globex
            .http
            .delete(format!(
                "{}/api/v1/inventory/{number}/assignment",
                globex.base
            ))
            .bearer_auth(&globex.token)
            .send()
            .await
            .unwrap();
        assert!(
            removed.status().is_client_error(),
            "the previous tenant cannot touch it: {}",
            removed.status()
        );
        let (tenant, assignee): (uuid::Uuid, String) =
            sqlx::query_as("SELECT tenant_id, assignee FROM number_assignments WHERE e164 = $1")
                .bind(number)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            (tenant, assignee.as_str()),
            (initech_id, "bob@initech.test")
        );
    })
}
