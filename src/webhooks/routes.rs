//! The webhooks routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use super::{api, pages};
use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/webhooks", get(api::list).post(api::create))
        .at(
            "/webhooks/{id}",
            get(api::get).patch(api::update).delete(api::delete),
        )
        .at("/webhooks/{id}/deliveries", get(api::deliveries))
        .at("/webhooks/{id}/deliveries/{delivery}", get(api::delivery))
        .at(
            "/webhooks/{id}/deliveries/{delivery}/resend",
            post(api::resend),
        )
        .at("/webhooks/{id}/test", post(api::send_test))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/webhooks", get(pages::show).post(pages::create))
        .at("/webhooks/{id}", get(pages::detail).post(pages::update))
        .at("/webhooks/{id}/enable", post(pages::enable))
        .at("/webhooks/{id}/disable", post(pages::disable))
        .at("/webhooks/{id}/delete", post(pages::delete))
        .at("/webhooks/{id}/test", post(pages::send_test))
        .at(
            "/webhooks/{id}/deliveries/{delivery}/resend",
            post(pages::resend),
        )
}
