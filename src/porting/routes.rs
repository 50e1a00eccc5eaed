//! The porting routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/ports", get(super::api::list).post(super::api::create))
        .at("/ports/check", post(super::api::check))
        .at("/ports/{id}", get(super::api::show).put(super::api::update))
        .at(
            "/ports/{id}/loa",
            get(super::api::get_loa).put(super::api::put_loa),
        )
        .at(
            "/ports/{id}/bill",
            get(super::api::get_bill).put(super::api::put_bill),
        )
        .at("/ports/{id}/letter", get(super::api::letter))
        .at("/ports/{id}/submit", post(super::api::submit))
        .at("/ports/{id}/cancel", post(super::api::cancel))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/ports", get(super::pages::list).post(super::pages::create))
        .at("/ports/check", post(super::pages::check))
        .at("/ports/{id}", get(super::pages::show))
        .at(
            "/ports/{id}/loa",
            get(super::pages::download).post(super::pages::upload),
        )
        .at(
            "/ports/{id}/bill",
            get(super::pages::download_bill).post(super::pages::upload_bill),
        )
        .at("/ports/{id}/letter", get(super::pages::letter))
        .at("/ports/{id}/edit", post(super::pages::edit))
        .at("/ports/{id}/submit", post(super::pages::submit))
        .at("/ports/{id}/cancel", post(super::pages::cancel))
}
