//! The reservations routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    let r = super::approvals::routes::api_routes(r);
    r.at(
        "/reservations",
        get(super::api::list).post(super::api::create),
    )
    .at(
        "/reservations/{id}",
        get(super::api::show).delete(super::api::cancel),
    )
    .at("/reservations/{id}/provision", post(super::api::provision))
    .at("/reservations/{id}/extend", post(super::api::extend))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    let r = super::approvals::routes::page_routes(r);
    r.at("/reservations", get(super::pages::list))
        .at("/reservations/{id}", get(super::pages::show))
        .at(
            "/reservations/{id}/provision",
            post(super::pages::provision),
        )
        .at("/reservations/{id}/cancel", post(super::pages::cancel))
        .at("/reservations/{id}/extend", post(super::pages::extend))
}
