//! The reports routes; `startup` hands each builder to the slices in turn.

use axum::routing::get;

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/reports/disconnected", get(super::api))
        .at("/reports/costs", get(super::costs::api))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/reports/disconnected", get(super::page))
        .at("/reports/costs", get(super::costs::page))
}
