//! `/api/v1/webhooks`: endpoints, their deliveries, resend and test.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::repo::{self, Change, DeliveryStatus};
use super::{Fields, MAX_ENDPOINTS, check_description, check_events, check_url};
use crate::auth::{ApiCaller, RequestId};
use crate::domain::webhook::EventType;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ApiJson;

fn event_names() -> Vec<&'static str> {
    EventType::SUBSCRIBABLE.map(EventType::as_str).to_vec()
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let org = caller.webhook_owner()?;
    let endpoints = repo::list(&state.pool, org).await?;
    Ok(Json(
        json!({ "webhooks": endpoints, "events": event_names(), "max_endpoints": MAX_ENDPOINTS }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<Response> {
    caller.webhook_owner()?;
    let fields = Fields::check(&state, &body.url, &body.events, &body.description)?;
    let (endpoint, secret) = super::create(&state, &caller, &fields, request_id.as_deref()).await?;
    let mut answer = serde_json::to_value(&endpoint).map_err(anyhow::Error::from)?;
    answer["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<repo::Endpoint>> {
    Ok(Json(super::find(&state, &caller, &id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchBody>,
) -> AppResult<Json<repo::Endpoint>> {
    // Only what is sent is checked: switching an endpoint off never fails on a URL the
    // operator has since stopped admitting.
    let change = Change {
        url: body
            .url
            .as_deref()
            .map(|u| check_url(&state, u))
            .transpose()?,
        events: body.events.as_deref().map(check_events).transpose()?,
        description: body
            .description
            .as_deref()
            .map(check_description)
            .transpose()?,
        enabled: body.enabled,
    };
    Ok(Json(
        super::update(&state, &caller, &id, &change, request_id.as_deref()).await?,
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

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    pub status: Option<String>,
    pub before: Option<String>,
    pub limit: Option<String>,
}

/// The parameters of a deliveries list, checked.
pub fn deliveries_filter(
    q: &DeliveriesQuery,
) -> AppResult<(Option<DeliveryStatus>, Option<i64>, i64)> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            AppError::invalid_field("status", "status is pending, delivered or failed")
        })?),
    };
    let before = match q.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            AppError::invalid_field("before", "before is the id of a delivery (a whole number)")
        })?),
    };
    let limit = match q.limit.as_deref().filter(|s| !s.is_empty()) {
        None => 50,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| AppError::invalid_field("limit", "limit is 1 to 200"))?,
    };
    Ok((status, before, limit))
}

pub async fn deliveries(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> AppResult<Json<Value>> {
    let endpoint = super::find(&state, &caller, &id).await?;
    let (status, before, limit) = deliveries_filter(&q)?;
    let list = repo::deliveries(&state.pool, endpoint.id, status, before, limit).await?;
    let next = (list.len() as i64 == limit)
        .then(|| list.last().map(|d| d.id))
        .flatten();
    Ok(Json(json!({ "deliveries": list, "next_before": next })))
}

pub async fn delivery(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<Json<repo::Delivery>> {
    let endpoint = super::find(&state, &caller, &id).await?;
    let wanted = delivery
        .parse::<i64>()
        .map_err(|_| AppError::NotFound("delivery".into()))?;
    let found = repo::delivery(&state.pool, endpoint.id, wanted)
        .await?
        .ok_or_else(|| AppError::NotFound("delivery".into()))?;
    Ok(Json(found))
}

pub async fn resend(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<Response> {
    let made = super::resend(&state, &caller, &id, &delivery, request_id.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivery_id": made }))).into_response())
}

pub async fn send_test(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let event = super::send_test(&state, &caller, &id, request_id.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "event_id": event }))).into_response())
}
