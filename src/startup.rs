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
use crate::{
    approvals, audit, auth, connections, features, inventory, jobs, numbers, porting, reservations,
    search, web,
};

const OPENAPI: &str = include_str!("../static/openapi.json");

pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/numbers/available", get(search::api::available))
        .route("/cities", get(search::api::cities))
        .route(
            "/reservations",
            get(reservations::api::list).post(reservations::api::create),
        )
        .route(
            "/reservations/{id}",
            get(reservations::api::show).delete(reservations::api::cancel),
        )
        .route(
            "/reservations/{id}/provision",
            post(reservations::api::provision),
        )
        .route("/numbers", get(numbers::api::list))
        .route("/numbers/{e164}", get(numbers::api::show))
        .route("/numbers/{e164}/release", post(numbers::api::release))
        .route("/numbers/{e164}/reroute", post(numbers::api::reroute))
        .route("/orphaned-numbers", get(numbers::api::orphaned))
        .route("/numbers/{e164}/cnam", put(features::api::put_cnam))
        .route("/numbers/{e164}/e911", put(features::api::put_e911))
        .route("/e911/bulk", post(features::api::bulk_e911))
        .route(
            "/tenant/settings",
            get(features::api::get_settings).put(features::api::put_settings),
        )
        .route("/compliance", get(features::api::compliance))
        .route(
            "/reseller/settings",
            get(features::api::get_reseller_settings).put(features::api::put_reseller_settings),
        )
        .route("/reseller/aging", get(features::api::aging))
        .route("/ports", get(porting::api::list).post(porting::api::create))
        .route(
            "/ports/{id}",
            get(porting::api::show).put(porting::api::update),
        )
        .route(
            "/ports/{id}/loa",
            get(porting::api::get_loa).put(porting::api::put_loa),
        )
        .route("/ports/{id}/submit", post(porting::api::submit))
        .route("/ports/{id}/cancel", post(porting::api::cancel))
        .route("/approvals", get(approvals::api::list))
        .route("/approvals/{id}/approve", post(approvals::api::approve))
        .route("/approvals/{id}/decline", post(approvals::api::decline))
        .route("/targets", get(numbers::api::targets))
        .route("/audit", get(audit::api::list))
        .route("/inventory", get(inventory::api::list))
        .route("/inventory/uploads", get(inventory::api::list_uploads))
        .route("/inventory/uploads/{id}", get(inventory::api::show_upload))
        .route(
            "/inventory/uploads/{id}/rejected.csv",
            get(inventory::api::rejected_csv),
        )
        .route(
            "/inventory/uploads/{id}/commit",
            post(inventory::api::commit_upload),
        )
        .route("/inventory/sample.csv", get(inventory::api::sample))
        .route("/inventory/allocations", post(inventory::api::allocate))
        .route(
            "/inventory/tenants/{id}/external-numbers",
            post(inventory::api::set_external_numbers),
        )
        .route("/inventory/releases", post(inventory::api::release))
        .route(
            "/inventory/carriers",
            get(inventory::api::list_carriers).post(inventory::api::create_carrier),
        )
        .route(
            "/inventory/carriers/{id}/default",
            put(inventory::api::set_default_carrier),
        )
        .route(
            "/inventory/{e164}",
            delete(inventory::api::delete).patch(inventory::api::change_capabilities),
        )
        .route(
            "/inventory/{e164}/permanent-release",
            post(inventory::api::permanent_release),
        )
        .route(
            "/inventory/{e164}/assignment",
            put(inventory::api::assign).delete(inventory::api::unassign),
        )
        .route(
            "/connections",
            get(connections::api::list).post(connections::api::create),
        )
        .route(
            "/tokens",
            get(auth::tokens_web::api_list).post(auth::tokens_web::api_create),
        )
        .route("/tokens/{id}", delete(auth::tokens_web::api_revoke))
        .route(
            "/users",
            get(auth::users_web::api_list).post(auth::users_web::api_create),
        )
        .route("/users/{id}/role", put(auth::users_web::api_set_role))
        .route("/users/{id}/disable", post(auth::users_web::api_disable))
        .route("/users/{id}/enable", post(auth::users_web::api_enable))
        .route("/me", get(auth::account_web::api_me))
        .route("/me/password", post(auth::account_web::api_change_password))
        .route("/me/sessions", delete(auth::account_web::api_end_sessions))
        .route(
            "/connections/{id}",
            get(connections::api::show).delete(connections::api::remove),
        )
        .route("/connections/{id}/test", post(connections::api::test))
        .route(
            "/connections/{id}/ringcx/dnis-pool",
            get(connections::ringcx_pool::api_search).post(connections::ringcx_pool::api_add),
        )
        .route(
            "/connections/{id}/ringcx/dnis-pool/upload",
            post(connections::ringcx_pool::api_upload),
        )
        .route(
            "/connections/{id}/ringcx/dnis-pool/bulk",
            put(connections::ringcx_pool::api_bulk),
        )
        .route(
            "/connections/{id}/ringcx/tracking-groups",
            get(connections::ringcx_pool::api_tracking_groups),
        )
        .route(
            "/connections/{id}/ringcx/tracking-groups/{group}/numbers",
            post(connections::ringcx_pool::api_create_tracking_number),
        )
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async { crate::error::AppError::NotFound("API route".into()) })
}

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/", get(web::pages::home))
        .route(
            "/login",
            get(auth::pages::login_form).post(auth::pages::login),
        )
        .route("/logout", post(auth::pages::logout))
        .route("/search", get(search::pages::search))
        .route("/search/cities", get(search::pages::cities))
        .route(
            "/reservations",
            get(reservations::pages::list).post(reservations::pages::reserve),
        )
        .route("/reservations/{id}", get(reservations::pages::show))
        .route(
            "/reservations/{id}/provision",
            post(reservations::pages::provision),
        )
        .route(
            "/reservations/{id}/cancel",
            post(reservations::pages::cancel),
        )
        .route("/numbers", get(numbers::pages::list))
        .route("/numbers/orphaned", get(numbers::pages::orphaned))
        .route("/numbers/{e164}/reroute", post(numbers::pages::reroute))
        .route("/numbers/{e164}", get(numbers::pages::show))
        .route("/numbers/{e164}/release", post(numbers::pages::release))
        .route("/numbers/{e164}/cnam", post(features::pages::save_cnam))
        .route("/numbers/{e164}/e911", post(features::pages::save_e911))
        .route(
            "/e911/bulk",
            get(features::pages::bulk_form).post(features::pages::bulk_submit),
        )
        .route(
            "/settings",
            get(features::pages::settings).post(features::pages::save_settings),
        )
        .route("/compliance", get(features::pages::compliance))
        .route(
            "/tokens",
            get(auth::tokens_web::show).post(auth::tokens_web::create),
        )
        .route("/tokens/{id}/revoke", post(auth::tokens_web::revoke_page))
        .route(
            "/users",
            get(auth::users_web::show).post(auth::users_web::create_page),
        )
        .route("/users/{id}/role", post(auth::users_web::role_page))
        .route("/users/{id}/disable", post(auth::users_web::disable_page))
        .route("/account", get(auth::account_web::show))
        .route(
            "/account/password",
            post(auth::account_web::change_password_page),
        )
        .route(
            "/account/sign-out-others",
            post(auth::account_web::sign_out_others_page),
        )
        .route("/users/{id}/enable", post(auth::users_web::enable_page))
        .route(
            "/aging",
            get(features::pages::aging).post(features::pages::save_aging),
        )
        .route(
            "/ports",
            get(porting::pages::list).post(porting::pages::create),
        )
        .route("/ports/{id}", get(porting::pages::show))
        .route(
            "/ports/{id}/loa",
            get(porting::pages::download).post(porting::pages::upload),
        )
        .route("/ports/{id}/edit", post(porting::pages::edit))
        .route("/ports/{id}/submit", post(porting::pages::submit))
        .route("/ports/{id}/cancel", post(porting::pages::cancel))
        .route("/approvals", get(approvals::pages::list))
        .route("/approvals/{id}/approve", post(approvals::pages::approve))
        .route("/approvals/{id}/decline", post(approvals::pages::decline))
        .route("/audit", get(audit::pages::list))
        .route(
            "/settings/connection",
            get(connections::pages::show).post(connections::pages::update),
        )
        .route("/settings/connection/test", post(connections::pages::test))
        .route(
            "/settings/connection/ringcx-pool",
            get(connections::ringcx_pool::page),
        )
        .route(
            "/settings/connection/ringcx-pool/add",
            post(connections::ringcx_pool::page_add),
        )
        .route(
            "/settings/connection/ringcx-pool/upload",
            post(connections::ringcx_pool::page_upload),
        )
        .route("/inventory", get(inventory::pages::page))
        .route("/inventory/sample.csv", get(inventory::pages::sample))
        .route("/inventory/export.csv", get(inventory::pages::export))
        .route(
            "/inventory/uploads/{id}",
            get(inventory::pages::upload_status),
        )
        .route(
            "/inventory/uploads/{id}/commit",
            post(inventory::pages::commit),
        )
        .route(
            "/inventory/uploads/{id}/rejected.csv",
            get(inventory::pages::rejected_csv),
        )
        .route("/inventory/bulk/{action}", post(inventory::pages::bulk))
        .route(
            "/inventory/carriers",
            get(inventory::pages::carriers).post(inventory::pages::add_carrier),
        )
        .route(
            "/inventory/carriers/{id}/default",
            post(inventory::pages::set_default_carrier),
        )
        .route(
            "/inventory/tenants/{id}/external-numbers",
            post(inventory::pages::set_external_numbers),
        )
        .route(
            "/inventory/numbers/{e164}/delete",
            post(inventory::pages::delete),
        )
        .route(
            "/inventory/numbers/{e164}/permanent-release",
            post(inventory::pages::permanent_release),
        )
        .route(
            "/inventory/numbers/{e164}/assign",
            post(inventory::pages::assign),
        )
}

/// Upload routes stream bodies far larger than the global limit (a 1,000,000-row CSV is about
/// 40 MB) into COPY, so they get their own limit and no buffering.
pub fn upload_router(max_mib: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/inventory/uploads",
            post(inventory::api::create_upload),
        )
        .route("/inventory/uploads", post(inventory::pages::upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(max_mib * 1024 * 1024))
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
    let limited = Router::new()
        .merge(page_router())
        .nest("/api/v1", api_router())
        .layer(RequestBodyLimitLayer::new(2 * 1024 * 1024));
    Router::new()
        .merge(upload_router(state.config.inventory.max_upload_mib))
        .merge(limited)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .merge(metrics)
        .route("/static/{*path}", get(crate::web::assets::serve))
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
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
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
