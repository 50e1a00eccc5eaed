//! The platforms' standard OAuth2 token exchanges (RFC 6749): Genesys's client-credentials
//! grant and CXone's password grant. The oauth2 crate builds the request (form, HTTP Basic
//! client authentication with the RFC's encoding) and reads the answer; the HTTP goes through
//! the adapter's own client, so the outbound allow-list and timeouts hold, and a refusal keeps
//! its status, body and `Retry-After` for the token retry loop. RingCX's two-step exchange (a
//! JWT-bearer grant, then RingCX's own form) is no standard grant and stays hand-written.

use std::time::{Duration, Instant};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointNotSet, ExtraTokenFields, HttpRequest,
    HttpResponse, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::http::{Token, map_status, transport_error};
use super::{ProviderError, ProviderErrorKind};

/// What the token endpoints answer beyond RFC 6749's fields: CXone's `id_token`, which names
/// the tenant (and so the API host).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdToken {}

pub type Answer = StandardTokenResponse<IdToken, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    Answer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    oauth2::EndpointSet,
>;

/// Which grant to ask for.
pub enum Grant<'a> {
    ClientCredentials,
    Password {
        username: &'a str,
        password: &'a str,
    },
}

/// The client credentials and where to send them.
pub struct Exchange<'a> {
    pub provider: &'static str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// Said when the platform refuses the credentials (400 or 401).
    pub refused: &'a str,
}

impl Exchange<'_> {
    pub async fn run(
        &self,
        http: &reqwest::Client,
        grant: Grant<'_>,
    ) -> Result<Answer, ProviderError> {
        let token_url = TokenUrl::new(self.token_url.to_string()).map_err(|e| {
            ProviderError::new(
                self.provider,
                ProviderErrorKind::Validation,
                format!("the token endpoint “{}” is not a URL: {e}", self.token_url),
            )
        })?;
        let client: Client = oauth2::Client::new(ClientId::new(self.client_id.to_string()))
            .set_client_secret(ClientSecret::new(self.client_secret.to_string()))
            .set_token_uri(token_url);
        let sender = Sender {
            http,
            provider: self.provider,
            refused: self.refused,
        };
        let answer = match grant {
            Grant::ClientCredentials => {
                client
                    .exchange_client_credentials()
                    .request_async(&sender)
                    .await
            }
            Grant::Password { username, password } => {
                let username = ResourceOwnerUsername::new(username.to_string());
                let password = ResourceOwnerPassword::new(password.to_string());
                client
                    .exchange_password(&username, &password)
                    .request_async(&sender)
                    .await
            }
        };
        answer.map_err(|err| self.mapped(err))
    }

    fn mapped(&self, err: RequestTokenError<ProviderError, BasicErrorResponse>) -> ProviderError {
        match err {
            RequestTokenError::Request(e) => e,
            // Refusals come back as `Request` (see `Sender`); this is a 2xx with an error body.
            RequestTokenError::ServerResponse(body) => ProviderError::new(
                self.provider,
                ProviderErrorKind::Unauthorized,
                format!("{} ({body})", self.refused),
            ),
            RequestTokenError::Parse(why, _) => ProviderError::new(
                self.provider,
                ProviderErrorKind::Transient,
                format!("the token response could not be read: {why}"),
            ),
            RequestTokenError::Other(why) => ProviderError::new(
                self.provider,
                ProviderErrorKind::Transient,
                format!("the token exchange failed: {why}"),
            ),
        }
    }
}

/// The token an answer carries, due to be replaced when it expires (a platform that does not
/// say gets `default_ttl`).
pub fn token(answer: &Answer, default_ttl: Duration) -> Token {
    Token {
        access: answer.access_token().secret().clone(),
        expires_at: Instant::now() + answer.expires_in().unwrap_or(default_ttl),
    }
}

/// oauth2's request sent with the adapter's client. Anything but a 2xx comes back as the
/// platform's error, with its status, body and `Retry-After`; a 400 or 401 (RFC 6749's
/// `invalid_client`, `invalid_grant`) says the credentials were refused.
struct Sender<'a> {
    http: &'a reqwest::Client,
    provider: &'static str,
    refused: &'a str,
}

impl<'c> AsyncHttpClient<'c> for Sender<'_> {
    type Error = ProviderError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, ProviderError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let url = request.uri().to_string();
            let request = reqwest::Request::try_from(request)
                .map_err(|e| transport_error(self.provider, &url, e))?;
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| transport_error(self.provider, &url, e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| transport_error(self.provider, &url, e))?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&body);
                let mut err = map_status(self.provider, status, &text, None)
                    .waiting(super::http::retry_after(&headers));
                if matches!(status.as_u16(), 400 | 401) {
                    err.kind = ProviderErrorKind::Unauthorized;
                    err.message = self.refused.to_string();
                }
                return Err(err);
            }
            let mut answer = HttpResponse::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
