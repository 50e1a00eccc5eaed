//! The router and server. Tests call `build_router` and `serve` exactly as `inward serve` does.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::web::routes::Routes;
use crate::{
    audit_log, auth, connections, features, inventory, jobs, numbers, porting, reservations,
    search, users, web,
};

const OPENAPI: &str = include_str!("../static/openapi.json");

/// A slice's routes: each adds its API routes and its pages to the builder it is given.
struct Slice {
    api: fn(Routes) -> Routes,
    pages: fn(Routes) -> Routes,
}

const SLICES: [Slice; 15] = [
    Slice {
        api: search::routes::api_routes,
        pages: search::routes::page_routes,
    },
    Slice {
        api: reservations::routes::api_routes,
        pages: reservations::routes::page_routes,
    },
    Slice {
        api: numbers::routes::api_routes,
        pages: numbers::routes::page_routes,
    },
    Slice {
        api: features::routes::api_routes,
        pages: features::routes::page_routes,
    },
    Slice {
        api: porting::routes::api_routes,
        pages: porting::routes::page_routes,
    },
    Slice {
        api: audit_log::routes::api_routes,
        pages: audit_log::routes::page_routes,
    },
    Slice {
        api: inventory::routes::api_routes,
        pages: inventory::routes::page_routes,
    },
    Slice {
        api: connections::routes::api_routes,
        pages: connections::routes::page_routes,
    },
    Slice {
        api: users::routes::api_routes,
        pages: users::routes::page_routes,
    },
    Slice {
        api: no_api,
        pages: auth::routes::page_routes,
    },
    Slice {
        api: crate::notifications::api_routes,
        pages: crate::notifications::page_routes,
    },
    Slice {
        api: crate::drift::routes::api_routes,
        pages: crate::drift::routes::page_routes,
    },
    Slice {
        api: crate::webhooks::routes::api_routes,
        pages: crate::webhooks::routes::page_routes,
    },
    Slice {
        api: crate::sso::routes::api_routes,
        pages: crate::sso::routes::page_routes,
    },
    Slice {
        api: crate::reports::routes::api_routes,
        pages: crate::reports::routes::page_routes,
    },
];

/// For a slice that has pages only.
fn no_api(r: Routes) -> Routes {
    r
}

pub fn api_router() -> Routes {
    let mut r = Routes::new("/api/v1");
    for slice in SLICES {
        r = (slice.api)(r);
    }
    r.at(
        "/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
    )
}

pub fn page_router() -> Routes {
    let mut r = Routes::new("").at("/", get(auth::pages::home));
    for slice in SLICES {
        r = (slice.pages)(r);
    }
    r
}

/// Upload routes stream bodies far larger than the global limit (a 1,000,000-row CSV is about
/// 40 MB) into COPY, so they get their own limit and no buffering.
pub fn upload_router() -> Routes {
    inventory::routes::upload_routes(Routes::new(""))
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

/// Ready when the database, and the read replica if there is one, answer within a second.
/// The answer never carries the database's own error text (it may name hosts and users);
/// the log has it.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    if let Some(replica) = state.replica_pool() {
        let probe = sqlx::query("SELECT 1").execute(replica);
        let answered = tokio::time::timeout(Duration::from_secs(1), probe).await;
        if !matches!(answered, Ok(Ok(_))) {
            if let Ok(Err(err)) = answered {
                tracing::warn!(error = %err, "readiness: the read replica did not answer");
            }
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "read replica unavailable" })),
            );
        }
    }
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
    let webhooks = tokio::spawn(crate::webhooks::dispatch::run_forever(state.clone()));
    let sealer = tokio::spawn(crate::db_scope::bypassing(
        crate::db_scope::Bypass::Jobs,
        crate::audit::chain::seal_forever(state.pool.clone()),
    ));
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
    webhooks.abort();
    sealer.abort();
    upkeep.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // A graceful stop loses no SEARCH entries.
    state.deferred_audit.flush().await;
    if let Err(err) = crate::audit::chain::seal_pending(&state.pool).await {
        tracing::warn!(error = %err, "could not seal the last audit entries; the next sealer will");
    }
    Ok(())
}
