//! JSON API for port requests.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::CreateRequest;
use crate::auth::{ApiCaller, RequestId};
use crate::domain::port::{PortDocument, PortInput};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<CreateRequest>,
) -> AppResult<Response> {
    let ids = super::create(&state, &caller, &body, request_id.as_deref()).await?;
    // A request split into orders answers its first; `orders` lists them all.
    let id = ids[0];
    let detail = super::detail(&mut *state.pool.acquire().await?, caller.tenant()?, id).await?;
    Ok((StatusCode::CREATED, Json(json!(detail))).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let ports = super::list(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(Json(json!({ "ports": ports })))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&raw, "port request")?;
    let detail = super::detail(&mut *state.pool.acquire().await?, caller.tenant()?, id).await?;
    Ok(Json(json!(detail)))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<PortInput>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&raw, "port request")?;
    super::update(&state, &caller, id, &body, request_id.as_deref()).await?;
    let detail = super::detail(&mut *state.pool.acquire().await?, caller.tenant()?, id).await?;
    Ok(Json(json!(detail)))
}

/// The LOA as the raw body, `Content-Type: application/pdf`.
pub async fn put_loa(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let upload = Body {
        headers: &headers,
        bytes: &body,
    };
    put_document(
        &state,
        &caller,
        request_id.as_deref(),
        &raw,
        PortDocument::Loa,
        upload,
    )
    .await
}

/// A copy of a recent bill as the raw body: `application/pdf`, `image/png` or `image/jpeg`.
pub async fn put_bill(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let upload = Body {
        headers: &headers,
        bytes: &body,
    };
    put_document(
        &state,
        &caller,
        request_id.as_deref(),
        &raw,
        PortDocument::Bill,
        upload,
    )
    .await
}

/// A request's raw body and its headers.
struct Body<'a> {
    headers: &'a HeaderMap,
    bytes: &'a [u8],
}

/// Stores the body as the request's document when its `Content-Type` is one the document
/// may be (the bytes are checked too); answers its size as `<kind>_bytes`.
async fn put_document(
    state: &AppState,
    caller: &crate::domain::policy::Principal,
    request_id: Option<&str>,
    raw: &str,
    kind: PortDocument,
    body: Body<'_>,
) -> AppResult<Json<Value>> {
    let id = parse_id(raw, "port request")?;
    let allowed: &[&str] = match kind {
        PortDocument::Loa => &["application/pdf"],
        PortDocument::Bill => &["application/pdf", "image/png", "image/jpeg"],
    };
    let named = body
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| allowed.iter().any(|t| v.starts_with(t)));
    if !named {
        return Err(AppError::invalid(
            "unsupported_media_type",
            format!(
                "send the {} as the body with Content-Type {}",
                kind.label(),
                allowed.join(", ")
            ),
        ));
    }
    let name = match kind {
        PortDocument::Loa => "loa.pdf",
        PortDocument::Bill => "bill",
    };
    super::upload_document(state, caller, id, kind, name, body.bytes, request_id).await?;
    let mut answer = json!({ "id": id });
    answer[format!("{}_bytes", kind.as_str())] = json!(body.bytes.len());
    Ok(Json(answer))
}

pub async fn get_bill(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&raw, "port request")?;
    let (name, content_type, bytes) =
        super::document(&state, &caller, id, PortDocument::Bill).await?;
    Ok(super::download(&name, &content_type, bytes))
}

pub async fn get_loa(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&raw, "port request")?;
    let (name, content_type, bytes) =
        super::document(&state, &caller, id, PortDocument::Loa).await?;
    Ok(super::download(&name, &content_type, bytes))
}

/// `GET /api/v1/ports/{id}/letter`: the LOA filled in from the request, to sign.
pub async fn letter(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&raw, "port request")?;
    let (name, bytes) = super::letter(&state, &caller, id).await?;
    Ok(super::download(&name, "application/pdf", bytes))
}

pub async fn submit(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&raw, "port request")?;
    let submitted = super::submit(&state, &caller, id, request_id.as_deref()).await?;
    let detail = super::detail(&mut *state.pool.acquire().await?, caller.tenant()?, id).await?;
    let mut body = json!(detail);
    body["submitted"] = json!(submitted);
    Ok(Json(body))
}

pub async fn cancel(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&raw, "port request")?;
    let cancelled = super::cancel(&state, &caller, id, request_id.as_deref()).await?;
    let detail = super::detail(&mut *state.pool.acquire().await?, caller.tenant()?, id).await?;
    let mut body = json!(detail);
    body["cancelled"] = json!(cancelled);
    Ok(Json(body))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub numbers: Vec<String>,
}

/// `POST /api/v1/ports/check`: one verdict per number, in the order sent.
pub async fn check(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<CheckRequest>,
) -> AppResult<Json<Value>> {
    let results = super::check::check(&state, &caller, &body.numbers).await?;
    let portable = results.iter().filter(|v| v.portability.portable()).count();
    Ok(Json(json!({ "results": results, "portable": portable })))
}
