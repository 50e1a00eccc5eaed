//! The single sign-on routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use super::{api, pages, signin};
use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/identity-providers", get(api::list).post(api::create))
        .at(
            "/identity-providers/{id}",
            get(api::get).patch(api::update).delete(api::delete),
        )
}

/// Its pages, and the sign-in through a provider.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/login/sso", post(signin::start))
        .at("/login/sso/callback", get(signin::callback))
        .at("/identity-providers", get(pages::show).post(pages::create))
        .at("/identity-providers/{id}", post(pages::update))
        .at("/identity-providers/{id}/delete", post(pages::delete))
}
