//! The accept loop: each connection served by hyper with a timer, so that a client that does
//! not send a whole request head within `server.header_read_timeout_seconds` (a slow or idle
//! client holding a socket open) loses its connection; a body that stalls longer than
//! `server.body_stall_seconds` between two pieces ends its request (`startup::build_router`).
//! On shutdown
//! the listener closes, open connections finish their requests (at most `DRAIN`), the rest
//! are closed, and then the server returns.

use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Layer;

/// How long open connections get to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    // HTTP/1 only: telling HTTP/2 apart first would wait, untimed, for a client's first bytes.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    loop {
        // Finished connections leave the set as they go, so it holds open ones only.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Each request carries the peer's address, as axum's `ConnectInfo` (sign-in limits).
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(router.clone()));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let watched = graceful.watch(connection);
        connections.spawn(async move {
            // A client that goes away or times out ends its own connection; nothing to report.
            let _ = watched.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain time; closing them");
    }
    connections.shutdown().await;
}
