//! RingCX's two-step sign-in: a RingCentral token (JWT bearer grant) exchanged for a RingCX
//! token, then the RingCX refresh token until it stops working.

use async_trait::async_trait;

use super::*;
use crate::providers::http::{self, Token, TokenSource, map_status, transport_error};

/// The RingCentral token and the RingCX refresh token, kept between fetches.
#[derive(Default)]
struct Session {
    rc_token: Option<(String, Instant)>,
    refresh_token: Option<String>,
}

pub(super) struct RcExchange {
    rc_base: String,
    ringcx_base: String,
    jwt: String,
    client_id: String,
    client_secret: String,
    session: Mutex<Session>,
}

fn json_body(text: &str, what: &str) -> Result<Value, ProviderError> {
    serde_json::from_str(text).map_err(|_| {
        ProviderError::new(
            NAME,
            ProviderErrorKind::Transient,
            format!("{what} response was not JSON"),
        )
    })
}

impl RcExchange {
    pub(super) fn new(config: &RingCxConfig) -> Self {
        RcExchange {
            rc_base: config.rc_base.clone(),
            ringcx_base: config.ringcx_base.clone(),
            jwt: config.jwt.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            session: Mutex::new(Session::default()),
        }
    }

    async fn post_form(
        &self,
        http: &reqwest::Client,
        url: &str,
        form: &[(&str, &str)],
        basic: bool,
    ) -> Result<(reqwest::StatusCode, String, Option<Duration>), ProviderError> {
        let mut request = http.post(url).form(form);
        if basic {
            request = request.basic_auth(&self.client_id, Some(&self.client_secret));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(NAME, url, e))?;
        let status = response.status();
        let wait = http::retry_after(response.headers());
        Ok((status, response.text().await.unwrap_or_default(), wait))
    }

    /// Step one: a RingCentral access token from the JWT credential (reused while valid).
    async fn rc_token(&self, http: &reqwest::Client) -> Result<String, ProviderError> {
        let mut session = self.session.lock().await;
        if let Some((token, expires)) = &session.rc_token
            && *expires > Instant::now() + Duration::from_secs(60)
        {
            return Ok(token.clone());
        }
        let url = format!("{}/restapi/oauth/token", self.rc_base.trim_end_matches('/'));
        let (status, text, wait) = self
            .post_form(
                http,
                &url,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &self.jwt),
                ],
                true,
            )
            .await?;
        if !status.is_success() {
            let mut err = map_status(NAME, status, &text, None);
            err.retry_after = wait;
            if matches!(status.as_u16(), 400 | 401) {
                err.kind = ProviderErrorKind::Unauthorized;
                err.message = "RingCentral refused the JWT credential or the app's client id/secret (JWT bearer grant)".into();
            }
            return Err(err);
        }
        let body = json_body(&text, "RingCentral token")?;
        let token = body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let expires_in = body["expires_in"].as_u64().unwrap_or(3600);
        session.rc_token = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        ));
        Ok(token)
    }

    /// Step two: the RingCX token for the RingCentral one (5 a minute: only when refresh fails).
    async fn exchange(&self, http: &reqwest::Client) -> Result<Value, ProviderError> {
        let rc_token = self.rc_token(http).await?;
        let url = format!(
            "{}/api/auth/login/rc/accesstoken?includeRefresh=true",
            self.ringcx_base.trim_end_matches('/')
        );
        let (status, text, wait) = self
            .post_form(
                http,
                &url,
                &[("rcAccessToken", &rc_token), ("rcTokenType", "Bearer")],
                false,
            )
            .await?;
        if !status.is_success() {
            let mut err = map_status(NAME, status, &text, None);
            err.retry_after = wait;
            if status.as_u16() == 401 {
                // A stale RingCentral token: the next attempt gets a new one.
                self.session.lock().await.rc_token = None;
                err.message = format!(
                    "RingCX did not accept the RingCentral token: is this RingCentral user a RingCX admin? ({})",
                    err.message
                );
            }
            return Err(err);
        }
        json_body(&text, "RingCX token exchange")
    }

    async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<Option<Value>, ProviderError> {
        // The published API takes the refresh token as a query parameter, not in the body.
        let url = format!(
            "{}/api/auth/token/refresh?refresh_token={}",
            self.ringcx_base.trim_end_matches('/'),
            url::form_urlencoded::byte_serialize(refresh_token.as_bytes()).collect::<String>()
        );
        let (status, text, wait) = self.post_form(http, &url, &[], false).await?;
        if status.is_success() {
            return json_body(&text, "RingCX token refresh").map(Some);
        }
        if matches!(status.as_u16(), 400 | 401 | 403 | 404) {
            // The refresh token is spent or expired: fall back to a new exchange.
            return Ok(None);
        }
        let mut err = map_status(NAME, status, &text, None);
        err.retry_after = wait;
        Err(err)
    }
}

#[async_trait]
impl TokenSource for RcExchange {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        previous: Option<&Token>,
    ) -> Result<Token, ProviderError> {
        let refresh_token = self.session.lock().await.refresh_token.clone();
        let mut details = None;
        if previous.is_some()
            && let Some(refresh_token) = refresh_token
        {
            details = self.refresh(http, &refresh_token).await?;
        }
        let details = match details {
            Some(d) => d,
            None => self.exchange(http).await?,
        };
        let access = details["accessToken"].as_str().unwrap_or_default();
        if access.is_empty() {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::Unauthorized,
                "RingCX returned no access token",
            ));
        }
        if let Some(refresh) = details["refreshToken"].as_str().filter(|r| !r.is_empty()) {
            self.session.lock().await.refresh_token = Some(refresh.to_string());
        }
        Ok(Token {
            access: access.to_string(),
            expires_at: Instant::now() + RINGCX_TOKEN_LIFETIME,
        })
    }
}
