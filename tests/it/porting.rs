//! Porting in: the whole journey, rejection and resubmission, one bad number among good ones,
//! the LOA rules, cancel (before and after FOC), isolation and the pages.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{Api, TestApp, error_code, spawn_app, spawn_app_with};

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn fast(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |c| {
        c.sandbox.port_ack_seconds = 0;
        c.sandbox.port_foc_seconds = 0;
        c.sandbox.port_complete_seconds = 0;
    })
    .await
}

pub(crate) fn request(numbers: &[&str], pin: &str) -> Value {
    json!({
        "numbers": numbers, "current_carrier": "Old Telco", "account_number": "ACC-12345", "pin": pin,
        "account_name": "Globex Support", "service_address": "500 Congress Ave, Austin TX 78701",
        "target": { "type": "queue", "name": "Sales" }
    })
}

pub async fn put_loa(
    api: &Api,
    id: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    put_document(api, id, "loa", content_type, body).await
}

/// Uploads `body` as the request's `loa` or `bill`.
pub async fn put_document(
    api: &Api,
    id: &str,
    which: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = api
        .http
        .put(format!("{}/api/v1/ports/{id}/{which}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A port request for `numbers`, with its LOA, submitted; returns its id.
pub async fn submitted_port(admin: &Api, numbers: &[&str], pin: &str) -> String {
    let (status, created) = admin.post("/api/v1/ports", request(numbers, pin)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, body) = put_loa(admin, &id, "application/pdf", PDF.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn run_jobs(app: &TestApp, rounds: usize) {
    for _ in 0..rounds {
        inward::jobs::run_once(&app.state).await;
    }
}

fn status_of<'a>(detail: &'a Value, e164: &str) -> &'a Value {
    &detail["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["e164"] == e164)
        .unwrap()["status"]
}

#[test]
fn a_port_goes_from_submission_to_completion_and_the_numbers_are_routed() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (status, created) = admin
            .post(
                "/api/v1/ports",
                request(&["+13126200101", "(312) 620-0102"], "1234"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(status_of(&created, "+13126200101"), "draft");
        assert!(created.get("pin").is_none(), "the PIN is never returned");

        let (status, body) = admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no LOA yet: {body}"
        );
        assert_eq!(body["error"]["details"]["field"], "loa");
        let (status, _) = put_loa(&admin, &id, "application/pdf", PDF.to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["submitted"], 2);
        assert_eq!(status_of(&body, "+13126200101"), "submitted");

        run_jobs(&app, 3).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        for n in ["+13126200101", "+13126200102"] {
            assert_eq!(status_of(&detail, n), "completed", "{detail}");
            let journey: Vec<&str> = detail["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["e164"] == n)
                .map(|e| e["status"].as_str().unwrap())
                .collect();
            assert_eq!(
                journey,
                ["submitted", "acknowledged", "foc_set", "completed"]
            );
            assert_eq!(app.number_state(n).await, "active");
            assert_eq!(app.audit_count(n, "PORT_STATUS", "SUCCESS").await, 3);
        }
        let (_, numbers) = admin.get("/api/v1/numbers/+13126200101").await;
        assert_eq!(numbers["target"]["name"], "Sales");
        assert_eq!(
            numbers["tenant_id"],
            app.tenant_id("globex").await.to_string()
        );

        // Every status change reached the requester in the portal and by email (logged here).
        let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_emails WHERE to_address = 'admin@globex.test' AND transport = 'log'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            emails, 8,
            "2 numbers × submitted, acknowledged, FOC set, completed"
        );
        let notes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notifications WHERE message LIKE 'Port request:%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(notes, 8);
        // The stored LOA comes back as it was sent.
        let r = admin
            .http
            .get(format!("{}/api/v1/ports/{id}/loa", admin.base))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);
    })
}

#[test]
fn a_rejected_request_is_fixed_and_resubmitted_without_starting_over() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let id = submitted_port(&admin, &["+13126200101", "+13126200102"], "0000").await;
        run_jobs(&app, 3).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        for n in detail["numbers"].as_array().unwrap() {
            assert_eq!(n["status"], "rejected");
            assert!(
                n["reason"].as_str().unwrap().contains("PIN does not match"),
                "{n}"
            );
        }
        assert_eq!(
            app.audit_count("+13126200101", "PORT_STATUS", "FAILURE")
                .await,
            1
        );

        // On the page, a correction missing a field is refused beside it, the rest kept.
        let page = app.browser("admin@globex.test").await;
        let refused = page
            .post_form(
                &format!("/ports/{id}/edit"),
                &[
                    ("current_carrier", "Newer Telco"),
                    ("account_number", ""),
                    ("pin", "4321"),
                    ("account_name", "Globex Corp"),
                    ("service_address", "1 Main St, Chicago IL 60601"),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(
            html.contains(r#"name="account_number" aria-invalid="true" aria-describedby="account_number-error""#)
                && html.contains(r#"<small class="field-error" id="account_number-error">The account number"#),
            "{html}"
        );
        assert!(html.contains(r#"value="Newer Telco""#), "{html}");
        assert!(!html.contains("4321"), "the PIN is not sent back");

        let mut fix = request(&[], "4321");
        fix.as_object_mut().unwrap().remove("target");
        let (status, body) = admin.put(&format!("/api/v1/ports/{id}"), fix).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["submitted"], 2);
        run_jobs(&app, 3).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(status_of(&detail, "+13126200101"), "completed");
        assert_eq!(status_of(&detail, "+13126200102"), "completed");
        assert_eq!(detail["numbers"][0]["reason"], json!(null));
    })
}

#[test]
fn one_bad_number_does_not_fail_the_others() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let id = submitted_port(&admin, &["+13126200101", "+13126209999"], "1234").await;
        run_jobs(&app, 3).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(status_of(&detail, "+13126200101"), "completed");
        assert_eq!(status_of(&detail, "+13126209999"), "rejected");
        let bad = detail["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["e164"] == "+13126209999")
            .unwrap();
        assert!(
            bad["reason"]
                .as_str()
                .unwrap()
                .contains("is not on account ACC-12345")
        );
        assert_eq!(app.number_state("+13126200101").await, "active");
        let known: i64 =
            sqlx::query_scalar("SELECT count(*) FROM numbers WHERE e164 = '+13126209999'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(known, 0);
    })
}

#[test]
fn the_loa_must_be_a_pdf_of_at_most_one_mebibyte() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (_, created) = admin
            .post("/api/v1/ports", request(&["+13126200101"], "1234"))
            .await;
        let id = created["id"].as_str().unwrap().to_string();
        let (status, body) =
            put_loa(&admin, &id, "application/pdf", b"GIF89a not a pdf".to_vec()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&body), "invalid_loa");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must be a PDF")
        );
        let mut big = PDF.to_vec();
        big.resize(1024 * 1024 + 1, b' ');
        let (status, body) = put_loa(&admin, &id, "application/pdf", big).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("the limit is 1024 KiB"),
            "{body}"
        );
        let (status, body) = put_loa(&admin, &id, "text/plain", PDF.to_vec()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&body), "unsupported_media_type");
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(detail["loa_filename"], json!(null), "nothing was stored");
    })
}

#[test]
fn a_port_is_cancelled_before_its_foc_date_but_not_after() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let id = submitted_port(&admin, &["+13126200101", "+13126200102"], "1234").await;
        run_jobs(&app, 1).await;
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["cancelled"], 2);
        assert_eq!(status_of(&body, "+13126200101"), "cancelled");
        assert_eq!(
            app.audit_count("+13126200101", "PORT_CANCEL", "SUCCESS")
                .await,
            1
        );
        let (status, _) = admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        // The numbers are free for a new request.
        let (status, _) = admin
            .post("/api/v1/ports", request(&["+13126200101"], "1234"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    })
}

#[test]
fn once_the_foc_date_is_set_cancel_is_refused() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            c.sandbox.port_ack_seconds = 0;
            c.sandbox.port_foc_seconds = 0;
            c.sandbox.port_complete_seconds = 3600;
        })
        .await;
        let admin = app.api("admin@globex.test").await;
        let (_, created) = admin
            .post("/api/v1/ports", request(&["+13126200101"], "1234"))
            .await;
        let id = created["id"].as_str().unwrap().to_string();
        put_loa(&admin, &id, "application/pdf", PDF.to_vec()).await;
        admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        run_jobs(&app, 3).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(status_of(&detail, "+13126200101"), "foc_set");
        assert!(detail["numbers"][0]["foc_at"].as_str().is_some());
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "foc_set");
    })
}

#[test]
fn port_requests_are_checked_and_stay_inside_the_tenant() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (status, body) = admin
            .post(
                "/api/v1/ports",
                json!({ "numbers": [], "target": { "type": "queue", "name": "Sales" } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(&body), "invalid_port_request");
        assert!(body["error"]["details"]["errors"].as_array().unwrap().len() >= 5);
        let ours = admin.find("npa=512", 1).await;
        let (status, body) = admin
            .post("/api/v1/ports", request(&[&ours[0]], "1234"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "already_on_network");
        // Also when another tenant holds it, though that tenant's numbers are hidden here.
        let theirs = admin.provisioned(1).await.remove(0);
        let (status, body) = app
            .api("admin@initech.test")
            .await
            .post("/api/v1/ports", request(&[&theirs], "1234"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "already_on_network");
        let (status, created) = admin
            .post("/api/v1/ports", request(&["+13126200101"], "1234"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["id"].as_str().unwrap().to_string();
        let (status, body) = admin
            .post("/api/v1/ports", request(&["+13126200101"], "1234"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "port_open");
        let (status, _) = app
            .api("agent@globex.test")
            .await
            .post("/api/v1/ports", request(&["+13126200105"], "1234"))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "tenant admins port numbers in"
        );

        let other = app.api("admin@initech.test").await;
        assert_eq!(
            other.get(&format!("/api/v1/ports/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            other
                .put(&format!("/api/v1/ports/{id}"), request(&[], "1234"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            put_loa(&other, &id, "application/pdf", PDF.to_vec())
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            other.get(&format!("/api/v1/ports/{id}/loa")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            other
                .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            other
                .post(&format!("/api/v1/ports/{id}/cancel"), json!({}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert!(
            other.get("/api/v1/ports").await.1["ports"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let browser = app.browser("admin@initech.test").await;
        assert_eq!(
            browser.get(&format!("/ports/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            browser
                .post_form(&format!("/ports/{id}/submit"), &[])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(status_of(&detail, "+13126200101"), "draft");
    })
}

#[test]
fn a_tenant_admin_ports_numbers_through_the_pages() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let browser = app.browser("admin@globex.test").await;
        let queue = app
            .api("admin@globex.test")
            .await
            .target_id("queue", "Sales")
            .await;
        let target = format!("queue:{queue}");
        let response = browser
            .post_form(
                "/ports",
                &[
                    ("numbers", "+13126200101\n+13126200102"),
                    ("current_carrier", "Old Telco"),
                    ("account_number", "ACC-1"),
                    ("pin", "1234"),
                    ("account_name", "Globex"),
                    ("service_address", "500 Congress Ave, Austin TX 78701"),
                    ("target", &target),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let path = location.split('?').next().unwrap().to_string();

        // The LOA goes up as multipart, with the CSRF token in the header as htmx sends it.
        let boundary = "inwardboundary";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"loa\"; filename=\"signed-loa.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
        body.extend_from_slice(PDF);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = browser
            .http
            .post(format!("{}{path}/loa", browser.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("x-csrf-token", &browser.csrf)
            .header("hx-request", "true")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["hx-redirect"],
            format!("{path}?notice=loa_uploaded")
        );
        // A refused file comes back as the page with the reason, for htmx to show.
        let bad = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"loa\"; filename=\"scan.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--{boundary}--\r\n"
        );
        let response = browser
            .http
            .post(format!("{}{path}/loa", browser.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("x-csrf-token", &browser.csrf)
            .header("hx-request", "true")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["hx-retarget"], "body");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"port-error\"") && page.contains("must be a PDF"),
            "{page}"
        );
        let response = browser.post_form(&format!("{path}/submit"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        run_jobs(&app, 3).await;
        let (_, page) = browser.get(&path).await;
        assert!(page.contains("signed-loa.pdf"), "{page}");
        assert_eq!(
            page.matches("data-status=\"completed\"").count(),
            2,
            "{page}"
        );
        assert!(page.contains("the current carrier acknowledged") && page.contains("FOC date set"));
        let (_, page) = browser.get("/ports").await;
        assert!(page.contains("Old Telco"));
        let (_, page) = browser.get("/notifications").await;
        assert!(
            page.contains("Port request:"),
            "the requester's notifications"
        );
    })
}

/// Another tenant's draft blocks nothing and says nothing: a tenant can create and submit its
/// port of numbers someone else has in a draft; only a port the carriers are working on holds
/// a number, and the refusal names only the caller's own numbers. Forgotten drafts expire.
#[test]
fn drafts_hold_nothing_and_expire() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let globex = app.api("admin@globex.test").await;
        let initech = app.api("admin@initech.test").await;
        let squatted = "+13126200201";
        let (status, draft) = initech
            .post(
                "/api/v1/ports",
                request(&[squatted, "+13126200202"], "1234"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let draft_id = draft["id"].as_str().unwrap().to_string();

        // Globex ports the number although Initech has it in a draft, and learns nothing of it.
        let ported = submitted_port(&globex, &[squatted], "1234").await;
        // Initech's submission of the same number now waits its turn, naming only its number.
        let (status, body) = put_loa(&initech, &draft_id, "application/pdf", PDF.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = initech
            .post(&format!("/api/v1/ports/{draft_id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "port_in_flight_elsewhere");
        assert_eq!(body["error"]["details"]["numbers"], json!([squatted]));
        assert!(!body.to_string().contains(&ported), "{body}");

        // A draft left alone past porting.draft_expiry_days is cancelled, with its reason.
        sqlx::query(
            "UPDATE port_numbers SET updated_at = now() - interval '31 days' WHERE port_id = $1::uuid",
        )
        .bind(&draft_id)
        .execute(&app.pool)
        .await
        .unwrap();
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.port_drafts_expired, 2, "{report:?}");
        let (_, detail) = initech.get(&format!("/api/v1/ports/{draft_id}")).await;
        assert_eq!(status_of(&detail, squatted), "cancelled");
        assert!(
            detail.to_string().contains("not submitted within 30 days"),
            "{detail}"
        );
    })
}

/// The port-out PIN is optional and kept sealed: the row holds no plain PIN, a PIN stored in
/// plain text before is sealed by the jobs, and a server without a key refuses a PIN rather
/// than store it in the clear.
#[test]
fn the_pin_is_optional_and_never_stored_in_plain_text() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (status, created) = admin
            .post("/api/v1/ports", request(&["+13126200301"], "48213"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let stored = |id: String| {
            let pool = app.pool.clone();
            async move {
                sqlx::query_as::<_, (Option<String>, Option<Vec<u8>>)>(
                    "SELECT pin, pin_sealed FROM port_requests WHERE id = $1::uuid",
                )
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        let (plain, sealed) = stored(id.clone()).await;
        assert_eq!(plain, None);
        let sealed = sealed.expect("sealed");
        assert!(
            !sealed.windows(5).any(|w| w == b"48213"),
            "no plain PIN inside"
        );

        let (status, body) = admin
            .post("/api/v1/ports", request(&["+13126200302"], ""))
            .await;
        assert_eq!(status, StatusCode::CREATED, "no PIN is fine: {body}");

        // A correction that leaves the PIN empty keeps the one on file.
        let (status, body) = admin
            .put(&format!("/api/v1/ports/{id}"), request(&[], ""))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(stored(id.clone()).await.1, Some(sealed.clone()));

        // A PIN stored in plain text (before sealing existed) is sealed by the next pass.
        sqlx::query("UPDATE port_requests SET pin = '7777', pin_sealed = NULL WHERE id = $1::uuid")
            .bind(&id)
            .execute(&app.pool)
            .await
            .unwrap();
        inward::jobs::run_once(&app.state).await;
        let (plain, sealed) = stored(id.clone()).await;
        assert_eq!(plain, None);
        assert!(sealed.is_some());

        let keyless =
            crate::common::another_instance(&app, |c| c.secrets.key = String::new()).await;
        let admin = keyless.api("admin@globex.test").await;
        let (status, body) = admin
            .post("/api/v1/ports", request(&["+13126200303"], "1234"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "pin", "{body}");
    })
}

#[test]
fn a_pin_sealed_under_an_old_key_rejects_the_number_for_the_tenant_to_fix() {
    crate::db::db_test(|pool| async move {
        let app = fast(pool).await;
        let admin = app.api("admin@globex.test").await;
        let id = submitted_port(&admin, &["+13126200401"], "4321").await;
        // The operator replaced the secrets key: this instance cannot open the sealed PIN.
        let rotated = crate::common::another_instance(&app, |c| {
            c.secrets.key =
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into();
            c.sandbox.port_ack_seconds = 0;
            c.sandbox.port_foc_seconds = 0;
            c.sandbox.port_complete_seconds = 0;
        })
        .await;
        inward::jobs::run_once(&rotated.state).await;
        let (_, detail) = admin.get(&format!("/api/v1/ports/{id}")).await;
        let number = &detail["numbers"][0];
        assert_eq!(number["status"], "rejected", "{detail}");
        assert!(
            number["reason"]
                .as_str()
                .unwrap()
                .contains("can no longer be read"),
            "{number}"
        );
        assert_eq!(
            app.audit_count("+13126200401", "PORT_STATUS", "FAILURE")
                .await,
            1
        );
        // Entering the PIN again seals it under the new key; the port then goes through.
        let rotated_admin = rotated.api("admin@globex.test").await;
        let mut fix = request(&[], "4321");
        fix.as_object_mut().unwrap().remove("target");
        let (status, body) = rotated_admin.put(&format!("/api/v1/ports/{id}"), fix).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = rotated_admin
            .post(&format!("/api/v1/ports/{id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for _ in 0..3 {
            inward::jobs::run_once(&rotated.state).await;
        }
        let (_, detail) = rotated_admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(status_of(&detail, "+13126200401"), "completed", "{detail}");
    })
}

#[test]
fn a_refused_port_request_names_each_field_beside_it_and_keeps_what_was_typed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let browser = app.browser("admin@globex.test").await;
        let response = browser
            .post_form(
                "/ports",
                &[
                    ("numbers", "+13126200101"),
                    ("current_carrier", "Old Telco"),
                    ("account_number", ""),
                    ("account_name", "Globex"),
                    ("service_address", "500 Congress Ave, Austin TX 78701"),
                    ("target", "queue:nope"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"aria-describedby="account_number-error""#)
                && page.contains(r#"<small class="field-error" id="account_number-error">The account number with the current carrier is required."#),
            "{page}"
        );
        assert!(
            !page.contains(r#"id="current_carrier-error""#),
            "a good field has no error"
        );
        assert!(
            page.contains(r#"value="Old Telco""#),
            "what was typed stays"
        );
        assert!(
            page.contains("Not saved: correct the field marked below."),
            "{page}"
        );
    })
}

#[test]
fn the_service_address_is_checked_like_an_e911_address_before_anything_is_created() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let mut body = request(&["+13126200101"], "");
        body["service_address"] = json!("500 Congress Ave, Austin TX 10001");
        let (status, refused) = admin.post("/api/v1/ports", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(
            refused["error"]["details"]["errors"][0]["field"],
            "service_address"
        );
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ZIP 10001 is in NY, not TX"),
            "{refused}"
        );
        let (_, list) = admin.get("/api/v1/ports").await;
        assert_eq!(list["ports"], json!([]));
        let (status, created) = admin
            .post("/api/v1/ports", request(&["+13126200101"], ""))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["service_address"], "500 Congress Ave, Austin TX 78701",
            "kept as typed"
        );

        // On the page, the reason is beside the field and what was typed stays.
        let browser = app.browser("admin@globex.test").await;
        let queue = admin.target_id("queue", "Sales").await;
        let target = format!("queue:{queue}");
        let response = browser
            .post_form(
                "/ports",
                &[
                    ("numbers", "+13126200102"),
                    ("current_carrier", "Old Telco"),
                    ("account_number", "ACC-1"),
                    ("account_name", "Globex"),
                    ("service_address", "PO Box 12, Austin TX 78701"),
                    ("target", &target),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("a PO box is not a dispatchable location"),
            "{page}"
        );
        assert!(
            page.contains("value=\"PO Box 12, Austin TX 78701\""),
            "{page}"
        );
    })
}
