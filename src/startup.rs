//! The router and server. Tests call `build_router` and `serve` exactly as `inward serve` does.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Json};
use axum::routing::{delete, get, post, put};
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::web::routes::Routes;
use crate::{
    approvals, audit, auth, cart, connections, features, inventory, jobs, numbers, porting,
    reservations, search, web,
};

const OPENAPI: &str = include_str!("../static/openapi.json");

pub fn api_router() -> Routes {
    Routes::new("/api/v1")
        .at("/numbers/available", get(search::api::available))
        .at("/cities", get(search::api::cities))
        .at(
            "/reservations",
            get(reservations::api::list).post(reservations::api::create),
        )
        .at(
            "/reservations/{id}",
            get(reservations::api::show).delete(reservations::api::cancel),
        )
        .at(
            "/reservations/{id}/provision",
            post(reservations::api::provision),
        )
        .at("/cart", get(cart::api::show).delete(cart::api::clear))
        .at("/cart/items", post(cart::api::add))
        .at("/cart/items/{e164}", delete(cart::api::remove))
        .at("/cart/reserve", post(cart::api::reserve))
        .at("/numbers", get(numbers::api::list))
        .at("/numbers/{e164}", get(numbers::api::show))
        .at("/numbers/{e164}/release", post(numbers::api::release))
        .at("/numbers/reroute", post(numbers::api::reroute_many))
        .at("/numbers/release", post(numbers::api::release_many))
        .at("/numbers/cnam", post(numbers::api::cnam_many))
        .at("/numbers/export.csv", get(numbers::export::api))
        .at("/numbers/{e164}/reroute", post(numbers::api::reroute))
        .at("/orphaned-numbers", get(numbers::api::orphaned))
        .at("/numbers/{e164}/cnam", put(features::api::put_cnam))
        .at("/numbers/{e164}/e911", put(features::api::put_e911))
        .at("/e911/bulk", post(features::api::bulk_e911))
        .at(
            "/tenant/settings",
            get(features::api::get_settings).put(features::api::put_settings),
        )
        .at("/compliance", get(features::api::compliance))
        .at(
            "/reseller/settings",
            get(features::api::get_reseller_settings).put(features::api::put_reseller_settings),
        )
        .at("/reseller/aging", get(features::api::aging))
        .at("/ports", get(porting::api::list).post(porting::api::create))
        .at(
            "/ports/{id}",
            get(porting::api::show).put(porting::api::update),
        )
        .at(
            "/ports/{id}/loa",
            get(porting::api::get_loa).put(porting::api::put_loa),
        )
        .at("/ports/{id}/submit", post(porting::api::submit))
        .at("/ports/{id}/cancel", post(porting::api::cancel))
        .at("/approvals", get(approvals::api::list))
        .at("/approvals/{id}/approve", post(approvals::api::approve))
        .at("/approvals/{id}/decline", post(approvals::api::decline))
        .at("/targets", get(numbers::api::targets))
        .at("/audit", get(audit::api::list))
        .at("/audit/chain", get(audit::api::chain))
        .at("/audit/export.csv", get(audit::api::export))
        .at("/inventory", get(inventory::api::list))
        .at("/inventory/uploads", get(inventory::api::list_uploads))
        .at("/inventory/uploads/{id}", get(inventory::api::show_upload))
        .at(
            "/inventory/uploads/{id}/rejected.csv",
            get(inventory::api::rejected_csv),
        )
        .at(
            "/inventory/uploads/{id}/commit",
            post(inventory::api::commit_upload),
        )
        .at("/inventory/sample.csv", get(inventory::api::sample))
        .at("/inventory/allocations", post(inventory::api::allocate))
        .at(
            "/inventory/tenants/{id}/external-numbers",
            post(inventory::api::set_external_numbers),
        )
        .at("/inventory/releases", post(inventory::api::release))
        .at(
            "/inventory/carriers",
            get(inventory::api::list_carriers).post(inventory::api::create_carrier),
        )
        .at(
            "/inventory/carriers/{id}/default",
            put(inventory::api::set_default_carrier),
        )
        .at(
            "/inventory/{e164}",
            delete(inventory::api::delete).patch(inventory::api::change_capabilities),
        )
        .at(
            "/inventory/{e164}/permanent-release",
            post(inventory::api::permanent_release),
        )
        .at(
            "/inventory/{e164}/assignment",
            put(inventory::api::assign).delete(inventory::api::unassign),
        )
        .at(
            "/connections",
            get(connections::api::list).post(connections::api::create),
        )
        .at("/connections/reapply", post(connections::api::reapply))
        .at(
            "/tokens",
            get(auth::tokens_web::api_list).post(auth::tokens_web::api_create),
        )
        .at("/tokens/{id}", delete(auth::tokens_web::api_revoke))
        .at(
            "/users",
            get(auth::users_web::api_list).post(auth::users_web::api_create),
        )
        .at("/users/{id}/role", put(auth::users_web::api_set_role))
        .at("/users/{id}/disable", post(auth::users_web::api_disable))
        .at("/users/{id}/enable", post(auth::users_web::api_enable))
        .at("/me", get(auth::account_web::api_me))
        .at("/notifications", get(crate::notifications::api_list))
        .at("/drift", get(crate::drift::web::api_list))
        .at("/drift/run", post(crate::drift::web::api_run))
        .at("/drift/actions", post(crate::drift::web::api_act))
        .at(
            "/notifications/read",
            post(crate::notifications::api_mark_read),
        )
        .at("/me/password", post(auth::account_web::api_change_password))
        .at("/me/sessions", delete(auth::account_web::api_end_sessions))
        .at(
            "/connections/{id}",
            get(connections::api::show).delete(connections::api::remove),
        )
        .at("/connections/{id}/test", post(connections::api::test))
        .at(
            "/connections/{id}/ringcx/dnis-pool",
            get(connections::ringcx_pool::api_search).post(connections::ringcx_pool::api_add),
        )
        .at(
            "/connections/{id}/ringcx/dnis-pool/upload",
            post(connections::ringcx_pool::api_upload),
        )
        .at(
            "/connections/{id}/ringcx/dnis-pool/bulk",
            put(connections::ringcx_pool::api_bulk),
        )
        .at(
            "/connections/{id}/ringcx/tracking-groups",
            get(connections::ringcx_pool::api_tracking_groups),
        )
        .at(
            "/connections/{id}/ringcx/tracking-groups/{group}/numbers",
            post(connections::ringcx_pool::api_create_tracking_number),
        )
        .at(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
}

pub fn page_router() -> Routes {
    Routes::new("")
        .at("/", get(web::pages::home))
        .at(
            "/login",
            get(auth::pages::login_form).post(auth::pages::login),
        )
        .at("/logout", post(auth::pages::logout))
        .at("/search", get(search::pages::search))
        .at("/search/cities", get(search::pages::cities))
        .at("/reservations", get(reservations::pages::list))
        .at("/reservations/{id}", get(reservations::pages::show))
        .at(
            "/reservations/{id}/provision",
            post(reservations::pages::provision),
        )
        .at(
            "/reservations/{id}/cancel",
            post(reservations::pages::cancel),
        )
        .at("/cart", get(cart::pages::show))
        .at("/cart/badge", get(cart::pages::badge))
        .at("/cart/update", post(cart::pages::update))
        .at("/cart/remove", post(cart::pages::remove))
        .at("/cart/clear", post(cart::pages::clear))
        .at("/cart/reserve", post(cart::pages::reserve))
        .at("/numbers", get(numbers::pages::list))
        .at("/numbers/orphaned", get(numbers::pages::orphaned))
        .at(
            "/numbers/reroute",
            get(numbers::pages::bulk_reroute_form).post(numbers::pages::bulk_reroute),
        )
        .at(
            "/numbers/bulk",
            get(numbers::pages::bulk_form).post(numbers::pages::bulk_act),
        )
        .at("/numbers/export.csv", get(numbers::export::page))
        .at("/numbers/{e164}/reroute", post(numbers::pages::reroute))
        .at("/numbers/{e164}", get(numbers::pages::show))
        .at("/numbers/{e164}/release", post(numbers::pages::release))
        .at("/numbers/{e164}/cnam", post(features::pages::save_cnam))
        .at("/numbers/{e164}/e911", post(features::pages::save_e911))
        .at(
            "/e911/bulk",
            get(features::pages::bulk_form).post(features::pages::bulk_submit),
        )
        .at(
            "/settings",
            get(features::pages::settings).post(features::pages::save_settings),
        )
        .at("/compliance", get(features::pages::compliance))
        .at(
            "/tokens",
            get(auth::tokens_web::show).post(auth::tokens_web::create),
        )
        .at("/tokens/{id}/revoke", post(auth::tokens_web::revoke_page))
        .at(
            "/users",
            get(auth::users_web::show).post(auth::users_web::create_page),
        )
        .at("/users/{id}/role", post(auth::users_web::role_page))
        .at("/users/{id}/disable", post(auth::users_web::disable_page))
        .at("/account", get(auth::account_web::show))
        .at("/notifications", get(crate::notifications::page))
        .at("/drift", get(crate::drift::web::page))
        .at("/drift/run", post(crate::drift::web::run_page))
        .at("/drift/act", post(crate::drift::web::act_page))
        .at("/notifications/bell", get(crate::notifications::bell))
        .at(
            "/account/password",
            post(auth::account_web::change_password_page),
        )
        .at(
            "/account/sign-out-others",
            post(auth::account_web::sign_out_others_page),
        )
        .at("/users/{id}/enable", post(auth::users_web::enable_page))
        .at(
            "/aging",
            get(features::pages::aging).post(features::pages::save_aging),
        )
        .at(
            "/ports",
            get(porting::pages::list).post(porting::pages::create),
        )
        .at("/ports/{id}", get(porting::pages::show))
        .at(
            "/ports/{id}/loa",
            get(porting::pages::download).post(porting::pages::upload),
        )
        .at("/ports/{id}/edit", post(porting::pages::edit))
        .at("/ports/{id}/submit", post(porting::pages::submit))
        .at("/ports/{id}/cancel", post(porting::pages::cancel))
        .at("/approvals", get(approvals::pages::list))
        .at("/approvals/{id}/approve", post(approvals::pages::approve))
        .at("/approvals/{id}/decline", post(approvals::pages::decline))
        .at("/audit", get(audit::pages::list))
        .at("/audit/export.csv", get(audit::pages::export))
        .at(
            "/settings/connection",
            get(connections::pages::show).post(connections::pages::update),
        )
        .at("/settings/connection/test", post(connections::pages::test))
        .at(
            "/settings/connection/reapply",
            post(connections::pages::reapply),
        )
        .at(
            "/settings/connection/ringcx-pool",
            get(connections::ringcx_pool::page),
        )
        .at(
            "/settings/connection/ringcx-pool/add",
            post(connections::ringcx_pool::page_add),
        )
        .at(
            "/settings/connection/ringcx-pool/upload",
            post(connections::ringcx_pool::page_upload),
        )
        .at("/inventory", get(inventory::pages::page))
        .at("/inventory/dashboard", get(inventory::dashboard::fragment))
        .at("/inventory/sample.csv", get(inventory::pages::sample))
        .at("/inventory/export.csv", get(inventory::pages::export))
        .at(
            "/inventory/uploads/{id}",
            get(inventory::pages::upload_status),
        )
        .at(
            "/inventory/uploads/{id}/commit",
            post(inventory::pages::commit),
        )
        .at(
            "/inventory/uploads/{id}/rejected.csv",
            get(inventory::pages::rejected_csv),
        )
        .at("/inventory/bulk/{action}", post(inventory::pages::bulk))
        .at(
            "/inventory/carriers",
            get(inventory::pages::carriers).post(inventory::pages::add_carrier),
        )
        .at(
            "/inventory/carriers/{id}/default",
            post(inventory::pages::set_default_carrier),
        )
        .at(
            "/inventory/tenants/{id}/external-numbers",
            post(inventory::pages::set_external_numbers),
        )
        .at(
            "/inventory/numbers/{e164}/delete",
            post(inventory::pages::delete),
        )
        .at(
            "/inventory/numbers/{e164}/permanent-release",
            post(inventory::pages::permanent_release),
        )
        .at(
            "/inventory/numbers/{e164}/assign",
            post(inventory::pages::assign),
        )
}

/// Upload routes stream bodies far larger than the global limit (a 1,000,000-row CSV is about
/// 40 MB) into COPY, so they get their own limit and no buffering.
pub fn upload_router() -> Routes {
    Routes::new("")
        .at(
            "/api/v1/inventory/uploads",
            post(inventory::api::create_upload),
        )
        .at("/inventory/uploads", post(inventory::pages::upload))
}

/// What answers without a caller: probes and the static files. (`/metrics` is added by
/// `build_router` when it has no listener of its own.)
pub fn public_router() -> Routes {
    Routes::new("")
        .at(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .at("/readyz", get(readyz))
        .at("/static/{*path}", get(crate::web::assets::serve))
}

/// The path of every route `build_router` serves, `{parameters}` included.
pub fn route_paths() -> Vec<String> {
    [
        api_router(),
        page_router(),
        upload_router(),
        public_router(),
    ]
    .iter()
    .flat_map(|routes| routes.paths().to_vec())
    .chain(["/metrics".to_string()])
    .collect()
}

pub fn build_router(state: AppState) -> Router {
    crate::metrics::handle();
    let request_id = HeaderName::from_static("x-request-id");
    // Behind HTTPS (secure cookies on), browsers are told to use nothing else; otherwise
    // the header is left out (an empty value is never sent).
    let hsts = if state.config.server.secure_cookies {
        Some(HeaderValue::from_static("max-age=31536000"))
    } else {
        None
    };
    // /metrics is here unless it has a listener of its own (`metrics.listen`).
    let metrics = if state.config.metrics.listen.is_empty() {
        Router::new().route("/metrics", get(crate::metrics::render))
    } else {
        Router::new()
    };
    let api = api_router()
        .router()
        .fallback(|| async { crate::error::AppError::NotFound("API route".into()) });
    let limited = Router::new()
        .merge(page_router().router())
        .nest("/api/v1", api)
        .layer(RequestBodyLimitLayer::new(2 * 1024 * 1024));
    let max_upload = state.config.inventory.max_upload_mib * 1024 * 1024;
    let uploads = upload_router()
        .router()
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(max_upload));
    Router::new()
        .merge(uploads)
        .merge(limited)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::session::authenticate,
        ))
        .merge(public_router().router())
        .merge(metrics)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(state.config.server.body_stall_seconds),
        ))
        .layer(middleware::from_fn(crate::web::uniform_errors))
        .layer(middleware::from_fn(crate::metrics::track_requests))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Pages load only this site's files: no inline script or style, no plugins, no
        // framing, forms post here only.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        // Pages, API answers and downloads carry a tenant's data: no cache keeps them.
        // The static files set their own caching.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        // One span per request, carrying its id, and its caller once known (`auth::session`).
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
}

fn request_span(request: &axum::extract::Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        user = tracing::field::Empty,
        org = tracing::field::Empty,
    )
}

/// A client's `X-Request-Id` is kept when it is a short token (it goes into every audit
/// entry of the request); anything else is dropped, and a fresh one is made for it.
async fn drop_unusable_request_id(
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let usable = request.headers().get("x-request-id").is_none_or(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 64
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    if !usable {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Ready when the database answers within a second. The answer never carries the
/// database's own error text (it may name hosts and users); the log has it.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let probe = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), probe).await {
        Ok(Ok(_)) => (
            axum::http::StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        outcome => {
            if let Ok(Err(err)) = outcome {
                tracing::warn!(error = %err, "readiness: the database did not answer");
            }
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "database unavailable" })),
            )
        }
    }
}

/// Serves until the future `shutdown` resolves, with the background jobs running beside.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_metrics(listener, None, state, shutdown).await
}

/// `serve`, with `/metrics` on a listener of its own when `metrics.listen` is set.
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = metrics.map(|listener| {
        let router = Router::new().route("/metrics", get(crate::metrics::render));
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the metrics listener stopped");
            }
        })
    });
    let interval = Duration::from_secs(state.config.holds.sweep_interval_seconds.max(1));
    let jobs = tokio::spawn(jobs::run_forever(state.clone(), interval));
    // Drains the histograms' raw samples into their buckets between scrapes.
    let upkeep = tokio::spawn(async {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticker.tick().await;
            crate::metrics::handle().run_upkeep();
        }
    });
    let header_read_timeout = Duration::from_secs(state.config.server.header_read_timeout_seconds);
    web::server::serve(
        listener,
        build_router(state.clone()),
        header_read_timeout,
        shutdown,
    )
    .await;
    jobs.abort();
    upkeep.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // A graceful stop loses no SEARCH entries.
    state.deferred_audit.flush().await;
    Ok(())
}
