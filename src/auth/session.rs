//! Who is calling: the middleware that resolves a request's API token or session cookie to
//! its principal (cached per instance, forgotten at once on logout or revocation) and checks
//! the CSRF token of a browser's unsafe request.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rate_limit::{self, Verdict};
use super::{
    Authenticated, CSRF_FIELD, CSRF_HEADER, CachedCaller, cookies, password, repo, tokens,
};
use crate::error::AppError;
use crate::state::AppState;

const MAX_FORM_BYTES: usize = 1 << 20;

/// The session token the request carries, under the cookie name this configuration uses.
pub fn session_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    state.cookies().get(headers, cookies::Cookie::Session)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // A refusal here answers as the route would: JSON on the API, a page elsewhere.
    let api = request.uri().path().starts_with("/api/");
    // A caller's change sends their reads to the primary for a while (see `reads`).
    let writes = !request.method().is_safe();
    let resolved = crate::db_scope::bypassing(
        crate::db_scope::Bypass::Authentication,
        resolve(&state, request),
    )
    .await;
    match resolved {
        // The rest of the request sees its caller's rows; a request without a caller, none.
        Ok(request) => match request.extensions().get::<Authenticated>() {
            Some(authenticated) => {
                let span = tracing::Span::current();
                span.record(
                    "user",
                    tracing::field::display(authenticated.principal.user_id),
                );
                span.record(
                    "org",
                    tracing::field::display(authenticated.principal.org_id),
                );
                let principal = &authenticated.principal;
                let verdict = if api {
                    state.api_limits.check(principal.role, principal.user_id)
                } else {
                    Verdict::Unlimited
                };
                let mut response = match verdict {
                    Verdict::Refused {
                        limit, retry_after, ..
                    } => AppError::RateLimited { limit, retry_after }.into_response(),
                    _ => {
                        // Before as well as after: a refused change may answer with a page
                        // drawn from reads, and a change whose client went away still ran.
                        let user = principal.user_id;
                        if writes {
                            state.caller_wrote(user);
                        }
                        let scope = crate::db_scope::Scope::of(&authenticated.principal);
                        let response = crate::db_scope::within(scope, next.run(request)).await;
                        if writes {
                            state.caller_wrote(user);
                        }
                        response
                    }
                };
                response.headers_mut().extend(rate_limit::headers(&verdict));
                response
            }
            None => next.run(request).await,
        },
        Err(err) if api => err.into_response(),
        Err(err) => crate::web::PageError(err).into_response(),
    }
}

async fn resolve(state: &AppState, request: Request) -> Result<Request, AppError> {
    let (mut parts, body) = request.into_parts();
    let mut body = body;
    let authenticated = if let Some(token) = bearer_token(&parts.headers) {
        Some(
            caller(state, token, Via::ApiToken)
                .await?
                .ok_or(AppError::Unauthenticated)?,
        )
    } else if let Some(token) = session_token(state, &parts.headers) {
        caller(state, &token, Via::Session).await?
    } else {
        None
    };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method
        && let Some(Authenticated {
            csrf: Some(expected),
            ..
        }) = &authenticated
        && !matches!(parts.uri.path(), "/login" | "/login/sso")
    {
        let presented = match parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
            Some(header) => Some(header.to_string()),
            None if is_form(&parts.headers) => {
                let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
                    AppError::invalid("body_too_large", "the form is larger than 1 MiB")
                })?;
                let field = url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v.into_owned());
                body = Body::from(bytes);
                field
            }
            None => None,
        };
        if presented.as_deref() != Some(expected.as_str()) {
            return Err(AppError::Csrf);
        }
    }
    if let Some(authenticated) = authenticated {
        parts.extensions.insert(authenticated);
    }
    Ok(Request::from_parts(parts, body))
}

#[derive(Clone, Copy)]
enum Via {
    ApiToken,
    Session,
}

/// The caller behind a token, from the cache when a fresh entry is there. Unknown tokens
/// are never cached, so guessing cannot fill the cache.
async fn caller(
    state: &AppState,
    token: &str,
    via: Via,
) -> Result<Option<Authenticated>, AppError> {
    let key = cache_key(token, via);
    if let Some(authenticated) = state.callers.get(&key).and_then(CachedCaller::fresh) {
        return Ok(Some(authenticated));
    }
    let ticket = state.callers.ticket();
    let found = match via {
        Via::ApiToken => {
            tokens::principal_for(&state.pool, token)
                .await?
                .map(|(principal, expires_at)| {
                    let authenticated = Authenticated {
                        principal,
                        csrf: None,
                    };
                    CachedCaller::new(authenticated, expires_at)
                })
        }
        Via::Session => repo::session(&state.pool, token)
            .await?
            .map(|(authenticated, expires_at)| CachedCaller::new(authenticated, Some(expires_at))),
    };
    Ok(found.and_then(|found| {
        state.callers.insert(ticket, key, found.clone());
        found.fresh()
    }))
}

/// Forgets a session on this instance at once (logout); other instances hear of it from
/// the database's notification.
pub fn forget_session(state: &AppState, token: &str) {
    state.callers.remove(&cache_key(token, Via::Session));
}

/// Forgets an ended session on this instance at once, by its stored digest.
pub fn forget_session_digest(state: &AppState, mut digest: Vec<u8>) {
    digest.push(Via::Session as u8);
    state.callers.remove(&digest);
}

/// Forgets a revoked API token on this instance at once, by its stored digest.
pub fn forget_token_digest(state: &AppState, mut digest: Vec<u8>) {
    digest.push(Via::ApiToken as u8);
    state.callers.remove(&digest);
}

/// API tokens and session tokens are drawn from the same random space but kept apart.
fn cache_key(token: &str, via: Via) -> Vec<u8> {
    let mut key = password::token_digest(token);
    key.push(via as u8);
    key
}
