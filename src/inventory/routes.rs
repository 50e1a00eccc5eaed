//! The inventory routes; `startup` hands each builder to the slices in turn.

use axum::routing::{delete, get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/inventory", get(super::api::list))
        .at("/inventory/uploads", get(super::api::list_uploads))
        .at("/inventory/uploads/{id}", get(super::api::show_upload))
        .at(
            "/inventory/uploads/{id}/rejected.csv",
            get(super::api::rejected_csv),
        )
        .at(
            "/inventory/uploads/{id}/commit",
            post(super::api::commit_upload),
        )
        .at("/inventory/sample.csv", get(super::api::sample))
        .at("/inventory/allocations", post(super::api::allocate))
        .at(
            "/inventory/tenants/{id}/external-numbers",
            post(super::api::set_external_numbers),
        )
        .at("/inventory/releases", post(super::api::release))
        .at(
            "/inventory/carriers",
            get(super::api::list_carriers).post(super::api::create_carrier),
        )
        .at(
            "/inventory/carriers/{id}/default",
            put(super::api::set_default_carrier),
        )
        .at(
            "/inventory/{e164}",
            delete(super::api::delete).patch(super::api::change_capabilities),
        )
        .at(
            "/inventory/{e164}/permanent-release",
            post(super::api::permanent_release),
        )
        .at(
            "/inventory/{e164}/assignment",
            put(super::api::assign).delete(super::api::unassign),
        )
        .at(
            "/inventory/{e164}/ownership",
            post(super::ownership::api_start),
        )
        .at(
            "/inventory/{e164}/ownership/confirm",
            post(super::ownership::api_confirm),
        )
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/inventory", get(super::pages::page))
        .at("/inventory/dashboard", get(super::dashboard::fragment))
        .at("/inventory/sample.csv", get(super::pages::sample))
        .at("/inventory/export.csv", get(super::pages::export))
        .at("/inventory/uploads/{id}", get(super::pages::upload_status))
        .at("/inventory/uploads/{id}/commit", post(super::pages::commit))
        .at(
            "/inventory/uploads/{id}/rejected.csv",
            get(super::pages::rejected_csv),
        )
        .at("/inventory/bulk/{action}", post(super::pages::bulk))
        .at(
            "/inventory/carriers",
            get(super::pages::carriers).post(super::pages::add_carrier),
        )
        .at(
            "/inventory/carriers/{id}/default",
            post(super::pages::set_default_carrier),
        )
        .at(
            "/inventory/tenants/{id}/external-numbers",
            post(super::pages::set_external_numbers),
        )
        .at(
            "/inventory/numbers/{e164}/delete",
            post(super::pages::delete),
        )
        .at(
            "/inventory/numbers/{e164}/permanent-release",
            post(super::pages::permanent_release),
        )
        .at(
            "/inventory/numbers/{e164}/assign",
            post(super::pages::assign),
        )
        .at(
            "/inventory/numbers/{e164}/ownership",
            get(super::ownership::page).post(super::ownership::page_start),
        )
        .at(
            "/inventory/numbers/{e164}/ownership/confirm",
            post(super::ownership::page_confirm),
        )
}

/// Its uploads: streamed, with a body limit of their own.
pub fn upload_routes(r: Routes) -> Routes {
    r.at("/api/v1/inventory/uploads", post(super::api::create_upload))
        .at("/inventory/uploads", post(super::pages::upload))
}
