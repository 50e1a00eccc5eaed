use crate::common::spawn_app;

#[test]
fn the_database_refuses_update_delete_and_truncate_on_the_audit_log() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (status, _) = api.reserve(&numbers).await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(before > 0);
        inward::audit::chain::seal_pending(&app.pool).await.unwrap();
        for statement in [
            "UPDATE audit_log SET status = 'FAILURE'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_seals SET hash = hash",
            "DELETE FROM audit_seals",
            "TRUNCATE audit_seals",
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

#[test]
fn the_audit_log_filters_by_actions_user_and_dates_and_exports_what_it_shows() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let agent = app.api("agent@globex.test").await;
        let numbers = agent.provisioned(1).await;
        app.state.deferred_audit.flush().await;
        let admin = app.api("admin@globex.test").await;
        let actions_of = |body: &serde_json::Value| -> Vec<String> {
            body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, all) = admin.get("/api/v1/audit").await;
        assert!(actions_of(&all).contains(&"SEARCH".to_string()), "{all}");
        let (_, quiet) = admin.get("/api/v1/audit?exclude=SEARCH").await;
        let quiet = actions_of(&quiet);
        assert!(
            !quiet.is_empty() && !quiet.contains(&"SEARCH".to_string()),
            "{quiet:?}"
        );
        let (_, picked) = admin.get("/api/v1/audit?action=RESERVE,PROVISION").await;
        let picked = actions_of(&picked);
        assert!(
            picked.contains(&"RESERVE".to_string()) && picked.contains(&"PROVISION".to_string())
        );
        assert!(
            picked.iter().all(|a| a == "RESERVE" || a == "PROVISION"),
            "{picked:?}"
        );
        let (_, theirs) = admin.get("/api/v1/audit?user=AGENT@globex.test").await;
        assert!(
            theirs["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["user_email"] == "agent@globex.test"),
            "{theirs}"
        );
        assert!(!actions_of(&theirs).is_empty());
        let (_, later) = admin.get("/api/v1/audit?from=2999-01-01").await;
        assert!(actions_of(&later).is_empty());
        let (status, body) = admin.get("/api/v1/audit?exclude=SEARCH,NOPE").await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.to_string().contains("USER_CREATE"),
            "names every action: {body}"
        );

        // The page leaves searches out unless asked, and exports what it shows.
        let page = app.browser("admin@globex.test").await;
        let (_, html) = page.get("/audit").await;
        assert!(html.contains("<td>PROVISION</td>") && !html.contains("<td>SEARCH</td>"));
        let (_, html) = page.get("/audit?searches=1").await;
        assert!(html.contains("<td>SEARCH</td>"));
        // Leaving searches out is the page's default, not a choice written into its links.
        let (_, html) = page.get("/audit?action=RESERVE").await;
        assert!(!html.contains("exclude=SEARCH"), "{html}");
        assert!(!html.contains(r#"<option value="SEARCH" selected>"#));
        // Several actions to show, and several to leave out, from the page's lists.
        let (_, html) = page.get("/audit?action=RESERVE&action=PROVISION").await;
        assert!(html.contains("<td>RESERVE</td>") && html.contains("<td>PROVISION</td>"));
        assert!(!html.contains("<td>SEARCH</td>") && !html.contains("<td>CONNECT</td>"));
        assert!(
            html.contains(r#"<option value="PROVISION" selected>"#),
            "the choice is kept"
        );
        let (_, html) = page.get("/audit?exclude=RESERVE&exclude=SEARCH").await;
        assert!(html.contains("<td>PROVISION</td>"), "{html}");
        assert!(!html.contains("<td>RESERVE</td>") && !html.contains("<td>SEARCH</td>"));
        let (_, csv) = page
            .get(&format!("/audit/export.csv?number={}", numbers[0]))
            .await;
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Time (UTC),User,Number,Action")
        );
        let rows: Vec<&str> = lines.collect();
        assert!(rows.iter().any(|r| r.contains(",PROVISION,")), "{csv}");
        assert!(rows.iter().all(|r| r.contains(&numbers[0])), "{csv}");
        let (status, api_csv) = {
            let r = admin
                .http
                .get(format!(
                    "{}/api/v1/audit/export.csv?action=PROVISION",
                    admin.base
                ))
                .bearer_auth(&admin.token)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        };
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_eq!(api_csv.lines().count(), 2, "{api_csv}");
    })
}

/// Searches live apart from the audit log and are kept `audit.search_retention_days`; the
/// listing still shows them when asked.
#[test]
fn searches_are_kept_apart_and_pruned_after_their_retention() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        admin.find("npa=512", 1).await;
        app.assert_flushed_search_count(1).await;
        let in_audit_log: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'SEARCH'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(in_audit_log, 0, "searches are not in the hash-chained log");
        let (_, listed) = admin.get("/api/v1/audit?action=SEARCH").await;
        assert_eq!(listed["entries"].as_array().unwrap().len(), 1, "{listed}");
        sqlx::query(
            "INSERT INTO search_log (at, tenant_id, status, details)
             SELECT now() - interval '31 days', tenant_id, status, details FROM search_log",
        )
        .execute(&app.pool)
        .await
        .unwrap();
        inward::jobs::run_once(&app.state).await;
        app.assert_flushed_search_count(1).await;
        let (_, listed) = admin.get("/api/v1/audit?action=SEARCH").await;
        assert_eq!(
            listed["entries"].as_array().unwrap().len(),
            1,
            "the recent one stays"
        );
    })
}
