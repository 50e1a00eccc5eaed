use crate::common::spawn_app;

#[test]
fn the_database_refuses_update_delete_and_truncate_on_the_audit_log() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        api.find("npa=512", 1).await;
        // The SEARCH entry is written behind the response; the append-only checks need it in.
        app.state.deferred_audit.flush().await;
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(before > 0);
        for statement in [
            "UPDATE audit_log SET status = 'FAILURE'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ] {
            let err = sqlx::query(statement)
                .execute(&app.pool)
                .await
                .expect_err(statement);
            assert!(
                err.to_string().contains("append-only"),
                "{statement}: {err}"
            );
        }
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(before, after);
    })
}

#[test]
fn entries_carry_user_request_id_and_justification() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let number = api.find("npa=512", 1).await;
        let (_, _) = api
            .post(
                "/api/v1/reservations",
                serde_json::json!({ "numbers": number, "justification": "new hotline" }),
            )
            .await;
        let (_, body) = admin
            .get(&format!(
                "/api/v1/audit?number={}&action=RESERVE",
                number[0]
            ))
            .await;
        let entry = &body["entries"][0];
        assert_eq!(entry["phone_number"], number[0].as_str());
        assert_eq!(entry["status"], "SUCCESS");
        assert_eq!(entry["justification"], "new hotline");
        assert!(entry["request_id"].as_str().is_some_and(|r| r.len() >= 32));
        assert!(entry["user_id"].is_string() && entry["timestamp"].is_string());
        let (status, _) = admin.get("/api/v1/audit?action=DANCE").await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    })
}
