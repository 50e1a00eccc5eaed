//! JSON API of saved 911 addresses, 911 alert contacts and the test alert.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::e911_book::{self, SavedInput};
use super::e911_contacts;
use crate::auth::{ApiCaller, RequestId};
use crate::domain::e911_notify::ContactInput;
use crate::domain::{E164, E911AddressId, E911ContactId};
use crate::error::AppResult;
use crate::numbers::parse_path_number;
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

pub fn address_id(raw: &str) -> AppResult<E911AddressId> {
    Ok(E911AddressId(parse_id(
        raw,
        &format!("saved address {raw}"),
    )?))
}

pub async fn list_addresses(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let addresses = e911_book::list(&state, &caller).await?;
    Ok(Json(json!({ "addresses": addresses })))
}

pub async fn create_address(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<SavedInput>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let saved = e911_book::create(&state, &caller, &body, request_id.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!(saved))))
}

pub async fn get_address(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let saved = e911_book::get(&state, &caller, address_id(&raw)?).await?;
    Ok(Json(json!(saved)))
}

pub async fn put_address(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<SavedInput>,
) -> AppResult<Json<Value>> {
    let id = address_id(&raw)?;
    let (saved, numbers) =
        e911_book::update(&state, &caller, id, &body, request_id.as_deref()).await?;
    Ok(Json(
        json!({ "address": saved, "registered_again": numbers }),
    ))
}

pub async fn delete_address(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<StatusCode> {
    e911_book::delete(&state, &caller, address_id(&raw)?, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct ContactsQuery {
    /// Only the contacts alerted for this number.
    pub number: Option<String>,
}

pub async fn list_contacts(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<ContactsQuery>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let number = q
        .number
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(parse_path_number)
        .transpose()?;
    let contacts = e911_contacts::list(
        &mut *state.pool.acquire().await?,
        tenant_id,
        number.as_ref().map(E164::as_str),
    )
    .await?;
    Ok(Json(json!({ "contacts": contacts })))
}

#[derive(Debug, Deserialize)]
pub struct ContactBody {
    #[serde(flatten)]
    pub contact: ContactInput,
    /// The number whose own contact this is; absent for one of the tenant's (every number).
    #[serde(default)]
    pub number: Option<String>,
}

pub async fn add_contact(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ContactBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let number = body
        .number
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(parse_path_number)
        .transpose()?;
    let row = e911_contacts::add(
        &state,
        &caller,
        &body.contact,
        number.as_ref(),
        request_id.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

pub fn contact_id(raw: &str) -> AppResult<E911ContactId> {
    Ok(E911ContactId(parse_id(
        raw,
        &format!("911 alert contact {raw}"),
    )?))
}

pub async fn delete_contact(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<StatusCode> {
    e911_contacts::remove(&state, &caller, contact_id(&raw)?, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test_alert(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let number = parse_path_number(&raw)?;
    let deliveries =
        e911_contacts::test_alert(&state, &caller, &number, request_id.as_deref()).await?;
    Ok(Json(json!({ "number": number, "deliveries": deliveries })))
}
