//! `/metrics`: request latency per matched route, holds, provider calls and job runs, in the
//! Prometheus text format. The recorder is process-wide, so the checks look for series
//! this test's own requests must have produced.

use reqwest::StatusCode;

use crate::common::spawn_app;

#[test]
fn metrics_cover_routes_holds_provider_calls_and_jobs() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (status, body) = api.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, _) = api.get("/api/v1/no-such-route").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        inward::jobs::run_once(&app.state).await;

        let response = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.unwrap();

        let has = |needle: &str| text.lines().any(|l| l.contains(needle));
        // Latency per matched route template and status, never per raw path.
        assert!(
            has(
                r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/numbers/available",status="200",le="0.015"}"#
            ),
            "{text}"
        );
        assert!(has(
            r#"http_request_duration_seconds_count{method="POST",route="/api/v1/reservations",status="201"}"#
        ));
        assert!(
            !text.contains("no-such-route"),
            "raw paths must not become labels"
        );
        assert!(has("holds_created_total"));
        // The reservation went through the holds' group commit (which, on the sandbox, takes
        // the sandbox's own reservation too), in a bucketed batch-size series.
        assert!(
            has(r#"group_commit_batch_size_bucket{writer="holds",le="1"}"#),
            "{text}"
        );
        assert!(has(r#"job_runs_total{job="expire_holds",outcome="ok"}"#));
        assert!(has(
            r#"job_runs_total{job="activate_pending",outcome="ok"}"#
        ));
    })
}

/// A reconciliation run is counted with its outcome, timed, and its differences counted by
/// class.
#[test]
fn reconciliation_runs_and_their_differences_are_counted() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        sqlx::query("DELETE FROM sandbox_assignments WHERE e164 = $1")
            .bind(&number)
            .execute(&app.pool)
            .await
            .unwrap();
        let tenant = app.tenant_id("globex").await;
        let run = crate::common::as_jobs(inward::drift::reconcile_tenant(
            &app.state,
            inward::domain::TenantId(tenant),
        ))
        .await
        .unwrap();
        assert_eq!(run.counts.get("unrouted"), Some(&1), "{:?}", run.counts);
        let text = app.metrics_text().await;
        let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
        assert!(has(r#"reconcile_runs_total{outcome="ok"}"#), "{text}");
        assert!(has("reconcile_run_duration_seconds_count"), "{text}");
        assert!(
            has(r#"reconcile_differences_total{class="unrouted"}"#),
            "{text}"
        );
    })
}

#[test]
fn provider_errors_are_counted_per_operation_and_code() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        inward::providers::sandbox::Sandbox::inject_fault(&app.pool, "reserve", 1, "boom")
            .await
            .unwrap();
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 1).await;
        let (status, body) = api.reserve(&numbers).await;
        assert!(status.is_server_error(), "{status}: {body}");
        let text = app.metrics_text().await;
        assert!(
            text.lines().any(|l| l.starts_with("provider_errors_total{")
                && l.contains(r#"provider="sandbox""#)
                && l.contains(r#"operation="reserve""#)),
            "{text}"
        );
    })
}

#[test]
fn invented_methods_and_long_request_ids_do_not_grow_what_is_kept() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool).await;
        for i in 0..5 {
            let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
            app.http
                .request(method, app.url("/healthz"))
                .send()
                .await
                .unwrap();
        }
        let metrics = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !metrics.contains("INVENTED"),
            "no series per invented method"
        );
        assert!(metrics.contains("method=\"OTHER\""), "{metrics}");

        let long = "x".repeat(5000);
        let answer = app
            .http
            .get(app.url("/healthz"))
            .header("x-request-id", &long)
            .send()
            .await
            .unwrap();
        let id = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(id != long && id.len() <= 64, "replaced: {id}");
        let kept = app
            .http
            .get(app.url("/healthz"))
            .header("x-request-id", "order-42.a_b")
            .send()
            .await
            .unwrap();
        assert_eq!(kept.headers()["x-request-id"], "order-42.a_b");
    })
}

/// With `metrics.listen` set, `/metrics` is served on that listener only: the public one
/// answers 404 for it.
#[test]
fn metrics_can_have_a_listener_of_their_own() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let mut config = app.state.config.as_ref().clone();
        config.metrics.listen = "127.0.0.1:0".into();
        let state = inward::state::AppState::new(crate::db::runtime_pool(&pool), config);
        let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (main_addr, metrics_addr) = (main.local_addr().unwrap(), metrics.local_addr().unwrap());
        tokio::spawn(inward::startup::serve_with_metrics(
            main,
            Some(metrics),
            state,
            std::future::pending(),
        ));
        let get = |url: String| {
            let http = app.http.clone();
            async move { http.get(url).send().await.unwrap() }
        };
        let public = get(format!("http://{main_addr}/metrics")).await;
        assert_eq!(public.status(), StatusCode::NOT_FOUND);
        let healthz = get(format!("http://{main_addr}/healthz")).await;
        assert_eq!(healthz.status(), StatusCode::OK);
        let private = get(format!("http://{metrics_addr}/metrics")).await;
        assert_eq!(private.status(), StatusCode::OK);
        assert!(
            private
                .text()
                .await
                .unwrap()
                .contains("http_request_duration_seconds")
        );
    })
}
