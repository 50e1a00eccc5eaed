//! What every platform adapter shares: one reqwest client with timeouts, a token source with
//! a single in-flight refresh, client-side throttling under the platform's limit, retries
//! with jittered backoff on 429/502/503/504 honouring `Retry-After`, one refresh on 401,
//! and errors mapped to `ProviderError` with the raw body and correlation id kept.
//! One file over 500 lines: the retry, throttle and token rules interact on every attempt and
//! are read together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ProviderError, ProviderErrorKind};

#[derive(Debug, Clone)]
pub struct Token {
    pub access: String,
    pub expires_at: Instant,
}

/// How a platform issues access tokens. Implementations do the HTTP exchange only; caching,
/// single-flight and early refresh live in `PlatformHttp`.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A fresh token; `previous` lets platforms with refresh tokens refresh instead of re-login.
    async fn fetch(
        &self,
        http: &reqwest::Client,
        previous: Option<&Token>,
    ) -> Result<Token, ProviderError>;
}

#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    /// Longest a call waits in all between its attempts, whatever `Retry-After` says.
    pub max_delay: Duration,
    /// Hosts the operator admits beyond the platforms' published ones (see `outbound`).
    pub allow: crate::outbound::Allowlist,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
            allow: crate::outbound::Allowlist::default(),
        }
    }
}

/// A spacing throttle (GCRA): requests are spaced `60s / per_minute` apart, except that up to
/// `burst` may go at once after a quiet spell. Over any minute at most `per_minute + burst - 1`
/// requests leave this client, so callers pick both to stay under the platform's limit.
struct Throttle {
    interval: Duration,
    burst: u32,
    next: Mutex<Instant>,
}

impl Throttle {
    fn new(per_minute: u32, burst: u32) -> Self {
        Throttle {
            interval: Duration::from_secs(60) / per_minute.max(1),
            burst: burst.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let sleep_until = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let due = (*next).max(now);
            let slack = self.interval * (self.burst - 1);
            let slot = due.checked_sub(slack).unwrap_or(now).max(now);
            *next = due + self.interval;
            slot
        };
        tokio::time::sleep_until(sleep_until.into()).await;
    }
}

pub struct PlatformHttp {
    allow: crate::outbound::Allowlist,
    pub provider: &'static str,
    pub base: String,
    client: Result<reqwest::Client, ProviderError>,
    tokens: Arc<dyn TokenSource>,
    token: Mutex<Option<Token>>,
    throttle: Throttle,
    retry: OutboundPolicy,
    correlation_header: &'static str,
}

/// One file of a `multipart/form-data` request.
#[derive(Debug, Clone, Copy)]
pub struct MultipartFile<'a> {
    pub field: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Multipart(MultipartFile<'a>),
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub correlation_id: Option<String>,
}

impl PlatformHttp {
    pub fn new(
        provider: &'static str,
        base: String,
        tokens: Arc<dyn TokenSource>,
        per_minute: u32,
        retry: OutboundPolicy,
        correlation_header: &'static str,
    ) -> Self {
        let client = crate::outbound::client(provider, &retry.allow, Duration::from_secs(20));
        PlatformHttp {
            allow: retry.allow.clone(),
            provider,
            base: base.trim_end_matches('/').to_string(),
            client,
            tokens,
            token: Mutex::new(None),
            throttle: Throttle::new(per_minute, 1),
            retry,
            correlation_header,
        }
    }

    /// The HTTP client, or why this server cannot make platform calls.
    fn client(&self) -> Result<&reqwest::Client, ProviderError> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// Starts with a token already obtained (a platform whose first exchange also says where
    /// its API lives), so the first call does not sign in a second time.
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Mutex::new(Some(token));
        self
    }

    /// Lets up to `burst` requests go at once; `per_minute + burst - 1` must stay under the limit.
    pub fn with_burst(mut self, per_minute: u32, burst: u32) -> Self {
        self.throttle = Throttle::new(per_minute, burst);
        self
    }

    /// The cached token, refreshed a minute before expiry. The lock is held while
    /// refreshing, so concurrent callers wait for one refresh instead of starting their own.
    /// `refused`: the token a call just had refused (401); it is replaced unless another
    /// caller replaced it meanwhile, so a burst of 401s makes one exchange, not one each.
    async fn access_token(&self, refused: Option<&str>) -> Result<String, ProviderError> {
        let mut slot = self.token.lock().await;
        let fresh = slot
            .as_ref()
            .is_some_and(|t| t.expires_at > Instant::now() + Duration::from_secs(60));
        let stale = refused.is_some_and(|r| slot.as_ref().is_some_and(|t| t.access == r));
        if stale || !fresh {
            // A token exchange changes nothing on the platform, so a throttled or failed one
            // is simply tried again, waiting as long as the platform asks.
            let mut attempt = 0;
            let mut waited = Duration::ZERO;
            let token = loop {
                attempt += 1;
                match self.tokens.fetch(self.client()?, slot.as_ref()).await {
                    Ok(token) => break token,
                    Err(err)
                        if matches!(
                            err.kind,
                            ProviderErrorKind::RateLimited | ProviderErrorKind::Transient
                        ) && attempt < self.retry.max_attempts =>
                    {
                        let wait = self.wait_before_retry(attempt, err.retry_after, &mut waited)?;
                        tracing::info!(
                            provider = self.provider,
                            ?wait,
                            attempt,
                            "retrying the token exchange"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    Err(err) => return Err(err),
                }
            };
            *slot = Some(token);
        }
        Ok(slot.as_ref().map(|t| t.access.clone()).unwrap_or_default())
    }

    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Response, ProviderError> {
        self.send(Method::GET, path, query, None).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response, ProviderError> {
        let payload = match body {
            Some(body) => Payload::Json(body),
            None => Payload::Empty,
        };
        self.send_payload(method, path, query, payload).await
    }

    /// Sends one file as a `multipart/form-data` body (field `field`), with the same token,
    /// throttle, retry and error handling as JSON calls.
    pub async fn send_multipart(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        file: MultipartFile<'_>,
    ) -> Result<Response, ProviderError> {
        self.send_payload(method, path, query, Payload::Multipart(file))
            .await
    }

    async fn send_payload(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        payload: Payload<'_>,
    ) -> Result<Response, ProviderError> {
        let url = format!("{}{}", self.base, path);
        crate::outbound::check_target(&url, self.provider, &self.allow)
            .map_err(|why| ProviderError::new(self.provider, ProviderErrorKind::Validation, why))?;
        let mut refreshed = false;
        let mut attempt = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            self.throttle.wait().await;
            let token = self.access_token(None).await?;
            let request = self.request(&method, &url, query, &token, &payload)?;
            let response = match request.send().await {
                Ok(r) => r,
                Err(err)
                    if attempt < self.retry.max_attempts
                        && (err.is_timeout() || err.is_connect())
                        && may_resend(&method, Failure::of_transport(&err)) =>
                {
                    let wait = self.backoff(attempt, None, waited);
                    waited += wait;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(err) => return Err(transport_error(self.provider, &url, err)),
            };
            let status = response.status();
            let headers = response.headers().clone();
            let correlation_id = headers
                .get(self.correlation_header)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                let body = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                };
                return Ok(Response {
                    status,
                    body,
                    correlation_id,
                });
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.access_token(Some(&token)).await?;
                continue;
            }
            let retryable = match status.as_u16() {
                429 => may_resend(&method, Failure::Refused),
                502..=504 => may_resend(&method, Failure::Ambiguous),
                _ => false,
            };
            if retryable && attempt < self.retry.max_attempts {
                let wait = self
                    .wait_before_retry(attempt, retry_after(&headers), &mut waited)
                    .map_err(|e| {
                        let mut mapped =
                            map_status(self.provider, status, &text, correlation_id.clone());
                        mapped.message = e.message;
                        mapped.retry_after = e.retry_after;
                        mapped
                    })?;
                tracing::info!(provider = self.provider, %status, ?wait, attempt, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(map_status(self.provider, status, &text, correlation_id));
        }
    }

    /// One attempt's request, built afresh: a multipart form is consumed by sending.
    fn request(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, String)],
        token: &str,
        payload: &Payload<'_>,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let request = self
            .client()?
            .request(method.clone(), url)
            .query(query)
            .bearer_auth(token);
        Ok(match payload {
            Payload::Empty => request,
            Payload::Json(body) => request.json(body),
            Payload::Multipart(file) => {
                let part = reqwest::multipart::Part::bytes(file.bytes.to_vec())
                    .file_name(file.file_name.to_string())
                    .mime_str(file.content_type)
                    .map_err(|e| transport_error(self.provider, url, e))?;
                request
                    .multipart(reqwest::multipart::Form::new().part(file.field.to_string(), part))
            }
        })
    }

    /// How long to wait before attempt `attempt + 1`, given `waited` so far for this call.
    /// A `Retry-After` is honoured in full; one that would take the call past
    /// `providers.max_retry_wait_seconds` in all gets no early retry (it would only be refused
    /// again): the call fails at once, saying how long the platform asked for.
    fn wait_before_retry(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        waited: &mut Duration,
    ) -> Result<Duration, ProviderError> {
        if let Some(asked) = retry_after
            && *waited + asked > self.retry.max_delay
        {
            let mut err = ProviderError::new(
                self.provider,
                ProviderErrorKind::RateLimited,
                format!(
                    "rate limited by the platform, which asks to wait {} s, longer than Inward waits for one call ({} s already waited, providers.max_retry_wait_seconds = {}); try again later",
                    asked.as_secs(),
                    waited.as_secs(),
                    self.retry.max_delay.as_secs()
                ),
            );
            err.retry_after = Some(asked);
            return Err(err);
        }
        let wait = self.backoff(attempt, retry_after, *waited);
        *waited += wait;
        Ok(wait)
    }

    /// The wait before attempt `attempt + 1`: what the platform asked for, else jittered
    /// exponential backoff; never past the call's total budget.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>, waited: Duration) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            let exp = self.retry.base_delay * 2u32.saturating_pow(attempt.saturating_sub(1));
            // Full jitter keeps many clients from retrying in step.
            let jitter = rand::thread_rng().gen_range(0.5..1.0);
            exp.mul_f64(jitter)
        });
        wait.min(self.retry.max_delay.saturating_sub(waited))
    }
}

/// How a request failed, as far as resending it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The connection was never made: the platform saw nothing.
    NotSent,
    /// The platform refused it (429) without acting on it.
    Refused,
    /// A timeout or a gateway error: the platform may have acted on it, answer lost.
    Ambiguous,
}

impl Failure {
    fn of_transport(err: &reqwest::Error) -> Failure {
        if err.is_connect() {
            Failure::NotSent
        } else {
            Failure::Ambiguous
        }
    }
}

/// Whether a failed request may be sent again as it is. A request the platform may have
/// acted on is resent only when doing it twice is the same as once (GET, PUT, DELETE): a
/// POST or PATCH resent after a lost answer can create a second record. Those fail instead
/// (`Transient`, which `ProviderError::may_have_applied` reports), for the caller to look
/// the outcome up before it acts again.
fn may_resend(method: &Method, failure: Failure) -> bool {
    match failure {
        Failure::NotSent | Failure::Refused => true,
        Failure::Ambiguous => {
            matches!(
                *method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            )
        }
    }
}

pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub fn transport_error(provider: &'static str, url: &str, err: reqwest::Error) -> ProviderError {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let message = if err.is_timeout() {
        format!("{host} did not answer in time")
    } else if err.is_connect() {
        format!("cannot reach {host}: check the region or base URL")
    } else {
        format!("request to {host} failed: {err}")
    };
    ProviderError::new(provider, ProviderErrorKind::Transient, message)
}

/// Pulls a human message out of any of the platforms' error bodies.
fn error_message(text: &str) -> Option<String> {
    let body: Value = serde_json::from_str(text).ok()?;
    for key in [
        "message",
        "generalMessage",
        "error_description",
        "errorDescription",
        "error_Description",
        "errorMessage",
        "error",
    ] {
        match body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return Some(s.clone()),
            Some(Value::Array(items)) if !items.is_empty() => {
                return Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            _ => {}
        }
    }
    None
}

pub fn map_status(
    provider: &'static str,
    status: StatusCode,
    text: &str,
    correlation_id: Option<String>,
) -> ProviderError {
    use ProviderErrorKind as K;
    let kind = match status.as_u16() {
        401 => K::Unauthorized,
        403 => K::Forbidden,
        404 => K::NotFound,
        409 => K::Conflict,
        400 | 422 => K::Validation,
        429 => K::RateLimited,
        501 => K::Unsupported,
        _ => K::Transient,
    };
    let detail = error_message(text)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let message = match kind {
        K::Unauthorized => format!("the platform refused the credentials ({detail})"),
        K::Forbidden => {
            format!("permission denied: the platform account lacks a right this needs ({detail})")
        }
        K::RateLimited => format!("rate limited by the platform ({detail})"),
        _ => format!("{} {detail}", status.as_u16()),
    };
    ProviderError {
        kind,
        provider,
        message,
        raw_body: Some(text.chars().take(4000).collect()),
        correlation_id,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_requests_that_are_safe_to_repeat_are_resent_after_a_lost_answer() {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            assert!(may_resend(&method, Failure::Ambiguous), "{method}");
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(!may_resend(&method, Failure::Ambiguous), "{method}");
            assert!(may_resend(&method, Failure::NotSent), "{method}");
            assert!(may_resend(&method, Failure::Refused), "{method}");
        }
    }

    use super::*;

    #[test]
    fn error_bodies_of_each_platform_become_messages() {
        let genesys =
            r#"{"message":"Not authorized","code":"not.authorized","status":403,"contextId":"c1"}"#;
        let e = map_status("genesys", StatusCode::FORBIDDEN, genesys, Some("c1".into()));
        assert_eq!(e.kind, ProviderErrorKind::Forbidden);
        assert!(e.message.contains("Not authorized") && e.message.contains("permission"));
        assert_eq!(e.raw_body.as_deref(), Some(genesys));
        let ringcx = r#"{"generalMessage":"Gate not found","details":"x"}"#;
        assert!(
            map_status("ringcx", StatusCode::NOT_FOUND, ringcx, None)
                .message
                .contains("Gate not found")
        );
        let cxone = r#"{"error":"invalid_grant","error_description":"Bad access key"}"#;
        let e = map_status("cxone", StatusCode::UNAUTHORIZED, cxone, None);
        assert_eq!(e.kind, ProviderErrorKind::Unauthorized);
        assert!(e.message.contains("Bad access key"));
        assert_eq!(
            map_status("x", StatusCode::CONFLICT, "", None).kind,
            ProviderErrorKind::Conflict
        );
        assert_eq!(
            map_status("x", StatusCode::BAD_GATEWAY, "<html>", None).kind,
            ProviderErrorKind::Transient
        );
    }

    #[tokio::test]
    async fn the_throttle_lets_a_burst_through_then_spaces_requests() {
        let throttle = Throttle::new(600, 3);
        let started = Instant::now();
        for _ in 0..3 {
            throttle.wait().await;
        }
        assert!(started.elapsed() < Duration::from_millis(50), "burst of 3");
        throttle.wait().await;
        throttle.wait().await;
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "then 100ms apart: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
