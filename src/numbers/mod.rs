//! The tenant's numbers: listing, detail with history, release, re-routing, and routing targets.

pub mod api;
pub mod bulk;
pub mod lifecycle;
pub mod offer;
pub mod pages;
pub mod release;
pub mod repo;
pub mod reroute;

pub use release::release;
pub use reroute::reroute;

use crate::domain::E164;
use crate::error::{AppError, AppResult};

/// Parses a number from a path segment; a malformed one is a 422 that says why.
pub fn parse_path_number(raw: &str) -> AppResult<E164> {
    E164::parse(raw).map_err(|e| AppError::invalid_field("number", e.to_string()))
}
