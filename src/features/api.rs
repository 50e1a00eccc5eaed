//! JSON API: CNAM and E911 per number, bulk E911, tenant settings and compliance.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::e911::BulkRequest;
use super::settings_change::SettingsUpdate;
use crate::auth::{ApiCaller, RequestId};
use crate::domain::e911::AddressInput;
use crate::error::AppResult;
use crate::numbers::parse_path_number;
use crate::state::AppState;
use crate::web::ApiJson;

#[derive(Debug, Deserialize)]
pub struct CnamBody {
    /// The number's own caller-ID name; null or blank removes the override.
    #[serde(default)]
    pub name: Option<String>,
}

pub async fn put_cnam(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<CnamBody>,
) -> AppResult<Json<Value>> {
    let number = parse_path_number(&raw)?;
    let view = super::cnam::set_override(
        &state,
        &caller,
        &number,
        body.name.as_deref(),
        request_id.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "e164": number, "cnam": view })))
}

#[derive(Debug, Deserialize)]
pub struct E911Body {
    #[serde(flatten)]
    pub address: AddressInput,
    /// One of the tenant's saved addresses instead of the fields.
    #[serde(default)]
    pub address_id: Option<crate::domain::E911AddressId>,
    /// Keep the typed address even when the address guide suggests another form.
    #[serde(default)]
    pub as_typed: bool,
    #[serde(default)]
    pub apply_to_all: bool,
}

pub async fn put_e911(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<E911Body>,
) -> AppResult<Json<Value>> {
    let number = parse_path_number(&raw)?;
    let choice =
        super::e911::AddressChoice::from_fields(body.address_id, body.address, body.as_typed)?;
    let (view, updated) = super::e911::set(
        &state,
        &caller,
        &number,
        &choice,
        body.apply_to_all,
        request_id.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({ "e164": number, "e911": view, "updated": updated }),
    ))
}

pub async fn bulk_e911(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<BulkRequest>,
) -> AppResult<Json<Value>> {
    let summary = super::e911::bulk(&state, &caller, &body, request_id.as_deref()).await?;
    Ok(Json(json!(summary)))
}

pub async fn get_settings(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let settings =
        crate::tenants::settings::load(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(Json(json!(settings)))
}

pub async fn put_settings(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<SettingsUpdate>,
) -> AppResult<Json<Value>> {
    let settings =
        super::settings_change::update(&state, &caller, &body, request_id.as_deref()).await?;
    Ok(Json(json!(settings)))
}

pub async fn compliance(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let report = super::compliance(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(Json(json!(report)))
}

pub async fn get_reseller_settings(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let reseller_id = caller.reseller_admin()?;
    let settings = super::aging::load(&mut *state.pool.acquire().await?, reseller_id).await?;
    Ok(Json(json!(settings)))
}

pub async fn put_reseller_settings(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<super::aging::ResellerSettingsUpdate>,
) -> AppResult<Json<Value>> {
    let settings = super::aging::update(&state, &caller, &body, request_id.as_deref()).await?;
    Ok(Json(json!(settings)))
}

pub async fn aging(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let reseller_id = caller.reseller_admin()?;
    let numbers =
        super::aging::aging_numbers(&mut *state.pool.acquire().await?, reseller_id).await?;
    Ok(Json(json!({ "numbers": numbers })))
}
