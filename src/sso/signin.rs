//! "Sign in with your company account": the sign-in form's email picks the identity provider
//! by its domain, the browser goes to the provider, and the provider's callback signs the user
//! in: a user known by the provider's subject, an existing user of the provider's organization
//! linked on first use, or a new one created with the role the claims map to.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::oidc::{Identity, Outbound, Provider as Oidc, Returned};
use super::repo::{self, PendingLogin, Provider};
use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::cookies::Cookie;
use crate::auth::federated;
use crate::auth::pages::{form_token_ok, refused, safe_next, start_session};
use crate::domain::policy::OrgKind;
use crate::domain::sso::{RoleMap, email_domain, email_refusal, role_from_claims};
use crate::domain::{TenantId, UserId};
use crate::error::AppError;
use crate::outbound::Allowlist;
use crate::state::AppState;
use crate::web::{PageError, render};

/// How long a sign-in may stay at the provider.
const LOGIN_SECONDS: i64 = 600;

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    email: String,
    next: Option<String>,
    login_token: Option<String>,
}

pub async fn start(
    state: State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Form<StartForm>,
) -> Result<Response, PageError> {
    crate::db_scope::bypassing(
        crate::db_scope::Bypass::Authentication,
        begin(state, connect, headers, form),
    )
    .await
}

async fn begin(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let again = |status, why: String| {
        Ok(refused(
            &state,
            status,
            form.email.clone(),
            next.clone(),
            why,
            None,
        ))
    };
    if !form_token_ok(&state, &headers, form.login_token.as_deref()) {
        let why =
            "This sign-in form has expired or was not opened on this site. Please sign in again.";
        return again(StatusCode::FORBIDDEN, why.into());
    }
    let peer = connect.map(|Extension(ConnectInfo(peer))| peer.ip());
    let header = &state.config.server.client_address_header;
    if let Some(address) = crate::auth::throttle::client_address(peer, &headers, header)
        && let Some(seconds) = state.sign_in_limit.attempt(address)
    {
        let why = format!(
            "Too many sign-in attempts from your network. Try again in {seconds} second(s)."
        );
        let page = refused(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            form.email.clone(),
            next,
            why,
            Some(seconds),
        );
        return Ok(page);
    }
    let Some(domain) = email_domain(&form.email) else {
        let why = "Enter your work email address: it tells Inward which company sign-in to use.";
        return again(StatusCode::BAD_REQUEST, why.into());
    };
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let Some(provider) = repo::for_domain(&mut conn, &domain)
        .await
        .map_err(AppError::from)?
    else {
        let why = format!(
            "No company sign-in is set up for {domain}. Sign in with your password, or ask your administrator."
        );
        return again(StatusCode::BAD_REQUEST, why);
    };
    drop(conn);
    let redirect_uri = match callback_url(&state, &headers) {
        Some(url) => url,
        None => {
            return again(
                StatusCode::BAD_REQUEST,
                "This request names no usable host.".into(),
            );
        }
    };
    let oidc = Oidc {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        client_secret: "",
    };
    let (http, allow) = client(&state)?;
    let started = match state
        .sso
        .start(
            outbound(&state, &http, &allow),
            &oidc,
            &redirect_uri,
            Some(form.email.trim()),
        )
        .await
    {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e.detail(), "single sign-on could not start");
            return again(StatusCode::BAD_GATEWAY, e.to_string());
        }
    };
    let pending = PendingLogin {
        provider_id: provider.id,
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        next_path: next,
        redirect_uri,
    };
    repo::begin_login(
        &state.pool,
        &digest(&started.state),
        &pending,
        LOGIN_SECONDS,
    )
    .await
    .map_err(AppError::from)?;
    let cookie = state
        .cookies()
        .set(Cookie::SignOn, &started.state, Some(LOGIN_SECONDS));
    // A page that moves on by itself, not a redirect: the sign-in form's answer may only lead
    // to this site (`form-action 'self'`), and browsers hold a form's redirects to that too.
    let page = HandOff {
        url: started.url,
        provider: provider.name,
    };
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), render(&page)).into_response())
}

#[derive(askama::Template)]
#[template(path = "sso_redirect.html")]
struct HandOff {
    url: String,
    provider: String,
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    state: State<AppState>,
    headers: HeaderMap,
    query: Query<Callback>,
) -> Result<Response, PageError> {
    crate::db_scope::bypassing(
        crate::db_scope::Bypass::Authentication,
        finish(state, headers, query),
    )
    .await
}

async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Result<Response, PageError> {
    let again = |status, why: String| {
        let page = refused(&state, status, String::new(), "/".into(), why, None);
        let spent = state.cookies().set(Cookie::SignOn, "", None);
        Ok(([(header::SET_COOKIE, spent)], page).into_response())
    };
    let Some(sent) = back.state.filter(|s| !s.is_empty() && s.len() <= 200) else {
        return again(
            StatusCode::BAD_REQUEST,
            "The sign-in came back without its state. Please sign in again.".into(),
        );
    };
    // Only the browser that started the sign-in may finish it: a link to this callback,
    // opened elsewhere, would otherwise sign that browser in as whoever started it.
    if state.cookies().get(&headers, Cookie::SignOn).as_deref() != Some(sent.as_str()) {
        return again(
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser or has expired. Please sign in again."
                .into(),
        );
    }
    let Some(pending) = repo::take_login(&state.pool, &digest(&sent))
        .await
        .map_err(AppError::from)?
    else {
        return again(
            StatusCode::FORBIDDEN,
            "This sign-in has already been used or has expired. Please sign in again.".into(),
        );
    };
    if let Some(error) = back.error {
        let said = back.error_description.unwrap_or(error);
        return again(
            StatusCode::UNAUTHORIZED,
            format!("Your company's sign-in service did not sign you in: {said}"),
        );
    }
    let Some(code) = back.code else {
        return again(
            StatusCode::BAD_REQUEST,
            "The sign-in came back without a code. Please sign in again.".into(),
        );
    };
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let provider = repo::get(&mut conn, pending.provider_id)
        .await
        .map_err(AppError::from)?;
    let sealed = repo::sealed_secret(&mut conn, pending.provider_id)
        .await
        .map_err(AppError::from)?;
    drop(conn);
    let (Some(provider), Some(sealed)) = (provider, sealed) else {
        return again(
            StatusCode::FORBIDDEN,
            "This company sign-in has been removed. Please sign in again.".into(),
        );
    };
    let secret = match state.secrets.open(&sealed, &super::sealed_for(provider.id)) {
        Ok(opened) => String::from_utf8_lossy(&opened.plaintext).into_owned(),
        Err(e) => {
            tracing::error!(provider = %provider.id, error = %e, "an identity provider's secret does not open");
            let why = "This company sign-in cannot be used right now: its secret does not open with this server's key. Tell the platform operator.";
            return again(StatusCode::SERVICE_UNAVAILABLE, why.into());
        }
    };
    let oidc = Oidc {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        client_secret: &secret,
    };
    let (http, allow) = client(&state)?;
    let identity = match state
        .sso
        .finish(
            outbound(&state, &http, &allow),
            &oidc,
            &Returned {
                redirect_uri: &pending.redirect_uri,
                code: &code,
                pkce_verifier: &pending.pkce_verifier,
                nonce: &pending.nonce,
            },
        )
        .await
    {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e.detail(), "single sign-on refused");
            return again(StatusCode::UNAUTHORIZED, e.to_string());
        }
    };
    if let Some(why) = email_refusal(
        identity.email.as_deref(),
        identity.email_verified,
        &provider.domains,
    ) {
        return again(
            StatusCode::FORBIDDEN,
            format!("You cannot sign in here: {why}."),
        );
    }
    match user_for(&state, &provider, &identity).await? {
        Ok(user) => {
            let mut response = start_session(&state, user, &pending.next_path).await?;
            let spent = state.cookies().set(Cookie::SignOn, "", None);
            response.headers_mut().append(
                header::SET_COOKIE,
                spent
                    .parse()
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?,
            );
            Ok(response)
        }
        Err(why) => again(StatusCode::FORBIDDEN, why),
    }
}

/// The user the identity signs in as, or why there is none. A user found again gets the role
/// its claims map to now, when the provider maps a claim (a demotion at the company holds
/// here from the next sign-in).
async fn user_for(
    state: &AppState,
    provider: &Provider,
    identity: &Identity,
) -> Result<Result<UserId, String>, AppError> {
    // `a@globex.test.` is `a@globex.test`, as its domain was read.
    let email = identity
        .email
        .as_deref()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('.');
    if identity.subject.is_empty() || identity.subject.len() > 255 {
        return Ok(Err(
            "your company account's identifier is empty or longer than Inward keeps (255 characters); tell your administrator".into(),
        ));
    }
    let kind = match provider.org_kind.as_str() {
        "tenant" => OrgKind::Tenant,
        "reseller" => OrgKind::Reseller,
        _ => OrgKind::Operator,
    };
    let allowed = crate::auth::users::roles_for(kind);
    let map = RoleMap::parse(&provider.role_map, allowed).unwrap_or_default();
    let Some(role) = role_from_claims(
        &identity.claims,
        provider.role_claim.as_deref(),
        &map,
        allowed,
    ) else {
        return Ok(Err(format!(
            "{} has no roles its users could be given; tell the platform operator",
            provider.name
        )));
    };
    let mut tx = state.pool.begin().await?;
    let by_subject = federated::by_subject(&mut tx, provider.id, &identity.subject).await?;
    let known_subject = by_subject.is_some();
    let found = match by_subject {
        Some(user) => Some(user),
        None => federated::by_email(&mut tx, email).await?,
    };
    let audit = Audit {
        provider,
        tenant: (kind == OrgKind::Tenant).then_some(TenantId(provider.org_id)),
    };
    let disabled = "This account is disabled. Ask your organization's administrator.";
    let user = match found {
        Some(user) if user.disabled => return Ok(Err(disabled.into())),
        Some(user) if user.org_id != provider.org_id => {
            return Ok(Err(format!(
                "{email} is a user of another organization, which does not sign in through {}.",
                provider.name
            )));
        }
        // The address is tied to another account at this provider (or at another one): the
        // provider reassigned it, and the old account is not the new holder's.
        Some(user) if user.provider.is_some() && !known_subject => {
            return Ok(Err(format!(
                "{email} belongs to another account of a company sign-in; ask your administrator."
            )));
        }
        // An account made with a password is taken over only on the provider's word that the
        // address is its holder's.
        Some(user) if user.provider.is_none() && identity.email_verified != Some(true) => {
            return Ok(Err(format!(
                "{email} already has an account here, and your company sign-in does not say the address is verified, so the two cannot be joined; ask your administrator."
            )));
        }
        Some(user) => {
            if user.provider.is_none() {
                federated::link(&mut tx, user.id, provider.id, &identity.subject).await?;
                let details = json!({ "event": "user_linked", "user_id": user.id, "email": email,
                                      "identity_provider": provider.name });
                audit
                    .record(&mut tx, Action::IdentityProvider, user.id, details)
                    .await?;
            }
            if provider.role_claim.is_some() && user.role != role.as_str() {
                federated::set_role(&mut tx, user.id, role).await?;
                let details = json!({ "user_id": user.id, "email": email, "role": role.as_str(),
                                      "was": user.role, "via": "single sign-on" });
                audit
                    .record(&mut tx, Action::UserRole, user.id, details)
                    .await?;
            }
            user.id
        }
        None => {
            let Some(id) = federated::create(
                &mut tx,
                provider.org_id,
                email,
                role,
                provider.id,
                &identity.subject,
            )
            .await?
            else {
                return Ok(Err(
                    "Your account was being created by another sign-in. Please sign in again."
                        .into(),
                ));
            };
            let details = json!({ "user_id": id, "email": email, "role": role.as_str(),
                                  "via": "single sign-on", "identity_provider": provider.name });
            audit
                .record(&mut tx, Action::UserCreate, id, details)
                .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(Ok(user))
}

/// Audit entries about a user, in the provider's organization, by the user.
struct Audit<'a> {
    provider: &'a Provider,
    tenant: Option<TenantId>,
}

impl Audit<'_> {
    async fn record(
        &self,
        conn: &mut sqlx::PgConnection,
        action: Action,
        user: UserId,
        details: serde_json::Value,
    ) -> Result<(), AppError> {
        let entry = Entry::new(action, Outcome::Success)
            .by(self.tenant, Some(user), None)
            .org(self.provider.org_id)
            .target("user", Some(&user.to_string()))
            .details(details);
        audit::repo::record(conn, &entry).await?;
        Ok(())
    }
}

fn digest(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

fn outbound<'a>(state: &AppState, http: &'a reqwest::Client, allow: &'a Allowlist) -> Outbound<'a> {
    Outbound {
        http,
        allow,
        max_age: Duration::from_secs(state.config.sso.discovery_cache_seconds),
    }
}

fn client(state: &AppState) -> Result<(reqwest::Client, Allowlist), AppError> {
    let allow = state.outbound_policy().allow;
    let http = crate::outbound::client("identity provider", &allow, Duration::from_secs(10))?;
    Ok((http, allow))
}

/// Where the provider sends the browser back: `sso.public_url`, or the address this request
/// came to.
fn callback_url(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let configured = state.config.sso.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return Some(format!("{configured}/login/sso/callback"));
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if state.config.server.secure_cookies {
        "https"
    } else {
        "http"
    };
    let base = url::Url::parse(&format!("{scheme}://{host}")).ok()?;
    (base.path() == "/"
        && base.query().is_none()
        && base.username().is_empty()
        && base.host().is_some())
    .then(|| format!("{scheme}://{host}/login/sso/callback"))
}
