//! The users routes; `startup` hands each builder to the slices in turn.

use axum::routing::{delete, get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at(
        "/tokens",
        get(super::tokens::api_list).post(super::tokens::api_create),
    )
    .at("/tokens/{id}", delete(super::tokens::api_revoke))
    .at(
        "/users",
        get(super::members::api_list).post(super::members::api_create),
    )
    .at("/users/{id}/role", put(super::members::api_set_role))
    .at("/users/{id}/disable", post(super::members::api_disable))
    .at("/users/{id}/enable", post(super::members::api_enable))
    .at("/me", get(super::account::api_me))
    .at("/me/password", post(super::account::api_change_password))
    .at("/me/sessions", delete(super::account::api_end_sessions))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at(
        "/tokens",
        get(super::tokens::show).post(super::tokens::create),
    )
    .at("/tokens/{id}/revoke", post(super::tokens::revoke_page))
    .at(
        "/users",
        get(super::members::show).post(super::members::create_page),
    )
    .at("/users/{id}/role", post(super::members::role_page))
    .at("/users/{id}/disable", post(super::members::disable_page))
    .at("/account", get(super::account::show))
    .at(
        "/account/password",
        post(super::account::change_password_page),
    )
    .at(
        "/account/sign-out-others",
        post(super::account::sign_out_others_page),
    )
    .at("/users/{id}/enable", post(super::members::enable_page))
}
