//! Prometheus metrics at `GET /metrics`, through the `metrics` facade and its Prometheus
//! exporter: request latency per matched route and status, holds created and expired,
//! provider calls (latency and errors per platform and operation) and background job runs.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: fine-grained around the 15 ms and 25 ms targets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Items per group-commit statement (`group_commit`): 1 means nobody was waiting alongside.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use (the `metrics` facade has one global
/// recorder; tests build many routers in one process and share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("latency buckets are not empty")
            .set_buckets_for_metric(
                Matcher::Full("group_commit_batch_size".into()),
                &BATCH_BUCKETS,
            )
            .expect("batch buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours renders empty.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        handle
    })
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render() -> impl IntoResponse {
    let handle = handle();
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}

/// Middleware: `http_request_duration_seconds{method, route, status}`. The route is the
/// matched route template (`/api/v1/numbers/{e164}`), never the raw path, so the number
/// of series stays bounded; requests that matched no route are labelled `unmatched`.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    // Any token is a valid HTTP method: a label per invented method would let anyone
    // grow the series without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "OTHER",
    }
    .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .record(started.elapsed().as_secs_f64());
    response
}

pub fn holds_created(count: usize) {
    metrics::counter!("holds_created_total").increment(count as u64);
}

/// Deferred audit entries given up after the database stayed away (see `audit::deferred`).
pub fn audit_entries_lost(count: usize) {
    metrics::counter!("audit_entries_lost_total").increment(count as u64);
}

/// One statement of a group commit (`writer`: holds, hold_references, sandbox_reservations)
/// and how many requests it wrote: the figure to watch when tuning its writers and batch.
pub fn group_commit_batch(writer: &'static str, items: usize) {
    metrics::histogram!("group_commit_batch_size", "writer" => writer).record(items as f64);
}

pub fn holds_expired(count: usize) {
    metrics::counter!("holds_expired_total").increment(count as u64);
}

/// One tenant's reconciliation run: `reconcile_runs_total{outcome}`, its duration, and the
/// differences it found per class (`reconcile_differences_total{class}`; the Drift page has
/// each tenant's own).
pub fn reconcile_run(
    ok: bool,
    seconds: f64,
    counts: &std::collections::BTreeMap<&'static str, usize>,
) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("reconcile_runs_total", "outcome" => outcome).increment(1);
    metrics::histogram!("reconcile_run_duration_seconds").record(seconds);
    for (class, count) in counts {
        metrics::counter!("reconcile_differences_total", "class" => *class)
            .increment(*count as u64);
    }
}

/// The audit chain's head sequence, and whether the last verification found it intact.
pub fn audit_chain(head_seq: i64, intact: bool) {
    metrics::gauge!("audit_chain_sequence").set(head_seq as f64);
    metrics::gauge!("audit_chain_intact").set(if intact { 1.0 } else { 0.0 });
}

/// A task entered a scope that sees every organization's rows (row-level security's
/// bypass), and why.
pub fn scope_bypass(reason: &'static str) {
    metrics::counter!("db_scope_bypass_total", "reason" => reason).increment(1);
}

/// One run of a background job step, `ok` or `error`.
pub fn job_run(job: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("job_runs_total", "job" => job, "outcome" => outcome).increment(1);
}

/// One webhook delivery attempt: `webhook_attempts_total{outcome}` (delivered, retried,
/// given_up) and how long the receiver took.
pub fn webhook_attempt(outcome: &'static str, seconds: f64) {
    metrics::counter!("webhook_attempts_total", "outcome" => outcome).increment(1);
    metrics::histogram!("webhook_attempt_duration_seconds").record(seconds);
}

/// One call to a provider; `error` is the error code when the call failed.
pub fn provider_call(
    provider: &'static str,
    operation: &'static str,
    seconds: f64,
    error: Option<&'static str>,
) {
    metrics::histogram!(
        "provider_call_duration_seconds",
        "provider" => provider,
        "operation" => operation
    )
    .record(seconds);
    if let Some(code) = error {
        metrics::counter!(
            "provider_errors_total",
            "provider" => provider,
            "operation" => operation,
            "code" => code
        )
        .increment(1);
    }
}
