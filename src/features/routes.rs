//! The features routes; `startup` hands each builder to the slices in turn.

use axum::routing::{delete, get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/numbers/{e164}/cnam", put(super::api::put_cnam))
        .at("/numbers/{e164}/e911", put(super::api::put_e911))
        .at("/e911/bulk", post(super::api::bulk_e911))
        .at(
            "/e911/addresses",
            get(super::e911_api::list_addresses).post(super::e911_api::create_address),
        )
        .at(
            "/e911/addresses/{id}",
            get(super::e911_api::get_address)
                .put(super::e911_api::put_address)
                .delete(super::e911_api::delete_address),
        )
        .at(
            "/e911/contacts",
            get(super::e911_api::list_contacts).post(super::e911_api::add_contact),
        )
        .at(
            "/e911/contacts/{id}",
            delete(super::e911_api::delete_contact),
        )
        .at(
            "/numbers/{e164}/e911/test-alert",
            post(super::e911_api::test_alert),
        )
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
        .at("/e911", get(super::e911_pages::book))
        .at("/e911/addresses", post(super::e911_pages::create_address))
        .at(
            "/e911/addresses/{id}",
            get(super::e911_pages::address_page).post(super::e911_pages::save_address),
        )
        .at(
            "/e911/addresses/{id}/delete",
            post(super::e911_pages::delete_address),
        )
        .at("/e911/contacts", post(super::e911_pages::add_contact))
        .at(
            "/e911/contacts/{id}/delete",
            post(super::e911_pages::remove_contact),
        )
        .at(
            "/numbers/{e164}/e911/test-alert",
            post(super::e911_pages::test_alert),
        )
        .at(
            "/aging",
            get(super::pages::aging).post(super::pages::save_aging),
        )
}
