//! A real server on a random port over a fresh database (one per test, by `db::db_test`).

use std::net::SocketAddr;

use inward::config::AppConfig;
use inward::state::AppState;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tokio::net::TcpListener;

pub const PASSWORD: &str = inward::seed::DEMO_PASSWORD;

pub struct TestApp {
    pub addr: SocketAddr,
    pub pool: PgPool,
    pub state: AppState,
    pub http: reqwest::Client,
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |_| {}).await
}

pub async fn spawn_app_with(pool: PgPool, tweak: impl FnOnce(&mut AppConfig)) -> TestApp {
    // With RUST_LOG set, the server's log goes to the test's output.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let config = test_config(tweak);
    inward::seed::demo(&pool, 3, Some(&["512", "907", "718", "604"]))
        .await
        .expect("seed demo data");
    serve(pool, config).await
}

/// A second instance on the database of `app`, with its own configuration (the test
/// defaults, then `tweak`); the demo data is already there.
pub async fn another_instance(app: &TestApp, tweak: impl FnOnce(&mut AppConfig)) -> TestApp {
    serve(app.pool.clone(), test_config(tweak)).await
}

fn test_config(tweak: impl FnOnce(&mut AppConfig)) -> AppConfig {
    let mut config = AppConfig::defaults();
    // Tests drive the jobs themselves through run_once, so the loop must stay out of the way.
    config.holds.sweep_interval_seconds = 3600;
    // The platform simulators listen on this machine.
    config.outbound.allow_hosts = vec!["127.0.0.1".into()];
    // Credentials and port-out PINs are sealed with it.
    config.secrets.key = crate::genesys::SECRET_KEY.into();
    // Every test signs in from 127.0.0.1, many times; the limit has a test of its own.
    config.server.sign_in_burst_per_address = 10_000;
    // Tests drive the API hard as a few users; limits this high still put the headers on
    // every answer, and the limits themselves have a test of their own (`api_limits`).
    for per_minute in [
        &mut config.rate_limits.operator_per_minute,
        &mut config.rate_limits.reseller_admin_per_minute,
        &mut config.rate_limits.tenant_admin_per_minute,
        &mut config.rate_limits.tenant_user_per_minute,
    ] {
        *per_minute = 1_000_000;
    }
    config.rate_limits.burst_seconds = 60;
    tweak(&mut config);
    config
}

async fn serve(pool: PgPool, config: AppConfig) -> TestApp {
    // The server connects as the runtime role, as a real install does; the test keeps the
    // administrator's pool for its fixtures.
    let state = AppState::new(crate::db::runtime_pool(&pool), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = state.clone();
    tokio::spawn(async move {
        inward::startup::serve(listener, serving, std::future::pending())
            .await
            .expect("server");
    });
    TestApp {
        addr,
        pool,
        state,
        http: reqwest::Client::new(),
    }
}

/// An API client authenticated with a bearer token for one demo user.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn api(&self, email: &str) -> Api {
        let token = inward::admin::create_token(&self.pool, email)
            .await
            .expect("token");
        Api {
            base: format!("http://{}", self.addr),
            token,
            http: self.http.clone(),
        }
    }

    pub async fn tenant_id(&self, slug: &str) -> uuid::Uuid {
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Asserts the audit log holds exactly `count` entries of `action`, once the entries
    /// written behind the response (SEARCH, `audit::deferred`) are flushed.
    /// The Prometheus text `/metrics` answers.
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.unwrap()
    }

    /// SEARCH entries, once the deferred writer has written what it holds.
    pub async fn assert_flushed_search_count(&self, count: i64) {
        self.state.deferred_audit.flush().await;
        let found: i64 = sqlx::query_scalar("SELECT count(*) FROM search_log")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        assert_eq!(found, count, "SEARCH entries");
    }

    pub async fn number_state(&self, e164: &str) -> String {
        sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
            .bind(e164)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn audit_count(&self, e164: &str, action: &str, status: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE phone_number = $1 AND action = $2 AND status = $3")
            .bind(e164)
            .bind(action)
            .bind(status)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A browser-like client: cookies kept, redirects not followed, logged in via the form.
    pub async fn browser(&self, email: &str) -> Browser {
        self.browser_with(email, PASSWORD).await
    }

    pub async fn browser_with(&self, email: &str, password: &str) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = sign_in(
            &http,
            &self.url(""),
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login of {email} failed"
        );
        // Tenant members land on /numbers, resellers and operators on /audit.
        let mut csrf = None;
        for page in ["/numbers", "/audit"] {
            let page = http
                .get(self.url(page))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            csrf = extract_csrf(&page);
            if csrf.is_some() {
                break;
            }
        }
        let csrf = csrf.expect("csrf token on the page");
        Browser {
            base: format!("http://{}", self.addr),
            http,
            csrf,
        }
    }
}

/// Posts the sign-in form as a browser does: opens /login first for the form's token and its
/// cookie, then sends both with `fields`.
pub async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let form = http.get(format!("{base}/login")).send().await.unwrap();
    let cookie = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("inward_login=") || v.starts_with("__Host-inward_login="))
        .and_then(|v| v.split(';').next())
        .expect("the login form sets its cookie")
        .to_string();
    let page = form.text().await.unwrap();
    let token = page
        .split("name=\"login_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form carries its token")
        .to_string();
    let mut fields = fields.to_vec();
    fields.push(("login_token", &token));
    http.post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&fields)
        .send()
        .await
        .unwrap()
}

pub fn extract_csrf(page: &str) -> Option<String> {
    let start = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[start..].split('"').next()?.to_string())
}

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub csrf: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut body: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        body.extend_from_slice(fields);
        self.http
            .post(format!("{}{}", self.base, path))
            .form(&body)
            .send()
            .await
            .unwrap()
    }
}

impl Api {
    /// Sends a request and checks the answer against the API's document
    /// (`contract::CONTRACT`): every answer any test gets is one the document describes.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status();
        let bytes = r.bytes().await.unwrap();
        if let Err(problem) = crate::contract::CONTRACT.check_path(&method, path, status, &bytes) {
            panic!("the answer breaks the API document: {problem}");
        }
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// Reserves `n` numbers of NPA 512 and provisions them to the Sales queue; they end `active`.
    pub async fn provisioned(&self, n: usize) -> Vec<String> {
        let numbers = self.find("npa=512", n).await;
        let (status, reservation) = self.reserve(&numbers).await;
        assert_eq!(status, StatusCode::CREATED, "{reservation}");
        let id = reservation["id"].as_str().unwrap();
        let assignments: Vec<Value> = numbers
            .iter()
            .map(|e| serde_json::json!({ "number": e, "target": { "type": "queue", "name": "Sales" } }))
            .collect();
        let (status, body) = self
            .post(
                &format!("/api/v1/reservations/{id}/provision"),
                serde_json::json!({ "assignments": assignments }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        numbers
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// First `n` available numbers for a search query string.
    pub async fn find(&self, query: &str, n: usize) -> Vec<String> {
        let (status, body) = self
            .get(&format!("/api/v1/numbers/available?{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let numbers: Vec<String> = body["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .take(n)
            .map(|v| v["e164"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(numbers.len(), n, "not enough numbers for {query}: {body}");
        numbers
    }

    /// Whether a search of the number's NPA-NXX offers it to this caller.
    pub async fn searches_to(&self, e164: &str) -> bool {
        let (npa, nxx) = (&e164[2..5], &e164[5..8]);
        let (status, body) = self
            .get(&format!(
                "/api/v1/numbers/available?npa={npa}&nxx={nxx}&limit=100"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["e164"] == e164)
    }

    pub async fn reserve(&self, numbers: &[String]) -> (StatusCode, Value) {
        self.post(
            "/api/v1/reservations",
            serde_json::json!({ "numbers": numbers }),
        )
        .await
    }

    pub async fn target_id(&self, kind: &str, name: &str) -> String {
        let (_, body) = self.get(&format!("/api/v1/targets?type={kind}")).await;
        body["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .expect("target")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Runs the background jobs until nothing is left to send or poll (or `rounds` runs).
pub async fn settle(app: &TestApp, rounds: usize) {
    for _ in 0..rounds {
        let report = inward::jobs::run_once(&app.state).await;
        assert!(report.failed.is_empty(), "{report:?}");
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM cnam_records WHERE status = 'pending')
                  + (SELECT count(*) FROM e911_records WHERE status = 'pending')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if pending == 0 {
            return;
        }
    }
}

/// A test app whose sandbox answers CNAM and E911 requests at once.
pub async fn spawn_fast_features(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |c| {
        c.sandbox.cnam_delay_seconds = 0;
        c.sandbox.e911_delay_seconds = 0;
    })
    .await
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Runs `work` as the background jobs do: seeing every organization's rows.
pub async fn as_jobs<F: std::future::Future>(work: F) -> F::Output {
    inward::db_scope::bypassing(inward::db_scope::Bypass::Jobs, work).await
}
