//! One error type for the whole application, rendered as JSON for the API
//! (`{"error":{"code","message","details"}}`) and as an HTML page for browsers.

pub mod provider;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::lifecycle::IllegalTransition;
use crate::domain::policy::Denied;
pub use provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        details: Value,
    },
    #[error("you need to log in")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("the CSRF token is missing or wrong: reload the page and try again")]
    Csrf,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Value,
    },
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("the provider failed: {0}")]
    Provider(#[from] ProviderError),
    #[error("{message}")]
    ProviderPartial { message: String, details: Value },
    #[error("the database cannot be reached: try again in a few seconds")]
    Unavailable,
    #[error("too many API requests from this user: try again in {retry_after} second(s)")]
    RateLimited { limit: u32, retry_after: u64 },
    /// A request the HTTP layer itself refused (malformed query, unknown method, body over
    /// the limit, wrong media type), answered in the same shape as every other error.
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// How long a client is asked to wait before retrying when the database is away.
pub const RETRY_AFTER_SECONDS: u64 = 5;

impl AppError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// 422 `code` naming every field at fault, each in `details.errors`.
    pub fn invalid_fields(
        code: &'static str,
        errors: Vec<crate::domain::e911::FieldError>,
    ) -> Self {
        AppError::Invalid {
            code,
            message: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            details: json!({ "errors": errors }),
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code: "invalid_input",
            message: message.into(),
            details: json!({ "field": field }),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>, details: Value) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
            details,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::Provider(err) => err.http_status(),
            AppError::ProviderPartial { .. } => StatusCode::BAD_GATEWAY,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Rejected { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `Retry-After` an answer carries, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Unavailable => Some(RETRY_AFTER_SECONDS),
            AppError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. } => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::Csrf => "csrf_failed",
            AppError::NotFound(_) => "not_found",
            AppError::Provider(err) => err.code(),
            AppError::ProviderPartial { .. } => "provider_error",
            AppError::Unavailable => "database_unavailable",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Rejected { status, .. } => match status.as_u16() {
                404 => "not_found",
                405 => "method_not_allowed",
                413 => "payload_too_large",
                415 => "unsupported_media_type",
                422 => "invalid_input",
                429 => "too_many_attempts",
                _ => "bad_request",
            },
            AppError::Internal(_) => "internal",
        }
    }

    pub fn details(&self) -> Value {
        match self {
            AppError::Invalid { details, .. }
            | AppError::Conflict { details, .. }
            | AppError::ProviderPartial { details, .. } => details.clone(),
            AppError::Provider(err) => err.details(),
            AppError::RateLimited { limit, retry_after } => {
                json!({ "limit": limit, "retry_after_seconds": retry_after })
            }
            _ => Value::Null,
        }
    }

    /// The message shown to people; internal errors never leak their cause.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "something went wrong on our side; it has been logged".to_string()
            }
            other => other.to_string(),
        }
    }

    pub fn log(&self) {
        match self {
            AppError::Internal(err) => tracing::error!(error = ?err, "internal error"),
            AppError::Provider(err) => tracing::warn!(error = %err, "provider error"),
            AppError::Unavailable => tracing::warn!("the database cannot be reached"),
            _ => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let body = json!({
            "error": { "code": self.code(), "message": self.public_message(), "details": self.details() }
        });
        let mut response = (self.status(), Json(body)).into_response();
        self.add_retry_after(&mut response);
        response
    }
}

impl AppError {
    pub fn add_retry_after(&self, response: &mut Response) {
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
    }
}

/// Whether a database error means the database is away (down, restarting, unreachable,
/// or every connection busy past the pool's timeout) rather than a fault of the request.
fn database_away(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exceptions; 57P01-57P03: the server is shutting down,
        // crashed, or not accepting connections yet; 40001 on a read replica: the read was
        // cancelled by a conflict with the primary's changes being replayed (worth a retry).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "40001")
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if database_away(&err) {
            tracing::debug!(error = %err, "database away");
            return AppError::Unavailable;
        }
        // Text PostgreSQL cannot store (a NUL byte, in a query string or a form field that
        // no check caught earlier) is the input's fault, not the server's.
        if let sqlx::Error::Database(db) = &err
            && db.code().is_some_and(|c| matches!(&*c, "22021" | "22P05"))
        {
            return AppError::invalid(
                "invalid_text",
                "the input contains a character that cannot be stored (such as NUL); remove it",
            );
        }
        AppError::Internal(err.into())
    }
}

impl From<Denied> for AppError {
    fn from(denied: Denied) -> Self {
        AppError::Forbidden(denied.to_string())
    }
}

impl From<IllegalTransition> for AppError {
    fn from(err: IllegalTransition) -> Self {
        AppError::conflict(
            "illegal_transition",
            err.to_string(),
            json!({ "state": err.from.as_str() }),
        )
    }
}

pub type AppResult<T> = Result<T, AppError>;
