//! Extending a hold: the hold time again from now, within the hour a hold may last; refused
//! past it, on a lapsed hold, to another tenant and while a premium approval is pending.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{error_code, spawn_app_with};

/// Runs `sql` on the test's database with the reservation `id` as `$1`.
async fn change(app: &crate::common::TestApp, sql: &str, id: &str) {
    sqlx::query(sql).bind(id).execute(&app.pool).await.unwrap();
}

fn at(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_hold_is_extended_within_its_limit_and_refused_past_it() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            c.holds.ttl_seconds = 600;
            c.holds.max_hold_seconds = 900;
        })
        .await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.find("npa=512", 2).await;
        let (status, reservation) = agent.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let id = reservation["id"].as_str().unwrap();
        let first_end = at(&reservation["expires_at"]);

        // Five minutes in, an extension gives ten minutes again, but no more than fifteen
        // from the start.
        change(
            &app,
            "UPDATE reservations SET created_at = created_at - interval '5 minutes',
                    expires_at = expires_at - interval '5 minutes' WHERE id = $1::uuid",
            id,
        )
        .await;
        change(&app, "UPDATE holds SET expires_at = expires_at - interval '5 minutes' WHERE reservation_id = $1::uuid", id).await;
        let (status, extended) = agent
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{extended}");
        let until = at(&extended["expires_at"]);
        let limit = first_end - chrono::Duration::minutes(5) + chrono::Duration::minutes(5);
        assert!(
            (until - limit).num_seconds().abs() <= 2,
            "{until} vs {limit}"
        );
        assert_eq!(extended["numbers"].as_array().unwrap().len(), 2);
        let holds: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT expires_at FROM holds WHERE reservation_id = $1::uuid AND ended_at IS NULL",
        )
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert!(holds.iter().all(|h| *h == until), "{holds:?}");
        assert_eq!(app.audit_count(&numbers[0], "EXTEND", "SUCCESS").await, 1);
        let (_, shown) = agent.get(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(at(&shown["expires_at"]), until);

        // At the limit there is nothing more to give.
        let (status, refused) = agent
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(error_code(&refused), "hold_extension_limit");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("15 minutes")
        );

        // Another tenant cannot see it; a lapsed hold cannot be revived.
        let other = app.api("agent@initech.test").await;
        let (status, _) = other
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        change(
            &app,
            "UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
            id,
        )
        .await;
        let (status, gone) = agent
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::GONE, "{gone}");
        assert_eq!(error_code(&gone), "reservation_expired");
    })
}

#[test]
fn a_premium_hold_waiting_for_approval_is_not_shortened_and_the_page_extends() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let (_, body) = agent
            .get("/api/v1/numbers/available?kind=toll_free&pattern=8XX-OUR-FOOD")
            .await;
        let premium = body["numbers"][0]["e164"].as_str().unwrap().to_string();
        let (status, held) = agent
            .post(
                "/api/v1/reservations",
                json!({ "numbers": [premium], "justification": "campaign" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let id = held["id"].as_str().unwrap();
        let (status, refused) = agent
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(error_code(&refused), "approval_pending", "{refused}");
        let page = app.browser("agent@globex.test").await;
        let (_, shown) = page.get(&format!("/reservations/{id}")).await;
        assert!(
            !shown.contains("Keep them longer"),
            "no button while it waits"
        );

        // Approved after a long wait, the hour counts from the approval.
        change(
            &app,
            "UPDATE reservations SET created_at = now() - interval '2 hours' WHERE id = $1::uuid",
            id,
        )
        .await;
        let admin = app.api("admin@globex.test").await;
        let (_, pending) = admin.get("/api/v1/approvals?status=pending").await;
        let approval = pending["approvals"][0]["id"].as_str().unwrap().to_string();
        let (status, body) = admin
            .post(
                &format!("/api/v1/approvals/{approval}/approve"),
                json!({ "reason": "ok" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (status, extended) = agent
            .post(&format!("/api/v1/reservations/{id}/extend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{extended}");

        // From the reservation page.
        let plain = agent.find("npa=512", 1).await;
        let (_, reservation) = agent.reserve(&plain).await;
        let id = reservation["id"].as_str().unwrap();
        let before = at(&reservation["expires_at"]);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (_, shown) = page.get(&format!("/reservations/{id}")).await;
        assert!(shown.contains("Keep them longer"), "{shown}");
        let response = page
            .post_form(&format!("/reservations/{id}/extend"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, shown) = page
            .get(&format!("/reservations/{id}?notice=extended"))
            .await;
        assert!(shown.contains("The hold runs for longer"), "{shown}");
        let (_, after) = agent.get(&format!("/api/v1/reservations/{id}")).await;
        assert!(at(&after["expires_at"]) > before, "{after}");

        // Refused on the page: said there, inside the layout.
        change(
            &app,
            "UPDATE reservations SET created_at = now() - interval '2 hours' WHERE id = $1::uuid",
            id,
        )
        .await;
        let refused = page
            .post_form(&format!("/reservations/{id}/extend"), &[])
            .await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        let html = refused.text().await.unwrap();
        assert!(
            html.contains("id=\"provision-error\"")
                && html.contains("at most 60 minutes")
                && html.contains("<nav"),
            "{html}"
        );
    })
}
