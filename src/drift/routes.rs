//! The drift routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/drift", get(super::web::api_list))
        .at("/drift/run", post(super::web::api_run))
        .at("/drift/actions", post(super::web::api_act))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/drift", get(super::web::page))
        .at("/drift/run", post(super::web::run_page))
        .at("/drift/act", post(super::web::act_page))
}
