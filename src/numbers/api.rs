use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::repo::{self, TenantNumber};
use crate::audit::repo::{AuditFilter, list as audit_list};
use crate::auth::{ApiCaller, RequestId};
use crate::domain::policy::AuditScope;
use crate::domain::{NumberState, TargetKind};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn number_json(n: &TenantNumber) -> Value {
    let target = n
        .target_type
        .as_ref()
        .map(|kind| json!({ "type": kind, "id": n.target_id, "name": n.target_name }));
    json!({
        "e164": n.e164, "state": n.state, "tenant_id": n.tenant_id, "kind": n.kind, "region": n.region,
        "us_state": n.us_state, "rate_center": n.rate_center, "city": n.city, "target": target,
        "display_name": n.display_name, "reservation_id": n.reservation_id, "state_changed_at": n.state_changed_at,
    })
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
    /// A notice code for the page, and the number it names (ignored by the API).
    pub notice: Option<String>,
    pub number: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

pub struct ListArgs {
    pub state: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

impl ListQuery {
    pub fn parse(&self) -> AppResult<ListArgs> {
        let state = match self
            .state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(
                s.parse::<NumberState>()
                    .map_err(|e| AppError::invalid_field("state", e))?
                    .as_str()
                    .to_string(),
            ),
        };
        let after = crate::web::paging::cursor(self.cursor.as_deref(), |c| {
            super::parse_path_number(c)
                .ok()
                .map(|n| n.as_str().to_string())
        })?;
        let limit = crate::web::paging::limit(self.limit.as_deref(), 100)?;
        Ok(ListArgs {
            state,
            after,
            limit,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let args = query.parse()?;
    // The statement keeps its plan there (see `repo::list`).
    let mut conn = state.reads_for(caller.user_id).lists.acquire().await?;
    let numbers = repo::list(
        &mut conn,
        tenant_id,
        args.state.as_deref(),
        args.after.as_deref(),
        args.limit,
    )
    .await?;
    let next_cursor = (numbers.len() as i64 == args.limit)
        .then(|| numbers.last().map(|n| n.number.e164.clone()))
        .flatten();
    let listed: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let (f, mut body) = (&n.features, number_json(&n.number));
            body["cnam"] = json!({ "name": f.cnam_name, "status": f.cnam_status });
            body["e911"] = json!({ "status": f.e911_status });
            body
        })
        .collect();
    Ok(Json(
        json!({ "numbers": listed, "next_cursor": next_cursor }),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let number = super::parse_path_number(&raw)?;
    let mut conn = state.pool.acquire().await?;
    let found = repo::find(&mut conn, tenant_id, number.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let history = audit_list(
        &mut conn,
        &AuditScope::Tenant(tenant_id),
        &AuditFilter {
            number: Some(number.as_str().to_string()),
            limit: 100,
            ..Default::default()
        },
    )
    .await?;
    let mut body = number_json(&found);
    body["cnam"] = json!(crate::features::cnam::view(&mut conn, tenant_id, number.as_str()).await?);
    body["e911"] = json!(crate::features::e911::view(&mut conn, tenant_id, number.as_str()).await?);
    body["history"] = serde_json::to_value(history).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Json(body))
}

pub async fn release(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let number = super::parse_path_number(&raw)?;
    let to = super::release(&state, &caller, &number, request_id.as_deref()).await?;
    Ok(Json(json!({ "e164": number, "state": to.as_str() })))
}

#[derive(Debug, Deserialize)]
pub struct TargetQuery {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

pub async fn targets(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<TargetQuery>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let kind = query
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(|k| {
            k.parse::<TargetKind>()
                .map_err(|e| AppError::invalid_field("type", e))
        })
        .transpose()?;
    let targets = state.targets(tenant_id, kind).await?;
    Ok(Json(json!({ "targets": targets })))
}

#[derive(Debug, Deserialize)]
pub struct RerouteRequest {
    pub target: crate::domain::target::TargetSpec,
}

pub async fn reroute(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    crate::web::ApiJson(body): crate::web::ApiJson<RerouteRequest>,
) -> AppResult<Json<Value>> {
    let number = super::parse_path_number(&raw)?;
    let id = body
        .target
        .id
        .as_deref()
        .ok_or_else(|| AppError::invalid_field("target.id", "give the new target's id"))?;
    let target = super::reroute(
        &state,
        &caller,
        &number,
        &body.target.kind,
        id,
        request_id.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({ "e164": number, "state": "active", "target": target }),
    ))
}

/// Re-routes several numbers to one target; each number's outcome is in `results`.
pub async fn reroute_many(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    crate::web::ApiJson(body): crate::web::ApiJson<super::bulk::BulkRerouteRequest>,
) -> AppResult<Json<Value>> {
    let id = body
        .target
        .id
        .as_deref()
        .ok_or_else(|| AppError::invalid_field("target.id", "give the new target's id"))?;
    let results = super::bulk::reroute_all(
        &state,
        &caller,
        &body.numbers,
        &body.target.kind,
        id,
        request_id.as_deref(),
    )
    .await?;
    let rerouted = results.iter().filter(|r| r.ok).count();
    Ok(Json(json!({
        "rerouted": rerouted,
        "failed": results.len() - rerouted,
        "results": results,
    })))
}

pub async fn release_many(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    crate::web::ApiJson(body): crate::web::ApiJson<super::bulk::BulkReleaseRequest>,
) -> AppResult<Json<Value>> {
    let results =
        super::bulk::release_all(&state, &caller, &body.numbers, request_id.as_deref()).await?;
    let released = results.iter().filter(|r| r.ok).count();
    Ok(Json(json!({
        "released": released,
        "failed": results.len() - released,
        "results": results,
    })))
}

pub async fn cnam_many(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    crate::web::ApiJson(body): crate::web::ApiJson<super::bulk::BulkCnamRequest>,
) -> AppResult<Json<Value>> {
    let results = super::bulk::cnam_all(
        &state,
        &caller,
        &body.numbers,
        body.name.as_deref(),
        request_id.as_deref(),
    )
    .await?;
    let changed = results.iter().filter(|r| r.ok).count();
    Ok(Json(json!({
        "changed": changed,
        "failed": results.len() - changed,
        "results": results,
    })))
}

pub async fn orphaned(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let numbers = repo::list(&mut conn, tenant_id, Some("orphaned"), None, 500).await?;
    Ok(Json(
        json!({ "numbers": numbers.iter().map(|n| number_json(&n.number)).collect::<Vec<_>>() }),
    ))
}
