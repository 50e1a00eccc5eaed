//! Who is calling: a browser session (cookie + CSRF token) or an API bearer token.
//! The `authenticate` middleware resolves the caller once per request and enforces CSRF on
//! every state-changing request made with a session cookie.

pub mod cookies;
pub mod federated;
pub mod pages;
pub mod password;
pub mod rate_limit;
pub mod repo;
pub mod routes;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use chrono::{DateTime, Utc};

use crate::domain::policy::Principal;
use crate::error::AppError;

pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// Present for browser sessions; API tokens need no CSRF token.
    pub csrf: Option<String>,
}

/// A resolved caller, as cached in `AppState::callers`.
#[derive(Debug, Clone)]
pub struct CachedCaller {
    authenticated: Authenticated,
    /// A session ends at its expiry even while cached.
    expires_at: Option<DateTime<Utc>>,
}

impl CachedCaller {
    pub fn new(authenticated: Authenticated, expires_at: Option<DateTime<Utc>>) -> Self {
        CachedCaller {
            authenticated,
            expires_at,
        }
    }

    /// The caller, while the entry has not expired.
    pub fn fresh(self) -> Option<Authenticated> {
        self.expires_at
            .is_none_or(|at| at > Utc::now())
            .then_some(self.authenticated)
    }
}

/// The caller of an API route; 401 JSON when there is none.
pub struct ApiCaller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .map(|a| ApiCaller(a.principal.clone()))
            .ok_or(AppError::Unauthenticated)
    }
}

/// The caller of a page; a browser without a session is sent to the login page.
pub struct PageCaller {
    pub principal: Principal,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for PageCaller {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(Authenticated {
                principal,
                csrf: Some(csrf),
            }) => Ok(PageCaller {
                principal: principal.clone(),
                csrf: csrf.clone(),
            }),
            _ => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

/// The request id set by the request-id layer, for the audit log.
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ))
    }
}
