//! The portability check before a port: portable, not portable with its reason, already on
//! our network, toll-free, or not a number; over the API and as the port form is typed.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app;

#[test]
fn each_number_gets_its_verdict() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let ours: String = sqlx::query_scalar("SELECT e164 FROM numbers ORDER BY e164 LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let sent = [
            "(201) 200-0101",
            "+12012000199",
            "+13126200101",
            "+18005550100",
            ours.as_str(),
            "not a number",
        ];
        let (status, body) = admin
            .post("/api/v1/ports/check", json!({ "numbers": sent }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().unwrap();
        let verdicts: Vec<&str> = results
            .iter()
            .map(|r| r["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(
            verdicts,
            [
                "portable",
                "not_portable",
                "not_portable",
                "toll_free",
                "on_network",
                "invalid"
            ]
        );
        assert_eq!(results[0]["number"], "(201) 200-0101");
        assert_eq!(results[0]["e164"], "+12012000101");
        assert!(results[1]["reason"].as_str().unwrap().contains("freeze"));
        assert!(
            results[2]["reason"]
                .as_str()
                .unwrap()
                .contains("not in service")
        );
        assert_eq!(body["portable"], 1);

        let (status, _) = admin
            .post("/api/v1/ports/check", json!({ "numbers": [] }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let many: Vec<String> = (0..501).map(|i| format!("+1201200{i:04}")).collect();
        let (status, _) = admin
            .post("/api/v1/ports/check", json!({ "numbers": many }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let agent = app.api("agent@globex.test").await;
        let (status, _) = agent
            .post(
                "/api/v1/ports/check",
                json!({ "numbers": ["+12012000101"] }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "ports are the tenant admin's"
        );
    })
}

#[test]
fn the_port_form_checks_numbers_as_they_are_typed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;
        let (_, page) = admin.get("/ports").await;
        assert!(page.contains("hx-post=\"/ports/check\""), "{page}");
        let answer = admin
            .post_form(
                "/ports/check",
                &[("numbers", "+12012000101\n+12012000199\n\n")],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::OK);
        let fragment = answer.text().await.unwrap();
        assert!(
            fragment.contains("id=\"portability-verdicts\""),
            "{fragment}"
        );
        assert!(fragment.contains("<strong>+12012000101</strong>: portable"));
        assert!(fragment.contains("port-out freeze"));
        let empty = admin.post_form("/ports/check", &[("numbers", "")]).await;
        assert_eq!(empty.status(), StatusCode::OK);
        assert!(!empty.text().await.unwrap().contains("<li"));
    })
}
