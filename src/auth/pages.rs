use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;

use super::cookies::Cookie;
use super::password::verify_password_off_thread;
use super::repo;
use super::session::session_token;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{PageError, render};

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    email: String,
    next: String,
    error: Option<String>,
    /// Ties the form to this browser (`Cookie::Login`).
    login_token: String,
}

/// Sign-in has no session to carry a CSRF token yet, so the form and a cookie carry the same
/// random value and a sign-in must present both: another site can make a browser post the
/// form (signing the victim in as the attacker) but cannot read or set the cookie.
///
/// The login page with a fresh form token and its cookie.
fn login_page(state: &AppState, status: StatusCode, page: LoginPage) -> Response {
    let cookie = state
        .cookies()
        .set(Cookie::Login, &page.login_token, Some(3600));
    // A form token cookie once lived under Path=/login; a browser still holding one would
    // send it first, and the sign-in would fail until it expired.
    let stale = "inward_login=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0".to_string();
    (
        status,
        AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, stale)]),
        render(&page),
    )
        .into_response()
}

/// Whether the form's token is the one this browser's cookie holds.
pub(crate) fn form_token_ok(
    state: &AppState,
    headers: &HeaderMap,
    presented: Option<&str>,
) -> bool {
    let cookie = state.cookies().get(headers, Cookie::Login);
    cookie
        .as_deref()
        .is_some_and(|c| !c.is_empty() && Some(c) == presented)
}

fn new_login_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only a path of this site is accepted as a post-login destination (no open redirect):
/// one `/`, then no second `/` or `\` right after it, and no whitespace or control
/// character anywhere (browsers drop a tab or newline, so `/\t/evil.example` would leave
/// the site, and a control character cannot go into a `Location` header).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    let local = |n: &str| {
        n.starts_with('/')
            && !matches!(n.as_bytes().get(1), Some(b'/' | b'\\'))
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    match next {
        Some(n) if local(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let page = LoginPage {
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
        login_token: new_login_token(),
    };
    login_page(&state, StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    login_token: Option<String>,
}

pub async fn login(
    state: State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Form<LoginForm>,
) -> Result<Response, PageError> {
    // Signing in finds the user by email, before any caller is known.
    crate::db_scope::bypassing(
        crate::db_scope::Bypass::Authentication,
        sign_in(state, connect, headers, form),
    )
    .await
}

async fn sign_in(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    if !form_token_ok(&state, &headers, form.login_token.as_deref()) {
        let why =
            "This sign-in form has expired or was not opened on this site. Please sign in again.";
        return Ok(refused(
            &state,
            StatusCode::FORBIDDEN,
            form.email,
            next,
            why.into(),
            None,
        ));
    }
    let peer = connect.map(|Extension(ConnectInfo(peer))| peer.ip());
    if let Some((seconds, why)) = throttled(&state, peer, &headers, &form.email).await? {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return Ok(refused(
            &state,
            status,
            form.email,
            next,
            why,
            Some(seconds),
        ));
    }
    let credentials = repo::credentials(&state.pool, &form.email)
        .await
        .map_err(AppError::from)?;
    let (user, stored) = match credentials {
        Some(c) => (Some((c.user_id, c.sso_required)), c.password_hash),
        None => (None, None),
    };
    let verified = verify_password_off_thread(form.password.clone(), stored).await;
    let (user_id, sso_required) = match user {
        Some(found) if verified => found,
        _ => {
            super::throttle::record_failure(&state.pool, &form.email)
                .await
                .map_err(AppError::from)?;
            let why = "That email and password do not match.";
            return Ok(refused(
                &state,
                StatusCode::UNAUTHORIZED,
                form.email,
                next,
                why.into(),
                None,
            ));
        }
    };
    super::throttle::clear(&state.pool, &form.email)
        .await
        .map_err(AppError::from)?;
    if sso_required {
        let why = "Your organization signs in with its company account: use “Sign in with your company account” below.";
        return Ok(refused(
            &state,
            StatusCode::FORBIDDEN,
            form.email,
            next,
            why.into(),
            None,
        ));
    }
    Ok(start_session(&state, user_id, &next).await?)
}

/// Signs the user in: a new session, its cookie, and the browser sent on to `next`.
pub(crate) async fn start_session(
    state: &AppState,
    user_id: crate::domain::UserId,
    next: &str,
) -> Result<Response, AppError> {
    super::users::record_sign_in(&state.pool, user_id).await?;
    let lifetime = Duration::hours(state.config.server.session_hours);
    let session = repo::create_session(&state.pool, user_id, lifetime).await?;
    let cookies = state.cookies();
    let cookie = cookies.set(
        Cookie::Session,
        &session.token,
        Some(lifetime.num_seconds()),
    );
    // The form token is spent.
    let spent = cookies.set(Cookie::Login, "", None);
    Ok((
        AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, spent)]),
        Redirect::to(next),
    )
        .into_response())
}

/// The sign-in page again, with what was typed and why it was refused.
pub(crate) fn refused(
    state: &AppState,
    status: StatusCode,
    email: String,
    next: String,
    why: String,
    retry_after: Option<u64>,
) -> Response {
    let page = LoginPage {
        email,
        next,
        error: Some(why),
        login_token: new_login_token(),
    };
    let page = login_page(state, status, page);
    match retry_after {
        Some(seconds) => ([(header::RETRY_AFTER, seconds.to_string())], page).into_response(),
        None => page,
    }
}

/// How long this attempt must wait, and why: too many attempts from the caller's network,
/// or too many failures for the email.
async fn throttled(
    state: &AppState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    email: &str,
) -> Result<Option<(u64, String)>, AppError> {
    let header = &state.config.server.client_address_header;
    if let Some(address) = super::throttle::client_address(peer, headers, header)
        && let Some(seconds) = state.sign_in_limit.attempt(address)
    {
        return Ok(Some((
            seconds,
            format!(
                "Too many sign-in attempts from your network. Try again in {seconds} second(s)."
            ),
        )));
    }
    let locked = super::throttle::locked_for(&state.pool, email).await?;
    Ok(locked.map(|seconds| {
        (
            seconds.max(0) as u64,
            format!(
                "Too many failed sign-ins for this email. Try again in {} minute(s).",
                (seconds + 59) / 60
            ),
        )
    }))
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some(token) = session_token(&state, &headers) {
        repo::delete_session(&state.pool, &token)
            .await
            .map_err(AppError::from)?;
        super::session::forget_session(&state, &token);
    }
    let cookie = state.cookies().set(Cookie::Session, "", None);
    Ok((
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        Redirect::to("/login"),
    )
        .into_response())
}

/// Where `/` sends a signed-in user: to the page their role starts from.
pub async fn home(request: axum::extract::Request) -> Response {
    match request.extensions().get::<super::Authenticated>() {
        Some(a) if a.principal.is_tenant_member() => Redirect::to("/search").into_response(),
        // Resellers and the operator come to manage stock.
        Some(a) if a.principal.inventory_view().is_ok() => {
            Redirect::to("/inventory").into_response()
        }
        Some(a) if a.principal.can_view_audit() => Redirect::to("/audit").into_response(),
        Some(_) => Redirect::to("/numbers").into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_this_sites_paths_are_followed_after_login() {
        for kept in ["/", "/numbers", "/search?state=TX&npa=512"] {
            assert_eq!(safe_next(Some(kept)), kept);
        }
        for refused in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/numbers\r\nSet-Cookie: x=1",
            "https://evil.example",
            "evil",
            "/a b",
            "/\u{0}",
        ] {
            assert_eq!(safe_next(Some(refused)), "/", "{refused:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
