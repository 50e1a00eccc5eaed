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

/// The first day from `today` on that `ok` accepts.
fn first_day(today: chrono::NaiveDate, ok: impl Fn(chrono::NaiveDate) -> bool) -> String {
    today.iter_days().find(|d| ok(*d)).unwrap().to_string()
}

#[test]
fn a_requested_foc_date_follows_the_carriers_rules() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let today = chrono::Utc::now().date_naive();
        let rule = |raw: &str| inward::domain::port::requested_foc(raw, today);
        let good = first_day(today, |d| rule(&d.to_string()).is_ok_and(|x| x.is_some()));
        let weekend = first_day(today + chrono::Duration::days(7), |d| {
            matches!(
                chrono::Datelike::weekday(&d),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            )
        });
        let too_far = (today + chrono::Duration::days(40)).to_string();
        let with_foc = |foc: &str| {
            let mut body = crate::porting::request(&["+13126200101"], "");
            body["requested_foc"] = json!(foc);
            body
        };
        for bad in [weekend.as_str(), too_far.as_str(), "soon"] {
            let (status, err) = admin.post("/api/v1/ports", with_foc(bad)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
            let named = err["error"]["details"]["field"] == "requested_foc"
                || err["error"]["details"]["errors"][0]["field"] == "requested_foc";
            assert!(named, "{err}");
        }
        let (status, made) = admin.post("/api/v1/ports", with_foc(&good)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(made["requested_foc"], good);
        let id = made["id"].as_str().unwrap();
        let mut change = with_foc(&too_far);
        change.as_object_mut().unwrap().remove("target");
        change.as_object_mut().unwrap().remove("numbers");
        let (status, err) = admin.put(&format!("/api/v1/ports/{id}"), change).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get(&format!("/ports/{id}")).await;
        assert!(
            page.contains(&format!("id=\"requested-foc\">{good}")),
            "{page}"
        );
        let refused = browser
            .post_form(
                "/ports",
                &[
                    ("numbers", "+13126200102"),
                    ("current_carrier", "Old Telco"),
                    ("account_number", "ACC-1"),
                    ("account_name", "Globex"),
                    ("service_address", "500 Congress Ave, Austin TX 78701"),
                    ("target_type", "queue"),
                    ("target_name", "Sales"),
                    ("requested_foc", &weekend),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = refused.text().await.unwrap();
        assert!(page.contains("id=\"requested_foc-error\""), "{page}");
    })
}
