use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::repo;
use crate::auth::{ApiCaller, RequestId};
use crate::domain::search::SearchParams;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Serialized straight from the structs: going through `serde_json::Value` built a map per
/// number and cost a visible share of a search's CPU.
#[derive(Serialize)]
pub struct Available {
    numbers: Vec<super::AvailableNumber>,
    next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks: Option<Vec<super::Block>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<super::MatchCount>,
}

pub async fn available(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Query(params): Query<SearchParams>,
) -> AppResult<Json<Available>> {
    let criteria = params
        .parse(state.config.search.limits())
        .map_err(|e| AppError::invalid_field(e.field(), e.to_string()))?;
    let outcome = super::run(&state, &caller, &criteria, request_id.as_deref()).await?;
    Ok(Json(Available {
        numbers: outcome.numbers,
        next_cursor: outcome.next_cursor,
        blocks: outcome.blocks,
        count: outcome.count,
    }))
}

#[derive(Debug, Deserialize)]
pub struct CityQuery {
    pub q: Option<String>,
    pub state: Option<String>,
}

pub async fn cities(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<CityQuery>,
) -> AppResult<Json<Value>> {
    let cities = lookup_cities(&state, &caller, &query).await?;
    Ok(Json(json!({ "cities": cities })))
}

pub async fn lookup_cities(
    state: &AppState,
    caller: &crate::domain::policy::Principal,
    query: &CityQuery,
) -> AppResult<Vec<repo::City>> {
    let tenant_id = caller.tenant()?;
    let prefix = query.q.as_deref().map(str::trim).unwrap_or_default();
    if prefix.chars().count() < 2 || prefix.chars().count() > 64 {
        return Ok(Vec::new());
    }
    let us_state = query
        .state
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_uppercase);
    let mut conn = state.pool.acquire().await?;
    let tenant = crate::tenants::profile(&mut conn, tenant_id).await?;
    Ok(repo::cities(
        &mut conn,
        prefix,
        us_state.as_deref(),
        &tenant.allowed_countries,
    )
    .await?)
}
