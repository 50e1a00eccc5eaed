//! `/api/v1/identity-providers`: the operator sets up providers; an organization's admins
//! read theirs and may make one required.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Input;
use super::repo::Provider;
use crate::auth::{ApiCaller, RequestId};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::ApiJson;

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let providers = super::list(&state, &caller).await?;
    Ok(Json(json!({ "identity_providers": providers })))
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<Input>,
) -> AppResult<Response> {
    let provider = super::create(&state, &caller, &body, request_id.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(provider)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Provider>> {
    Ok(Json(super::find(&state, &caller, &id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Input>,
) -> AppResult<Json<Provider>> {
    Ok(Json(
        super::update(&state, &caller, &id, &body, request_id.as_deref()).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::delete(&state, &caller, &id, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
