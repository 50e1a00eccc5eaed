//! Shared HTTP plumbing: the JSON extractor with our error format, page rendering and the
//! HTML rendering of `AppError`.

pub mod assets;
pub mod charts;
pub mod csv;
pub mod pages;
pub mod paging;
pub mod routes;
pub mod server;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::AppError;

/// `Json<T>` whose rejections use the API's error body instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_error(rejection)),
        };
        if let Some(field) = control_character_at(&value, "") {
            return Err(AppError::invalid_field(
                &field,
                format!("“{field}” contains a control character (such as NUL); remove it"),
            ));
        }
        serde_json::from_value(value).map(ApiJson).map_err(|e| {
            AppError::invalid(
                "invalid_json",
                format!("the request body does not match: {e}"),
            )
        })
    }
}

/// The path of the first string in the JSON that holds a control character other than
/// tab, newline or carriage return: PostgreSQL cannot store NUL, and the others have no
/// place in a name, an address or a note.
fn control_character_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) => s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            .then(|| {
                if path.is_empty() {
                    "body".to_string()
                } else {
                    path.to_string()
                }
            }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_character_at(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| control_character_at(item, &at(key))),
        _ => None,
    }
}

fn json_error(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::Rejected {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "send the body as JSON with Content-Type: application/json".into(),
        },
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::Rejected {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "the body is larger than this route accepts (2 MiB)".into(),
        },
        other => AppError::invalid("invalid_json", other.body_text()),
    }
}

/// A urlencoded form body, keys possibly repeated (ticked checkboxes).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`, trimmed; none when missing or blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `key` exactly as sent (a password keeps its spaces).
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` as sent; empty when missing.
    pub fn text(&self, key: &str) -> String {
        self.raw(key).unwrap_or_default().to_string()
    }

    /// Every field as sent, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A form sent back after a refusal: what was typed, and why each field the refusal names
/// was refused, for the page to show beside the field (`templates/fields.html`) with the input
/// kept. Empty on a form that was not refused.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    typed: Vec<(String, String)>,
    fields: Vec<(String, String)>,
}

impl Refusal {
    /// The fields `err` names, from `details.errors` (several) or `details.field` (one), each
    /// with its sentence; `typed` is the form as sent.
    pub fn new(typed: Vec<(String, String)>, err: &AppError) -> Self {
        let sentence = |message: &str| {
            crate::domain::e911::FieldError {
                field: "",
                message: message.to_string(),
            }
            .to_string()
        };
        let mut fields = Vec::new();
        if let AppError::Invalid {
            details, message, ..
        } = err
        {
            if let Some(field) = details["field"].as_str() {
                fields.push((field.to_string(), sentence(message)));
            }
            for e in details["errors"].as_array().into_iter().flatten() {
                if let (Some(field), Some(message)) = (e["field"].as_str(), e["message"].as_str()) {
                    fields.push((field.to_string(), sentence(message)));
                }
            }
        }
        Refusal { typed, fields }
    }

    /// Keeps only the fields the form shows (`on`): a refusal of anything else stays in the
    /// alert above the form, in its own words.
    pub fn shown_on(mut self, on: &[&str]) -> Self {
        self.fields
            .retain(|(field, _)| on.contains(&field.as_str()));
        self
    }

    /// Leaves out what must never be sent back to the browser (a password, a PIN).
    pub fn without(mut self, secrets: &[&str]) -> Self {
        self.typed
            .retain(|(field, _)| !secrets.contains(&field.as_str()));
        self
    }

    /// Whether this is a form sent back after a refusal (its values are what was typed).
    pub fn sent(&self) -> bool {
        !self.typed.is_empty()
    }

    /// The same refusal with the fields the service names `from…` shown on the form's `to…`
    /// (the API's `credentials.client_id` is the form's `cred_client_id`).
    pub fn renamed(mut self, from: &str, to: &str) -> Self {
        for (field, _) in &mut self.fields {
            if let Some(rest) = field.strip_prefix(from) {
                *field = format!("{to}{rest}");
            }
        }
        self
    }

    /// Why `field` was refused, if it was.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Whether the refusal names a field of the form (the alert above it then only points
    /// to them).
    pub fn names_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The alert above a form whose refusal names its fields: where to look, not what each
    /// field says again.
    pub fn summary(&self) -> &'static str {
        if self.fields.len() == 1 {
            "Not saved: correct the field marked below."
        } else {
            "Not saved: correct the fields marked below."
        }
    }

    /// What was typed into `field`, trimmed; none when the form was not refused.
    pub fn typed(&self, field: &str) -> Option<&str> {
        self.typed
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.trim())
    }

    /// What was typed into `field`, or `otherwise` (the saved value) on a fresh form.
    pub fn typed_or<'a>(&'a self, field: &str, otherwise: &'a str) -> &'a str {
        if !self.sent() {
            otherwise
        } else {
            self.typed(field).unwrap_or("")
        }
    }
}

pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, AppError> {
    raw.parse::<Uuid>()
        .map_err(|_| AppError::NotFound(what.to_string()))
}

pub fn render<T: askama::Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    message: String,
}

/// An `AppError` from a page handler, rendered as an HTML page with the same status.
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let status = err.status();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            message: err.public_message(),
        };
        let mut response = (status, render(&page)).into_response();
        err.add_retry_after(&mut response);
        response
    }
}

pub type PageResult = Result<Response, PageError>;

/// Middleware: an error the HTTP layer wrote itself (axum's plain-text rejections of a
/// malformed query or path, an unknown method, a body over the limit) is answered in the
/// shape of every other error: JSON on the API, the error page elsewhere. Headers such as
/// `Allow` are kept.
pub async fn uniform_errors(request: Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let ours = if api {
        content_type.starts_with("application/json")
    } else {
        content_type.starts_with("text/html") || content_type.starts_with("application/json")
    };
    if ours {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match (status.as_u16(), text.is_empty()) {
        (405, _) => "this route does not take that method".to_string(),
        (413, _) => "the body is larger than this route accepts".to_string(),
        (_, true) => status.canonical_reason().unwrap_or("refused").to_string(),
        _ => text,
    };
    let error = AppError::Rejected { status, message };
    let mut answer = if api {
        error.into_response()
    } else {
        PageError(error).into_response()
    };
    for name in [axum::http::header::ALLOW, axum::http::header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}
