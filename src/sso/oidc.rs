//! The OpenID Connect side of a sign-in, through the openidconnect crate: the provider's
//! discovery document and keys (kept for `sso.discovery_cache_seconds`, fetched again at once
//! when a token names a key not among them), the authorization URL with PKCE, state and nonce,
//! and the code exchanged for an ID token whose signature, issuer, audience, expiry and nonce
//! are checked (RS256 only). Every request, to the issuer or to the addresses its discovery
//! document names, obeys the outbound rules (https at public addresses, or the operator's
//! allow-list; no redirects), checked before it is sent.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every claim of the ID token beyond the standard ones, so the role mapping can read the one
/// the operator names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type TokenFields = openidconnect::IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenAnswer = StandardTokenResponse<TokenFields, CoreTokenType>;
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in through a provider did not complete, in words for the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum SignOnError {
    /// The detail goes to the log only: the page would otherwise tell anyone what the
    /// provider's addresses answer.
    #[error(
        "Inward could not reach your company's sign-in service. Try again shortly, or tell your administrator."
    )]
    Unreachable(String),
    #[error("Your company's sign-in service refused the sign-in ({0}).")]
    Refused(String),
    #[error("Your company's sign-in service sent a token Inward cannot trust: {0}.")]
    Untrusted(String),
}

impl SignOnError {
    /// What the log says: the whole story, the unreachable provider's too.
    pub fn detail(&self) -> String {
        match self {
            SignOnError::Unreachable(detail) => format!("unreachable: {detail}"),
            other => other.to_string(),
        }
    }
}

/// How a sign-in calls out: the guarded client, the addresses it may reach, and how long a
/// discovery document is kept.
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub http: &'a reqwest::Client,
    pub allow: &'a crate::outbound::Allowlist,
    pub max_age: Duration,
}

/// Providers' discovery documents with their keys, by issuer.
#[derive(Default)]
pub struct Discovery {
    cached: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// One provider as a sign-in sees it.
pub struct Provider<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// Where to send the browser, and what the callback must hold to finish.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What the provider's callback brought back, with what the sign-in kept for it.
#[derive(Clone, Copy)]
pub struct Returned<'a> {
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
}

/// Who the provider says signed in.
#[derive(Debug)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub claims: Map<String, Value>,
}

impl Discovery {
    async fn metadata(
        &self,
        out: Outbound<'_>,
        issuer: &str,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, SignOnError> {
        if !fresh
            && let Some((at, metadata)) = self
                .cached
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(issuer)
            && at.elapsed() < out.max_age
        {
            return Ok(metadata.clone());
        }
        let issuer_url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| SignOnError::Unreachable(format!("the issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &Sender(out))
            .await
            .map_err(|e| SignOnError::Unreachable(chain(&e)))?;
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(issuer.to_string(), (Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Forgets what was fetched of an issuer (its provider changed).
    pub fn forget(&self, issuer: &str) {
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(issuer);
    }

    /// The authorization URL for a new sign-in, with its state, nonce and PKCE verifier.
    pub async fn start(
        &self,
        out: Outbound<'_>,
        provider: &Provider<'_>,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<Started, SignOnError> {
        let metadata = self.metadata(out, provider.issuer, false).await?;
        let client = client(metadata, provider, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.url();
        // The browser is sent there: an address outside the rules (or not http at all) is no
        // provider's sign-in page.
        crate::outbound::check_issuer_url(url.as_str(), out.allow)
            .map_err(|why| SignOnError::Unreachable(format!("authorization endpoint: {why}")))?;
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the callback's code and checks the ID token. A token signed by a key the
    /// cached set lacks fetches the provider's keys again once (the provider rotated them).
    pub async fn finish(
        &self,
        out: Outbound<'_>,
        provider: &Provider<'_>,
        back: &Returned<'_>,
    ) -> Result<Identity, SignOnError> {
        let Returned {
            redirect_uri,
            code,
            pkce_verifier,
            nonce,
        } = *back;
        let metadata = self.metadata(out, provider.issuer, false).await?;
        let client = client(metadata, provider, redirect_uri)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SignOnError::Refused(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&Sender(out))
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(body) => SignOnError::Refused(body.to_string()),
                RequestTokenError::Request(e) => SignOnError::Unreachable(e.to_string()),
                other => SignOnError::Refused(chain(&other)),
            })?;
        let token = openidconnect::TokenResponse::id_token(&answer)
            .ok_or_else(|| SignOnError::Untrusted("the answer carried no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let verified = match token.claims(&verifier(&client), &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.metadata(out, provider.issuer, true).await?;
                let client = self::client(fresh, provider, redirect_uri)?;
                token.claims(&verifier(&client), &nonce).cloned()
            }
            other => other.cloned(),
        }
        .map_err(|e| SignOnError::Untrusted(untrusted(&e)))?;
        Ok(Identity {
            subject: verified.subject().to_string(),
            email: verified.email().map(|e| e.to_string()),
            email_verified: verified.email_verified(),
            claims: verified.additional_claims().claims.clone(),
        })
    }
}

/// The ID token's checks: the provider's keys, RS256 alone (never an algorithm the provider
/// names, such as HS256 keyed with the client secret), the issuer, this client as audience,
/// expiry.
fn verifier(client: &Client) -> openidconnect::IdTokenVerifier<'_, CoreJsonWebKey> {
    client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
}

fn client(
    metadata: CoreProviderMetadata,
    provider: &Provider<'_>,
    redirect_uri: &str,
) -> Result<Client, SignOnError> {
    let redirect = RedirectUrl::new(redirect_uri.to_string())
        .map_err(|e| SignOnError::Refused(format!("the return address is not a URL: {e}")))?;
    Ok(Client::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.to_string()),
        Some(ClientSecret::new(provider.client_secret.to_string())),
    )
    .set_redirect_uri(redirect))
}

/// What was wrong with a token, said plainly.
fn untrusted(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::Expired(_) => "it has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "it was issued for another application (audience)".into()
        }
        ClaimsVerificationError::InvalidIssuer(_) => "it names another issuer".into(),
        ClaimsVerificationError::InvalidNonce(_) => "it belongs to another sign-in (nonce)".into(),
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "it is signed with a key the provider does not publish".into(),
        ClaimsVerificationError::SignatureVerification(_) => "its signature does not verify".into(),
        other => other.to_string(),
    }
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

/// openidconnect's requests sent with the guarded client, each to an address the outbound
/// rules admit (the discovery document names the key set's and the token endpoint's).
struct Sender<'a>(Outbound<'a>);

impl<'c> AsyncHttpClient<'c> for Sender<'_> {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let url = request.uri().to_string();
            crate::outbound::check_issuer_url(&url, self.0.allow)
                .map_err(|why| HttpFailure(format!("{url}: {why}")))?;
            let request =
                reqwest::Request::try_from(request).map_err(|e| HttpFailure(chain(&e)))?;
            let response = self
                .0
                .http
                .execute(request)
                .await
                .map_err(|e| HttpFailure(chain(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| HttpFailure(chain(&e)))?;
            let mut answer = HttpResponse::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
