//! The features routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/numbers/{e164}/cnam", put(super::api::put_cnam))
        .at("/numbers/{e164}/e911", put(super::api::put_e911))
        .at("/e911/bulk", post(super::api::bulk_e911))
        .at(
            "/tenant/settings",
            get(super::api::get_settings).put(super::api::put_settings),
        )
        .at("/compliance", get(super::api::compliance))
        .at(
            "/reseller/settings",
            get(super::api::get_reseller_settings).put(super::api::put_reseller_settings),
        )
        .at("/reseller/aging", get(super::api::aging))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/numbers/{e164}/cnam", post(super::pages::save_cnam))
        .at("/numbers/{e164}/e911", post(super::pages::save_e911))
        .at(
            "/e911/bulk",
            get(super::pages::bulk_form).post(super::pages::bulk_submit),
        )
        .at(
            "/settings",
            get(super::pages::settings).post(super::pages::save_settings),
        )
        .at("/compliance", get(super::pages::compliance))
        .at(
            "/aging",
            get(super::pages::aging).post(super::pages::save_aging),
        )
}
