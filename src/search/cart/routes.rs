//! The cart routes; the search slice adds them to its own.

use axum::routing::{delete, get, post};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/cart", get(super::api::show).delete(super::api::clear))
        .at("/cart/items", post(super::api::add))
        .at("/cart/items/{e164}", delete(super::api::remove))
        .at("/cart/reserve", post(super::api::reserve))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/cart", get(super::pages::show))
        .at("/cart/badge", get(super::pages::badge))
        .at("/cart/update", post(super::pages::update))
        .at("/cart/remove", post(super::pages::remove))
        .at("/cart/clear", post(super::pages::clear))
        .at("/cart/reserve", post(super::pages::reserve))
}
