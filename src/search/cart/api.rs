//! `/api/v1/cart`: the caller's cart as JSON, and reserving it.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::Cart;
use crate::auth::{ApiCaller, RequestId};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ApiJson;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartNumbers {
    pub numbers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveCart {
    #[serde(default)]
    pub justification: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Cart>> {
    Ok(Json(super::view(&state, &caller).await?))
}

pub async fn add(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<CartNumbers>,
) -> AppResult<Json<Cart>> {
    super::add(&state, &caller, &body.numbers, super::Adding::AllOrNone).await?;
    Ok(Json(super::view(&state, &caller).await?))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(e164): Path<String>,
) -> AppResult<Json<Cart>> {
    if super::remove(&state, &caller, &[e164]).await? == 0 {
        return Err(AppError::NotFound("cart entry".into()));
    }
    Ok(Json(super::view(&state, &caller).await?))
}

pub async fn clear(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Cart>> {
    super::clear(&state, &caller).await?;
    Ok(Json(super::view(&state, &caller).await?))
}

pub async fn reserve(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ReserveCart>,
) -> AppResult<Response> {
    let reserved =
        super::reserve(&state, &caller, body.justification, request_id.as_deref()).await?;
    Ok(crate::reservations::api::created(&reserved))
}
