//! JSON API: list approvals, approve, decline.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Decision;
use crate::auth::{ApiCaller, RequestId};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    let status = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let rows = super::list(&mut *state.pool.acquire().await?, &caller, status).await?;
    Ok(Json(
        json!({ "approvals": rows.iter().map(super::ApprovalRow::to_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionBody {
    #[serde(default)]
    pub reason: Option<String>,
}

async fn decide(
    state: AppState,
    caller: crate::domain::policy::Principal,
    request_id: Option<String>,
    raw: String,
    decision: Decision,
    body: DecisionBody,
) -> AppResult<Json<Value>> {
    let id = parse_id(&raw, "approval")?;
    let row = super::decide::decide(
        &state,
        &caller,
        id,
        decision,
        body.reason.as_deref(),
        request_id.as_deref(),
    )
    .await?;
    Ok(Json(row.to_json()))
}

pub async fn approve(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Json<Value>> {
    // The body is optional when approving: `{"reason": "…"}` adds a note.
    let body: DecisionBody = if body.iter().all(u8::is_ascii_whitespace) {
        DecisionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| crate::error::AppError::invalid("invalid_json", e.to_string()))?
    };
    decide(state, caller, request_id, raw, Decision::Approve, body).await
}

pub async fn decline(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> AppResult<Json<Value>> {
    decide(state, caller, request_id, raw, Decision::Decline, body).await
}
