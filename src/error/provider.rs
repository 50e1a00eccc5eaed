//! What a platform or carrier answered wrong, and how Inward passes it on: an error code, an
//! HTTP status and the details its callers see. The adapters in `providers` make these.

use axum::http::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    RateLimited,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Validation,
    Unsupported,
    Transient,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub provider: &'static str,
    pub message: String,
    /// The platform's response body, kept for the audit log.
    pub raw_body: Option<String>,
    pub correlation_id: Option<String>,
    /// How long the platform asked to be left alone (`Retry-After`), when it said.
    pub retry_after: Option<std::time::Duration>,
}

impl ProviderError {
    pub fn new(
        provider: &'static str,
        kind: ProviderErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ProviderError {
            kind,
            provider,
            message: message.into(),
            raw_body: None,
            correlation_id: None,
            retry_after: None,
        }
    }

    /// With the wait the platform asked for (its answer's `Retry-After`).
    pub fn waiting(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// A write that failed this way may still have been applied, its answer lost: a
    /// timeout, a reset or a 5xx. A refusal (4xx, 429) was not applied.
    pub fn may_have_applied(&self) -> bool {
        self.kind == ProviderErrorKind::Transient
    }

    pub fn code(&self) -> &'static str {
        match self.kind {
            ProviderErrorKind::RateLimited => "provider_rate_limited",
            ProviderErrorKind::Unauthorized => "provider_unauthorized",
            ProviderErrorKind::Forbidden => "provider_forbidden",
            ProviderErrorKind::NotFound => "provider_not_found",
            ProviderErrorKind::Conflict => "provider_conflict",
            ProviderErrorKind::Validation => "provider_validation",
            ProviderErrorKind::Unsupported => "provider_unsupported",
            ProviderErrorKind::Transient => "provider_unavailable",
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self.kind {
            ProviderErrorKind::NotFound => StatusCode::NOT_FOUND,
            ProviderErrorKind::Conflict => StatusCode::CONFLICT,
            ProviderErrorKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ProviderErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ProviderErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ProviderErrorKind::RateLimited => StatusCode::SERVICE_UNAVAILABLE,
            ProviderErrorKind::Unauthorized | ProviderErrorKind::Transient => {
                StatusCode::BAD_GATEWAY
            }
        }
    }

    pub fn details(&self) -> Value {
        json!({ "provider": self.provider, "correlation_id": self.correlation_id })
    }
}
