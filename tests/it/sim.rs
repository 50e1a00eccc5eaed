//! A platform simulator on a random port, with its state and faults in reach of the test.

use std::sync::Arc;

use axum::Router;
use inward::providers::simulator::{FaultConfig, Faults};

pub struct Sim<S> {
    pub base: String,
    pub state: S,
    pub faults: Arc<Faults>,
}

impl<S> Sim<S> {
    /// `build` is one of `simulator::{genesys,cxone,ringcx}_with_state`.
    pub async fn start(build: impl FnOnce(Arc<Faults>) -> (Router, S)) -> Self {
        let faults = Arc::new(Faults::new(FaultConfig {
            retry_after_seconds: 1,
            token_ttl_seconds: 3600,
            ..Default::default()
        }));
        let (router, state) = build(faults.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Sim {
            base,
            state,
            faults,
        }
    }

    pub fn set(&self, change: impl FnOnce(&mut FaultConfig)) {
        change(&mut self.faults.config.lock().unwrap());
    }

    /// How many `method` requests to a path starting with `path` the adapters sent.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.faults
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(path))
            .count()
    }
}
