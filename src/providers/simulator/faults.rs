//! Fault injection shared by the simulators: latency, a random error rate, a burst of 429s
//! with `Retry-After`, a burst of 5xx, forced 403s on a path, writes that land but whose
//! answer is lost (502), requests held back before they are carried out, and a log of
//! every request (method, path, body) for tests that check what the adapters sent.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Platform;

#[derive(Debug, Clone, Default, Deserialize, Serialize, clap::Args)]
pub struct FaultConfig {
    /// Added to every response.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub latency_ms: u64,
    /// Share of requests (0.0-1.0) answered 503.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub error_rate: f64,
    /// The next N requests get 429 with `Retry-After`.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub rate_limit_next: u32,
    /// When set, only requests whose `METHOD /path` starts with this count toward
    /// `rate_limit_next` (a throttled token endpoint, say).
    #[arg(long)]
    #[serde(default)]
    pub rate_limit_matching: Option<String>,
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub retry_after_seconds: u64,
    /// The next N requests get 503.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub fail_next: u32,
    /// Requests whose `METHOD /path` starts with this always get 503.
    #[arg(long)]
    #[serde(default)]
    pub fail_matching: Option<String>,
    /// Requests whose `METHOD /path` starts with this get 403.
    #[arg(long)]
    #[serde(default)]
    pub forbid: Option<String>,
    /// Requests whose `METHOD /path` starts with this are carried out, then answered 502:
    /// the write lands and its answer is lost, as at a platform's edge.
    #[arg(long)]
    #[serde(default)]
    pub lose_answer_matching: Option<String>,
    /// The next N writes (any method but GET and HEAD) are carried out, then answered 502.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub lose_answer_next: u32,
    /// The next N updates (PUT or PATCH) are refused with 409 before they are carried out,
    /// as when another editor changed the record first: Genesys answers `general.conflict`
    /// to a write whose `version` is stale.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub conflict_next: u32,
    /// Requests whose `METHOD /path` starts with this wait `stall_ms` before they are
    /// carried out.
    #[arg(long)]
    #[serde(default)]
    pub stall_matching: Option<String>,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub stall_ms: u64,
    /// Do not enforce the platform's documented rate limits (see `limits`).
    #[arg(long, default_value_t = false)]
    #[serde(default)]
    pub ignore_limits: bool,
    /// Lifetime of issued access tokens.
    #[arg(long, default_value_t = 3600)]
    #[serde(default = "hour")]
    pub token_ttl_seconds: u64,
}

fn one() -> u64 {
    1
}

fn hour() -> u64 {
    3600
}

#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    /// The answer's status and body, once it is sent (0 and null while it is carried out).
    pub status: u16,
    pub answer: Value,
    /// Whether the answer was a fault injected here rather than the platform's own.
    pub faulted: bool,
}

pub struct Faults {
    pub config: Mutex<FaultConfig>,
    pub requests: Mutex<Vec<Recorded>>,
    /// Whose error bodies the injected faults imitate (set when the simulator is built).
    platform: OnceLock<Platform>,
    windows: Mutex<super::limits::Windows>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults {
            config: Mutex::new(config),
            requests: Mutex::new(Vec::new()),
            platform: OnceLock::new(),
            windows: Mutex::new(super::limits::Windows::default()),
        }
    }

    /// The platform's documented limit: `Some(retry_after)` when this request is over it.
    fn over_limit(&self, method: &str, path: &str, bearer: Option<&str>) -> Option<u64> {
        if self.config.lock().map(|c| c.ignore_limits).unwrap_or(true) {
            return None;
        }
        let (bucket, limit) = super::limits::bucket(*self.platform.get()?, method, path, bearer)?;
        let mut windows = self.windows.lock().ok()?;
        windows
            .admit(&bucket, limit, std::time::Instant::now())
            .err()
    }

    pub fn token_ttl(&self) -> u64 {
        self.config
            .lock()
            .map(|c| c.token_ttl_seconds)
            .unwrap_or(3600)
    }

    /// How long this request waits before it is carried out.
    fn stall(&self, line: &str) -> Duration {
        self.config
            .lock()
            .ok()
            .filter(|c| {
                c.stall_matching
                    .as_deref()
                    .is_some_and(|f| line.starts_with(f))
            })
            .map_or(Duration::ZERO, |c| Duration::from_millis(c.stall_ms))
    }

    /// Whether this request's answer is lost once it has been carried out.
    fn lose_answer(&self, method: &axum::http::Method, line: &str) -> bool {
        let Ok(mut c) = self.config.lock() else {
            return false;
        };
        if c.lose_answer_matching
            .as_deref()
            .is_some_and(|f| line.starts_with(f))
        {
            return true;
        }
        let write = !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
        if write && c.lose_answer_next > 0 {
            c.lose_answer_next -= 1;
            return true;
        }
        false
    }

    fn decide(&self, line: &str) -> Option<(StatusCode, Option<u64>)> {
        let mut c = self.config.lock().ok()?;
        let counted = c
            .rate_limit_matching
            .as_deref()
            .is_none_or(|f| line.starts_with(f));
        if c.rate_limit_next > 0 && counted {
            c.rate_limit_next -= 1;
            return Some((StatusCode::TOO_MANY_REQUESTS, Some(c.retry_after_seconds)));
        }
        if c.fail_next > 0 {
            c.fail_next -= 1;
            return Some((StatusCode::SERVICE_UNAVAILABLE, None));
        }
        if c.conflict_next > 0 && (line.starts_with("PUT ") || line.starts_with("PATCH ")) {
            c.conflict_next -= 1;
            return Some((StatusCode::CONFLICT, None));
        }
        if c.fail_matching
            .as_deref()
            .is_some_and(|f| line.starts_with(f))
        {
            return Some((StatusCode::SERVICE_UNAVAILABLE, None));
        }
        if c.forbid.as_deref().is_some_and(|f| line.starts_with(f)) {
            return Some((StatusCode::FORBIDDEN, None));
        }
        if c.error_rate > 0.0 && rand::thread_rng().gen_bool(c.error_rate.clamp(0.0, 1.0)) {
            return Some((StatusCode::SERVICE_UNAVAILABLE, None));
        }
        None
    }
}

pub fn wrap(app: Router, faults: Arc<Faults>, platform: Platform) -> Router {
    let _ = faults.platform.set(platform);
    let admin = Router::new()
        .route("/__sim/faults", post(set_faults).get(get_faults))
        .route("/__sim/requests", get(requests))
        .with_state(faults.clone());
    app.layer(middleware::from_fn_with_state(faults.clone(), inject))
        .merge(admin)
        .layer(axum::Extension(faults))
}

async fn set_faults(
    State(faults): State<Arc<Faults>>,
    Json(config): Json<FaultConfig>,
) -> Json<FaultConfig> {
    if let Ok(mut c) = faults.config.lock() {
        *c = config.clone();
    }
    Json(config)
}

async fn get_faults(State(faults): State<Arc<Faults>>) -> Json<Value> {
    Json(json!(
        faults.config.lock().map(|c| c.clone()).unwrap_or_default()
    ))
}

async fn requests(State(faults): State<Arc<Faults>>) -> Json<Value> {
    Json(json!(
        faults
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    ))
}

async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    let latency = faults.config.lock().map(|c| c.latency_ms).unwrap_or(0);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let line = format!("{} {}", parts.method, parts.uri.path());
    let entry = faults.requests.lock().ok().map(|mut log| {
        log.push(Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            body: json_or_text(&bytes),
            status: 0,
            answer: Value::Null,
            faulted: false,
        });
        log.len() - 1
    });
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let limited = faults
        .over_limit(parts.method.as_str(), parts.uri.path(), bearer)
        .map(|wait| (StatusCode::TOO_MANY_REQUESTS, Some(wait)));
    if let Some((status, retry_after)) = limited.or_else(|| faults.decide(&line)) {
        let answer = fault_response(faults.platform.get(), status, retry_after, &parts.uri);
        return faults.answered(entry, answer, true).await;
    }
    let stall = faults.stall(&line);
    if !stall.is_zero() {
        tokio::time::sleep(stall).await;
    }
    let lose = faults.lose_answer(&parts.method, &line);
    let uri = parts.uri.clone();
    let answer = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if lose {
        let answer = fault_response(faults.platform.get(), StatusCode::BAD_GATEWAY, None, &uri);
        return faults.answered(entry, answer, true).await;
    }
    faults.answered(entry, answer, false).await
}

fn json_or_text(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Faults {
    /// Records the answer beside its request, so tests can check both against the specs.
    async fn answered(&self, entry: Option<usize>, answer: Response, faulted: bool) -> Response {
        let (parts, body) = answer.into_parts();
        let bytes = to_bytes(body, 64 << 20).await.unwrap_or_default();
        if let (Some(i), Ok(mut log)) = (entry, self.requests.lock())
            && let Some(recorded) = log.get_mut(i)
        {
            recorded.status = parts.status.as_u16();
            recorded.answer = json_or_text(&bytes);
            recorded.faulted = faulted;
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// An injected failure in the error body of the platform being imitated: Genesys's
/// `ErrorBody`, CXone's `{error, error_description}`, RingCX's `{generalMessage, …}`.
fn fault_response(
    platform: Option<&Platform>,
    status: StatusCode,
    retry_after: Option<u64>,
    uri: &axum::http::Uri,
) -> Response {
    let message = format!("simulated {}", status.canonical_reason().unwrap_or("error"));
    let code = match status {
        StatusCode::TOO_MANY_REQUESTS => "too.many.requests.retry.after",
        StatusCode::CONFLICT => "general.conflict",
        _ => "simulated.fault",
    };
    let body = match platform {
        Some(Platform::Cxone | Platform::Oidc) => {
            json!({ "error": code, "error_description": message })
        }
        Some(Platform::Ringcx) => json!({
            "errorCode": code,
            "generalMessage": message,
            "details": message,
            "requestUri": uri.path(),
            "timestamp": chrono::Utc::now().timestamp_millis(),
        }),
        Some(Platform::Genesys) | None => json!({
            "message": message,
            "code": code,
            "status": status.as_u16(),
            "contextId": uuid::Uuid::new_v4().to_string(),
            "details": [], "errors": [],
        }),
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(seconds) = retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
