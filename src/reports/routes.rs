//! The reports routes; `startup` hands each builder to the slices in turn.

use axum::routing::get;

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/reports/disconnected", get(super::api))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/reports/disconnected", get(super::page))
}
