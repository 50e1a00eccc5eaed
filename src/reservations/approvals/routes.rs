//! The approvals routes; the reservations slice adds them to its own.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/approvals", get(super::api::list))
        .at("/approvals/{id}/approve", post(super::api::approve))
        .at("/approvals/{id}/decline", post(super::api::decline))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/approvals", get(super::pages::list))
        .at("/approvals/{id}/approve", post(super::pages::approve))
        .at("/approvals/{id}/decline", post(super::pages::decline))
}
