use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{error_code, spawn_app};

#[test]
fn reserve_provision_to_each_target_kind_then_release() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 3).await;
        let (status, reservation) = api.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let id = reservation["id"].as_str().unwrap().to_string();
        assert_eq!(reservation["numbers"].as_array().unwrap().len(), 3);
        for n in &numbers {
            assert_eq!(app.number_state(n).await, "reserved");
        }
        let queue = api.target_id("queue", "Sales").await;
        let ivr = api.target_id("ivr", "Main Menu").await;
        let (status, body) = api
        .post(
            &format!("/api/v1/reservations/{id}/provision"),
            json!({ "assignments": [
                { "number": numbers[0], "name": "Sales line", "target": { "type": "queue", "id": queue } },
                { "number": numbers[1], "target": { "type": "extension", "name": "Dr. Ada" } },
                { "number": numbers[2], "target": { "type": "ivr", "id": ivr } },
            ]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["ok"] == true && r["state"] == "active")
        );

        let (_, number) = api.get(&format!("/api/v1/numbers/{}", numbers[0])).await;
        assert_eq!(number["state"], "active");
        assert_eq!(
            number["target"],
            json!({ "type": "queue", "id": queue, "name": "Sales" })
        );
        let history: Vec<&str> = number["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(history, ["PROVISION", "RESERVE"]);

        let extension = api.get(&format!("/api/v1/numbers/{}", numbers[1])).await.1;
        assert_eq!(extension["target"]["type"], "extension");
        assert_eq!(
            extension["target"]["name"], "Dr. Ada",
            "the extension was created by name"
        );
        assert!(
            api.get("/api/v1/targets?type=extension").await.1["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "Dr. Ada")
        );

        let (_, list) = api.get("/api/v1/numbers").await;
        assert_eq!(list["numbers"].as_array().unwrap().len(), 3);
        let (_, view) = api.get(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(view["status"], "completed");

        let (status, released) = api
            .post(
                &format!("/api/v1/numbers/{}/release", numbers[0]),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{released}");
        assert_eq!(released["state"], "released");
        assert_eq!(app.number_state(&numbers[0]).await, "released");
        let assigned: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_assignments WHERE e164 = $1")
                .bind(&numbers[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(assigned, 0, "released at the provider");
        assert_eq!(app.audit_count(&numbers[0], "RELEASE", "SUCCESS").await, 1);
        let (status, _) = api.get(&format!("/api/v1/numbers/{}", numbers[0])).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a released number leaves the tenant"
        );
        let again = api
            .get("/api/v1/numbers/available?npa=512&limit=100")
            .await
            .1;
        assert!(
            again["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["e164"] == numbers[0].as_str()),
            "released numbers are reassignable"
        );
    })
}

#[test]
fn slow_regions_go_pending_and_the_job_activates_them() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_slow(pool).await;
        let api = app.api("agent@globex.test").await;
        let (_, search) = api.get("/api/v1/numbers/available?state=AK&limit=1").await;
        let notice = search["numbers"][0]["activation_notice"].as_str().unwrap();
        assert!(notice.contains("24 hours"), "{notice}");
        let number = search["numbers"][0]["e164"].as_str().unwrap().to_string();
        let (_, reservation) = api.reserve(std::slice::from_ref(&number)).await;
        let id = reservation["id"].as_str().unwrap();
        let (status, body) = api
        .post(&format!("/api/v1/reservations/{id}/provision"), json!({ "assignments": [{ "number": number, "target": { "type": "queue", "name": "Support" } }] }))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["state"], "pending");
        assert!(
            body["results"][0]["notice"]
                .as_str()
                .unwrap()
                .contains("24 hours")
        );
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.activated, 1);
        assert_eq!(app.number_state(&number).await, "active");
    })
}

async fn spawn_app_slow(pool: PgPool) -> crate::common::TestApp {
    crate::common::spawn_app_with(pool, |c| c.sandbox.activation_delay_seconds = 1).await
}

#[test]
fn cancel_returns_every_number_and_releases_the_native_reservation() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=718", 2).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap();
        let (status, body) = api.delete(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["released"], 2);
        for n in &numbers {
            assert_eq!(app.number_state(n).await, "available");
        }
        let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sandbox_reservations WHERE e164 = ANY($1) AND released_at IS NULL",
    )
    .bind(&numbers)
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(open, 0);
        let (status, body) = api.delete(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "reservation_closed");
    })
}

/// On the sandbox, whose reservations live in this database, the hold's own commit takes the
/// carrier's reservation and keeps its reference: the hold, the reservation and the
/// reference are written by one transaction, so no crash can leave one without the others.
/// With a reservation fault armed, the carrier's separate call takes the fault and the hold
/// ends, as a refusing carrier's would.
#[test]
fn a_sandbox_hold_takes_the_carriers_reservation_in_its_own_commit() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 2).await;
        let (status, body) = api.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT h.e164, h.xmin::text, s.xmin::text FROM holds h
             JOIN sandbox_reservations s ON s.ref = h.provider_ref AND s.e164 = h.e164
             WHERE h.e164 = ANY($1) AND h.ended_at IS NULL AND s.released_at IS NULL
             ORDER BY h.e164",
        )
        .bind(&numbers)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            rows.len(),
            2,
            "each hold names its open sandbox reservation"
        );
        for (e164, hold_tx, reservation_tx) in &rows {
            assert_eq!(hold_tx, reservation_tx, "{e164}: written apart");
        }
        let transactions: std::collections::HashSet<&String> = rows.iter().map(|r| &r.1).collect();
        assert_eq!(
            transactions.len(),
            1,
            "one commit for the whole reservation"
        );

        inward::providers::sandbox::Sandbox::inject_fault(&app.pool, "reserve", 1, "no stock")
            .await
            .unwrap();
        let more = api.find("npa=512", 1).await;
        let (status, body) = api.reserve(&more).await;
        assert!(status.is_server_error(), "{status}: {body}");
        assert_eq!(app.number_state(&more[0]).await, "available");
        let taken: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_reservations WHERE e164 = $1")
                .bind(&more[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(taken, 0, "the refused reservation was not recorded");
    })
}

#[test]
fn idempotency_key_replays_the_first_provisioning() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap();
        let body = json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Billing" } }] });
        let send = |body: serde_json::Value| {
            api.http
                .post(format!("{}/api/v1/reservations/{id}/provision", api.base))
                .bearer_auth(&api.token)
                .header("Idempotency-Key", "order-42")
                .json(&body)
                .send()
        };
        let first = send(body.clone()).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let first: serde_json::Value = first.json().await.unwrap();
        let second = send(body.clone()).await.unwrap();
        assert_eq!(second.status(), StatusCode::OK);
        assert_eq!(second.json::<serde_json::Value>().await.unwrap(), first);
        assert_eq!(
            app.audit_count(&numbers[0], "PROVISION", "SUCCESS").await,
            1,
            "provisioned once"
        );
        let other = send(json!({ "assignments": [] })).await.unwrap();
        assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
}

#[test]
fn openapi_document_describes_every_api_route() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let doc: serde_json::Value = app
            .http
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        // Every API route the router has, with each of its methods.
        for path in inward::startup::route_paths() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let probe = app
                .http
                .request(
                    reqwest::Method::from_bytes(b"PURGE").unwrap(),
                    app.url(&path),
                )
                .send()
                .await
                .unwrap();
            let allow = probe.headers()["allow"].to_str().unwrap().to_lowercase();
            for method in allow
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty() && *m != "head")
            {
                assert!(
                    doc["paths"][&path][method].is_object(),
                    "{method} {path} missing from openapi.json"
                );
            }
        }
        let health: serde_json::Value = app
            .http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
    })
}
