//! The tenant's numbers: listing, detail with history, release, re-routing, and routing targets.

pub mod activation;
pub mod api;
pub mod bulk;
pub mod export;
pub mod lifecycle;
pub mod offer;
pub mod pages;
pub mod release;
pub mod repo;
pub mod reroute;
pub mod routes;

pub use release::release;
pub use reroute::reroute;

use crate::domain::TenantId;
use crate::domain::{E164, NumberState};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Parses a number from a path segment; a malformed one is a 422 that says why.
pub fn parse_path_number(raw: &str) -> AppResult<E164> {
    E164::parse(raw).map_err(|e| AppError::invalid_field("number", e.to_string()))
}

/// The tenant's number and its state, or a 404 that names it: where a saga on it starts.
pub async fn tenants_number(
    state: &AppState,
    tenant_id: TenantId,
    number: &E164,
) -> AppResult<(repo::TenantNumber, NumberState)> {
    let current = repo::find(
        &mut *state.pool.acquire().await?,
        tenant_id,
        number.as_str(),
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let from = current.state;
    Ok((current, from))
}
