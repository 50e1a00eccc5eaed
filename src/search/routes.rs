//! The search routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    let r = r
        .at("/numbers/available", get(super::api::available))
        .at("/numbers/coverage", get(super::coverage::api))
        .at("/cities", get(super::api::cities));
    super::cart::routes::api_routes(r)
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    let r = r
        .at("/search", get(super::pages::search))
        .at("/search/cities", get(super::pages::cities))
        .at("/search/coverage", get(super::coverage::page))
        .at("/search/order", post(super::pages::order));
    super::cart::routes::page_routes(r)
}
