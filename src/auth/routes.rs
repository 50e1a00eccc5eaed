//! The auth routes; `startup` hands each builder to the slices in turn.

use axum::routing::{delete, get, post, put};

use crate::web::routes::Routes;

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at(
        "/tokens",
        get(super::tokens_web::api_list).post(super::tokens_web::api_create),
    )
    .at("/tokens/{id}", delete(super::tokens_web::api_revoke))
    .at(
        "/users",
        get(super::users_web::api_list).post(super::users_web::api_create),
    )
    .at("/users/{id}/role", put(super::users_web::api_set_role))
    .at("/users/{id}/disable", post(super::users_web::api_disable))
    .at("/users/{id}/enable", post(super::users_web::api_enable))
    .at("/me", get(super::account_web::api_me))
    .at(
        "/me/password",
        post(super::account_web::api_change_password),
    )
    .at("/me/sessions", delete(super::account_web::api_end_sessions))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at(
        "/login",
        get(super::pages::login_form).post(super::pages::login),
    )
    .at("/logout", post(super::pages::logout))
    .at(
        "/tokens",
        get(super::tokens_web::show).post(super::tokens_web::create),
    )
    .at("/tokens/{id}/revoke", post(super::tokens_web::revoke_page))
    .at(
        "/users",
        get(super::users_web::show).post(super::users_web::create_page),
    )
    .at("/users/{id}/role", post(super::users_web::role_page))
    .at("/users/{id}/disable", post(super::users_web::disable_page))
    .at("/account", get(super::account_web::show))
    .at(
        "/account/password",
        post(super::account_web::change_password_page),
    )
    .at(
        "/account/sign-out-others",
        post(super::account_web::sign_out_others_page),
    )
    .at("/users/{id}/enable", post(super::users_web::enable_page))
}
