//! An OpenID provider, for the single sign-on tests and the demo: discovery, its signing keys
//! (RS256, real RSA keys made at start), an authorization endpoint that signs in whoever the
//! login hint names (or asks for an email), and a token endpoint that checks the client, the
//! code's redirect URI and PKCE, and answers an ID token. `/__sim/oidc` switches what the
//! next tokens look like (a rotated key, a bad signature, another audience, expired) and
//! `/__sim/oidc/users` gives a user claims (groups). Its issuer is the address it is reached
//! at: `http://127.0.0.1:9103` for `inward simulate --platform oidc --listen 127.0.0.1:9103`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EndUserEmail, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A user's claims beyond the standard ones (groups, say).
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, Value>,
}

impl openidconnect::AdditionalClaims for OtherClaims {}

pub const CLIENT_ID: &str = "inward";
pub const CLIENT_SECRET: &str = "inward-sim-secret";

type Token = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

struct Key {
    kid: String,
    signing: CoreRsaPrivateSigningKey,
}

fn new_key(kid: String) -> Result<Key, String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot make an RSA signing key: {e}");
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| failed(&e))?;
    let pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| failed(&e))?;
    let signing = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.clone())))
        .map_err(|e| failed(&e))?;
    Ok(Key { kid, signing })
}

/// What the next ID tokens look like.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    /// Signed by a key that is not published, under the published key's id.
    #[serde(default)]
    pub bad_signature: bool,
    /// Issued for this audience instead of the client.
    pub audience: Option<String>,
    /// Expired ten minutes ago.
    #[serde(default)]
    pub expired: bool,
    /// This `email_verified` instead of true.
    pub email_verified: Option<bool>,
    /// No `email_verified` claim at all, as some providers send.
    #[serde(default)]
    pub omit_email_verified: bool,
    /// Signed HS256 with the client secret (which discovery also advertises), as an attacker
    /// who knows the secret would.
    #[serde(default)]
    pub hs256: bool,
    /// The key set's address that discovery names instead of its own.
    pub jwks_uri: Option<String>,
    /// This email instead of the one that signed in.
    pub email: Option<String>,
    /// This subject instead of the one made from the email.
    pub subject: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    /// A new signing key replaces the published one.
    #[serde(default)]
    rotate: bool,
    /// What the next tokens look like (`{}`: as they should).
    set: Option<Switches>,
}

struct Grant {
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    email: String,
    at: Instant,
}

struct Inner {
    key: Key,
    rotations: u32,
    switches: Switches,
    codes: HashMap<String, Grant>,
    /// Extra claims by email (groups, say).
    users: HashMap<String, serde_json::Map<String, Value>>,
    /// Codes the token endpoint has accepted, and key sets served, for the tests.
    exchanged: u32,
    jwks_served: u32,
}

#[derive(Clone)]
pub struct SimState(Arc<Mutex<Inner>>);

impl SimState {
    /// A provider with its first signing key; Err when no key can be made.
    pub fn new() -> Result<SimState, String> {
        Ok(SimState(Arc::new(Mutex::new(Inner {
            key: new_key("key-1".into())?,
            rotations: 1,
            switches: Switches::default(),
            codes: HashMap::new(),
            users: HashMap::new(),
            exchanged: 0,
            jwks_served: 0,
        }))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/__sim/oidc", post(control).get(report))
        .route("/__sim/oidc/users", post(user))
        .with_state(state)
}

/// The issuer: the scheme and host this request came to.
fn issuer(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn discovery(State(sim): State<SimState>, headers: HeaderMap) -> Json<Value> {
    let base = issuer(&headers);
    let jwks_uri = sim
        .lock()
        .switches
        .jwks_uri
        .clone()
        .unwrap_or_else(|| format!("{base}/jwks"));
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": jwks_uri,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email", "email_verified", "groups"],
    }))
}

async fn jwks(State(sim): State<SimState>) -> Json<Value> {
    let mut inner = sim.lock();
    inner.jwks_served += 1;
    let public: CoreJsonWebKey = inner.key.signing.as_verification_key();
    Json(json!({ "keys": [public] }))
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
}

fn refuse(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, Html(format!("<p>{why}</p>"))).into_response()
}

async fn authorize(State(sim): State<SimState>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id.as_deref() != Some(CLIENT_ID) {
        return refuse("unknown client_id");
    }
    if q.response_type.as_deref() != Some("code") {
        return refuse("response_type must be code");
    }
    if !q
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .any(|s| s == "openid")
    {
        return refuse("the openid scope is missing");
    }
    let (Some(redirect_uri), Some(challenge)) = (q.redirect_uri.clone(), q.code_challenge.clone())
    else {
        return refuse("redirect_uri and code_challenge are required");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return refuse("code_challenge_method must be S256");
    }
    let Some(email) = q.login_hint.clone().filter(|e| e.contains('@')) else {
        // Whoever signs in types their email, as on a real provider's page.
        return Html(
            "<form method=\"get\"><label>Email <input name=\"login_hint\" type=\"email\"></label>\
             <button>Sign in</button></form>"
                .to_string(),
        )
        .into_response();
    };
    let code = crate::hex::encode(&rand::random::<[u8; 16]>());
    sim.lock().codes.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.clone(),
            nonce: q.nonce,
            challenge,
            email,
            at: Instant::now(),
        },
    );
    let mut back = match url::Url::parse(&redirect_uri) {
        Ok(url) => url,
        Err(_) => return refuse("redirect_uri is not a URL"),
    };
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = q.state {
        back.query_pairs_mut().append_pair("state", &state);
    }
    Redirect::to(back.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

/// The client's id and secret, from HTTP Basic or the form.
fn client_of(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

async fn token(
    State(sim): State<SimState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if client_of(&headers, &form) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if form.grant_type != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code only",
        );
    }
    let mut inner = sim.lock();
    let Some(grant) = inner.codes.remove(&form.code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if grant.at.elapsed() > Duration::from_secs(600)
        || form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str())
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "expired code or another redirect_uri",
        );
    }
    let verifier = form.code_verifier.unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    inner.exchanged += 1;
    let id_token = match sign(&inner, &issuer(&headers), &grant) {
        Ok(t) => t,
        Err(e) => return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    };
    Json(json!({
        "access_token": crate::hex::encode(&rand::random::<[u8; 16]>()),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

fn sign(inner: &Inner, issuer: &str, grant: &Grant) -> Result<Value, String> {
    let s = &inner.switches;
    let now = chrono::Utc::now();
    let (issued, expires) = if s.expired {
        (
            now - chrono::Duration::minutes(20),
            now - chrono::Duration::minutes(10),
        )
    } else {
        (now, now + chrono::Duration::minutes(5))
    };
    let subject = s.subject.clone().unwrap_or_else(|| {
        format!(
            "sim-{}",
            &crate::hex::encode(&Sha256::digest(grant.email.to_lowercase().as_bytes()))[..16]
        )
    });
    let email = s.email.clone().unwrap_or_else(|| grant.email.clone());
    let standard = StandardClaims::new(SubjectIdentifier::new(subject))
        .set_email(Some(EndUserEmail::new(email)))
        .set_email_verified((!s.omit_email_verified).then_some(s.email_verified.unwrap_or(true)));
    let extra = OtherClaims {
        claims: inner
            .users
            .get(&grant.email.to_lowercase())
            .cloned()
            .unwrap_or_default(),
    };
    let audience = s.audience.clone().unwrap_or_else(|| CLIENT_ID.to_string());
    let claims = IdTokenClaims::new(
        IssuerUrl::new(issuer.to_string()).map_err(|e| e.to_string())?,
        vec![Audience::new(audience)],
        expires,
        issued,
        standard,
        extra,
    )
    .set_nonce(grant.nonce.clone().map(Nonce::new));
    let token = if s.hs256 {
        let key = openidconnect::core::CoreHmacKey::new(CLIENT_SECRET);
        Token::new(
            claims,
            &key,
            CoreJwsSigningAlgorithm::HmacSha256,
            None,
            None,
        )
    } else if s.bad_signature {
        let forged = new_key(inner.key.kid.clone())?;
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        Token::new(claims, &forged.signing, alg, None, None)
    } else {
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        Token::new(claims, &inner.key.signing, alg, None, None)
    }
    .map_err(|e| e.to_string())?;
    serde_json::to_value(&token).map_err(|e| e.to_string())
}

async fn control(State(sim): State<SimState>, Json(c): Json<Control>) -> Response {
    // A new key outside the lock: making one takes a moment.
    let fresh = if c.rotate {
        let n = sim.lock().rotations + 1;
        match new_key(format!("key-{n}")) {
            Ok(key) => Some((n, key)),
            Err(e) => return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
        }
    } else {
        None
    };
    let mut inner = sim.lock();
    if let Some((n, key)) = fresh {
        inner.key = key;
        inner.rotations = n;
    }
    if let Some(switches) = c.set {
        inner.switches = switches;
    }
    Json(json!({ "kid": inner.key.kid })).into_response()
}

async fn report(State(sim): State<SimState>) -> Json<Value> {
    let inner = sim.lock();
    Json(json!({ "kid": inner.key.kid, "exchanged": inner.exchanged,
                 "jwks_served": inner.jwks_served }))
}

#[derive(Debug, Deserialize)]
struct UserClaims {
    email: String,
    claims: serde_json::Map<String, Value>,
}

async fn user(State(sim): State<SimState>, Json(u): Json<UserClaims>) -> StatusCode {
    sim.lock().users.insert(u.email.to_lowercase(), u.claims);
    StatusCode::NO_CONTENT
}
