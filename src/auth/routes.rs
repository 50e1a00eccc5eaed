//! The sign-in routes; `startup` hands each builder to the slices in turn.

use axum::routing::{get, post};

use crate::web::routes::Routes;

/// Its pages: signing in and out (the API authenticates with tokens, and has no routes here).
pub fn page_routes(r: Routes) -> Routes {
    r.at(
        "/login",
        get(super::pages::login_form).post(super::pages::login),
    )
    .at("/logout", post(super::pages::logout))
}
