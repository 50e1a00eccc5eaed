//! The servers under test, on their own Tokio runtime (as a separate process would be):
//! Inward itself and a bare axum handler, the baseline for the page scenario.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::state::AppState;

pub struct Servers {
    pub inward: SocketAddr,
    pub bare: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Servers {
    pub fn start(state: AppState, worker_threads: usize) -> anyhow::Result<Servers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads)
            .thread_name("bench-server")
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let inward = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let bare = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let addrs = (
                    inward.local_addr().expect("bound address"),
                    bare.local_addr().expect("bound address"),
                );
                // The receiver waits in `start`; it only goes away if `start` already failed.
                let _ = ready_tx.send(addrs);
                let baseline = Router::new().route("/", get(|| async { "ok" }));
                tokio::spawn(async move { axum::serve(bare, baseline).await });
                let shutdown = async {
                    let _ = stop_rx.await;
                };
                if let Err(err) = crate::startup::serve(inward, state, shutdown).await {
                    eprintln!("bench server stopped: {err}");
                }
            });
        });
        let (inward, bare) = ready_rx.recv()?;
        Ok(Servers {
            inward,
            bare,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
