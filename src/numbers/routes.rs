//! The numbers routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/numbers", get(super::api::list))
        .at("/numbers/{e164}", get(super::api::show))
        .at("/numbers/{e164}/release", post(super::api::release))
        .at("/numbers/reroute", post(super::api::reroute_many))
        .at("/numbers/release", post(super::api::release_many))
        .at("/numbers/cnam", post(super::api::cnam_many))
        .at("/numbers/export.csv", get(super::export::api))
        .at("/numbers/{e164}/reroute", post(super::api::reroute))
        .at("/orphaned-numbers", get(super::api::orphaned))
        .at("/targets", get(super::api::targets))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/numbers", get(super::pages::list))
        .at("/numbers/orphaned", get(super::pages::orphaned))
        .at(
            "/numbers/reroute",
            get(super::pages::bulk_reroute_form).post(super::pages::bulk_reroute),
        )
        .at(
            "/numbers/bulk",
            get(super::pages::bulk_form).post(super::pages::bulk_act),
        )
        .at("/numbers/export.csv", get(super::export::page))
        .at("/numbers/{e164}/reroute", post(super::pages::reroute))
        .at("/numbers/{e164}", get(super::pages::show))
        .at("/numbers/{e164}/release", post(super::pages::release))
}
