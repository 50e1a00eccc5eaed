//! The connections routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at(
        "/connections",
        get(super::api::list).post(super::api::create),
    )
    .at("/connections/reapply", post(super::api::reapply))
    .at(
        "/connections/{id}",
        get(super::api::show).delete(super::api::remove),
    )
    .at("/connections/{id}/test", post(super::api::test))
    .at(
        "/connections/{id}/ringcx/dnis-pool",
        get(super::ringcx_pool::api_search).post(super::ringcx_pool::api_add),
    )
    .at(
        "/connections/{id}/ringcx/dnis-pool/upload",
        post(super::ringcx_pool::api_upload),
    )
    .at(
        "/connections/{id}/ringcx/dnis-pool/bulk",
        put(super::ringcx_pool::api_bulk),
    )
    .at(
        "/connections/{id}/ringcx/tracking-groups",
        get(super::ringcx_pool::api_tracking_groups),
    )
    .at(
        "/connections/{id}/ringcx/tracking-groups/{group}/numbers",
        post(super::ringcx_pool::api_create_tracking_number),
    )
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at(
        "/settings/connection",
        get(super::pages::show).post(super::pages::update),
    )
    .at("/settings/connection/test", post(super::pages::test))
    .at("/settings/connection/reapply", post(super::pages::reapply))
    .at(
        "/settings/connection/ringcx-pool",
        get(super::ringcx_pool::page),
    )
    .at(
        "/settings/connection/ringcx-pool/add",
        post(super::ringcx_pool::page_add),
    )
    .at(
        "/settings/connection/ringcx-pool/upload",
        post(super::ringcx_pool::page_upload),
    )
}
