use reqwest::StatusCode;
use serde_json::json;

use crate::common::{error_code, spawn_app_with};

#[test]
fn an_expired_hold_returns_the_number_releases_it_at_the_provider_and_is_audited() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.ttl_seconds = 1).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 2).await;
        let (_, reservation) = api.reserve(&numbers).await;
        let id = reservation["id"].as_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

        // Reads treat the hold as gone before the sweeper has run.
        let (_, view) = api.get(&format!("/api/v1/reservations/{id}")).await;
        assert_eq!(view["status"], "expired");
        let (status, body) = api
        .post(&format!("/api/v1/reservations/{id}/provision"), json!({ "assignments": [{ "number": numbers[0], "target": { "type": "queue", "name": "Sales" } }] }))
        .await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        assert_eq!(error_code(&body), "reservation_expired");

        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.expired, 2);
        assert_eq!(report.provider_released, 2);
        for n in &numbers {
            assert_eq!(app.number_state(n).await, "available");
            assert_eq!(app.audit_count(n, "EXPIRE", "EXPIRED").await, 1);
        }
        let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sandbox_reservations WHERE e164 = ANY($1) AND released_at IS NULL",
    )
    .bind(&numbers)
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(open, 0, "native reservations released at the provider");

        // A second sweep finds nothing: each hold is expired once.
        let again = inward::jobs::run_once(&app.state).await;
        assert_eq!((again.expired, again.provider_released), (0, 0));
        let back = api
            .get("/api/v1/numbers/available?npa=512&limit=100")
            .await
            .1;
        assert!(
            back["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["e164"] == numbers[0].as_str())
        );
    })
}

#[test]
fn reserving_a_number_whose_hold_lapsed_works_before_the_sweeper_runs() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.ttl_seconds = 1).await;
        let first = app.api("agent@globex.test").await;
        let second = app.api("agent@initech.test").await;
        let number = first.find("npa=512", 1).await;
        assert_eq!(first.reserve(&number).await.0, StatusCode::CREATED);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let (status, body) = second.reserve(&number).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(app.audit_count(&number[0], "EXPIRE", "EXPIRED").await, 1);
        assert_eq!(app.number_state(&number[0]).await, "reserved");
    })
}

/// The sweeper expires a batch of holds in a few statements: a reservation ends only when
/// its last hold does, and each hold is audited once.
#[test]
fn the_sweeper_ends_a_reservation_only_with_its_last_hold() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.holds.ttl_seconds = 600).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 3).await;
        let (_, two) = api.reserve(&numbers[..2]).await;
        let (_, one) = api.reserve(&numbers[2..]).await;
        // Due now: one of the first reservation's holds, and the other reservation's only hold.
        sqlx::query(
            "UPDATE holds SET expires_at = now() - interval '1 second' WHERE e164 = ANY($1)",
        )
        .bind([&numbers[0], &numbers[2]])
        .execute(&app.pool)
        .await
        .unwrap();

        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.expired, 2);
        for (n, state, expiries) in [
            (&numbers[0], "available", 1),
            (&numbers[1], "reserved", 0),
            (&numbers[2], "available", 1),
        ] {
            assert_eq!(app.number_state(n).await, state, "{n}");
            assert_eq!(
                app.audit_count(n, "EXPIRE", "EXPIRED").await,
                expiries,
                "{n}"
            );
        }
        let status = |id: &serde_json::Value| {
            let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
            let pool = app.pool.clone();
            async move {
                sqlx::query_scalar::<_, String>("SELECT status FROM reservations WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(status(&two["id"]).await, "active");
        assert_eq!(status(&one["id"]).await, "expired");
        assert_eq!(inward::jobs::run_once(&app.state).await.expired, 0);
    })
}
