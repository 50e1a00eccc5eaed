use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::provision::{AssignmentSpec, NumberResult};
use super::repo;
use crate::auth::{ApiCaller, RequestId};
use crate::domain::E164;
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::idempotency::{self, Claim};
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

/// Chosen numbers (`numbers`), or an order by quantity (`quantity`, `filter`, `strategy`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    pub numbers: Option<Vec<String>>,
    pub quantity: Option<i64>,
    pub filter: Option<crate::domain::search::SearchParams>,
    pub strategy: Option<String>,
    pub justification: Option<String>,
    /// With a quantity: one block of that many consecutive numbers.
    pub consecutive: Option<bool>,
}

pub fn parse_numbers(raw: &[String]) -> AppResult<Vec<E164>> {
    raw.iter()
        .map(|n| E164::parse(n).map_err(|e| AppError::invalid_field("numbers", e.to_string())))
        .collect()
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ReserveRequest>,
) -> AppResult<Response> {
    let Some(quantity) = body.quantity else {
        if body.filter.is_some() || body.strategy.is_some() || body.consecutive.is_some() {
            return Err(AppError::invalid_field(
                "quantity",
                "a filter, strategy or consecutive goes with a quantity",
            ));
        }
        let Some(numbers) = &body.numbers else {
            return Err(AppError::invalid_field(
                "numbers",
                "send the numbers to hold, or a quantity with a filter",
            ));
        };
        let numbers = parse_numbers(numbers)?;
        let reserved = super::reserve(
            &state,
            &caller,
            numbers,
            body.justification,
            request_id.as_deref(),
        )
        .await?;
        return Ok(created(&reserved));
    };
    if body.numbers.is_some() {
        return Err(AppError::invalid_field(
            "numbers",
            "send either numbers or a quantity, not both",
        ));
    }
    let Some(filter) = &body.filter else {
        return Err(AppError::invalid_field(
            "filter",
            "an order by quantity needs a filter: the search's parameters, such as {\"npa\": \"512\"}",
        ));
    };
    let order = super::order::Order {
        quantity,
        filter,
        strategy: body.strategy.as_deref(),
        justification: body.justification,
        consecutive: body.consecutive.unwrap_or(false),
        block_at: None,
    };
    let ordered = super::order::order(&state, &caller, order, request_id.as_deref()).await?;
    // A reservation's answer, with what was asked.
    let mut body = reservation_body(&ordered.reserved);
    body["requested"] = json!(ordered.requested);
    body["strategy"] = json!(ordered.strategy.as_str());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The answer to a new reservation (201), from the API or from a cart.
pub fn created(reserved: &super::holds::Reserved) -> Response {
    (StatusCode::CREATED, Json(reservation_body(reserved))).into_response()
}

fn reservation_body(reserved: &super::holds::Reserved) -> Value {
    let approval = reserved.approval_id.map(|id| {
        json!({ "id": id, "status": "pending", "message": "Premium numbers: the hold waits for approval before provisioning." })
    });
    json!({ "id": reserved.id, "expires_at": reserved.expires_at, "numbers": reserved.numbers,
            "approval": approval })
}

pub async fn view(state: &AppState, tenant_id: TenantId, id: ReservationId) -> AppResult<Value> {
    let mut conn = state.pool.acquire().await?;
    let reservation = repo::find(&mut conn, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    let numbers = repo::numbers(&mut conn, id).await?;
    let approval = crate::reservations::approvals::of_reservation(&mut conn, tenant_id, id)
        .await?
        .map(|a| a.to_json());
    let now = Utc::now();
    Ok(json!({
        "approval": approval,
        "id": reservation.id,
        "status": reservation.effective_status(now),
        "created_at": reservation.created_at,
        "expires_at": reservation.expires_at,
        "seconds_left": (reservation.expires_at - now).num_seconds().max(0),
        "justification": reservation.justification,
        "user_id": reservation.user_id,
        "numbers": numbers,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    Ok(Json(
        view(
            &state,
            tenant_id,
            ReservationId(parse_id(&id, "reservation")?),
        )
        .await?,
    ))
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list_for_user(&mut conn, tenant_id, Some(caller.user_id)).await?;
    let now = Utc::now();
    let reservations: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "id": r.id, "status": r.effective_status(now), "created_at": r.created_at, "expires_at": r.expires_at }))
        .collect();
    Ok(Json(json!({ "reservations": reservations })))
}

pub async fn cancel(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = ReservationId(parse_id(&id, "reservation")?);
    let released = super::cancel(&state, &caller, id, request_id.as_deref()).await?;
    Ok(Json(
        json!({ "id": id, "status": "cancelled", "released": released }),
    ))
}

pub async fn extend(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = ReservationId(parse_id(&id, "reservation")?);
    let extended = super::extend::extend(&state, &caller, id, request_id.as_deref()).await?;
    Ok(Json(
        json!({ "id": id, "expires_at": extended.expires_at, "numbers": extended.numbers }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ProvisionRequest {
    pub assignments: Vec<AssignmentSpec>,
}

pub fn provision_response(
    reservation_id: ReservationId,
    results: &[NumberResult],
) -> (StatusCode, Value) {
    let failed: Vec<&NumberResult> = results.iter().filter(|r| !r.ok).collect();
    if failed.is_empty() {
        (
            StatusCode::OK,
            json!({ "reservation_id": reservation_id, "results": results }),
        )
    } else {
        let message = format!(
            "{} of {} numbers could not be provisioned (those still “reserved” can be retried): {}",
            failed.len(),
            results.len(),
            failed
                .iter()
                .map(|r| format!(
                    "{} ({}; now {})",
                    r.number,
                    r.error.as_deref().unwrap_or("failed"),
                    r.state
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let error = AppError::ProviderPartial {
            message,
            details: json!({ "reservation_id": reservation_id, "results": results }),
        };
        (
            error.status(),
            json!({ "error": { "code": error.code(), "message": error.public_message(), "details": error.details() } }),
        )
    }
}

pub async fn provision(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> AppResult<Response> {
    let id = ReservationId(parse_id(&id, "reservation")?);
    let tenant_id = caller.tenant()?;
    let request: ProvisionRequest = serde_json::from_value(body.clone()).map_err(|e| {
        AppError::invalid(
            "invalid_json",
            format!("the request body does not match: {e}"),
        )
    })?;
    let key = idempotency::key_from(&headers)?;
    if let Some(key) = &key
        && let Claim::Replay(status, stored) = idempotency::claim(
            &state.pool,
            tenant_id,
            key,
            &format!("provision:{id}"),
            &body,
            state.config.idempotency.key_ttl_hours,
        )
        .await?
    {
        return Ok((status, Json(stored)).into_response());
    }
    // Detached from the request: a client that goes away mid-way does not cut the sagas
    // short, and the answer is still recorded for its retry.
    let work = crate::db_scope::spawn(async move {
        let _claim = key
            .clone()
            .map(|k| idempotency::keep_claim(state.pool.clone(), tenant_id, k));
        let outcome = super::provision::provision(
            &state,
            &caller,
            id,
            &request.assignments,
            request_id.as_deref(),
        )
        .await;
        match outcome {
            Ok(results) => {
                let (status, body) = provision_response(id, &results);
                if let Some(key) = &key {
                    idempotency::complete(&state.pool, tenant_id, key, status, &body).await?;
                }
                Ok((status, body))
            }
            Err(err) => {
                if let Some(key) = &key {
                    idempotency::abandon(&state.pool, tenant_id, key).await?;
                }
                Err(err)
            }
        }
    });
    let (status, body) = work
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("provisioning task: {e}")))??;
    Ok((status, Json(body)).into_response())
}
