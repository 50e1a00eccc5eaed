//! One error type for the whole application, rendered as JSON for the API
//! (`{"error":{"code","message","details"}}`) and as an HTML page for browsers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::lifecycle::IllegalTransition;
use crate::domain::policy::Denied;
use crate::providers::ProviderError;

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
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            message: message.into(),
            details: Value::Null,
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
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            AppError::Internal(_) => "internal",
        }
    }

    pub fn details(&self) -> Value {
        match self {
            AppError::Invalid { details, .. }
            | AppError::Conflict { details, .. }
            | AppError::ProviderPartial { details, .. } => details.clone(),
            AppError::Provider(err) => err.details(),
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
        (self.status(), Json(body)).into_response()
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
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
