//! The audit routes; `startup` hands each builder to the slices in turn.

use axum::routing::get;

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/audit", get(super::api::list))
        .at("/audit/chain", get(super::api::chain))
        .at("/audit/export.csv", get(super::api::export))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/audit", get(super::pages::list))
        .at("/audit/export.csv", get(super::pages::export))
}
