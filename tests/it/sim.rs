//! A platform simulator on a random port, with its state and faults in reach of the test.

use std::sync::Arc;

use axum::Router;
use inward::providers::simulator::{FaultConfig, Faults};

use crate::spec_check::Published;

pub struct Sim<S> {
    pub base: String,
    pub state: S,
    pub faults: Arc<Faults>,
    published: Published,
}

/// Which published spec a simulator's traffic is held to (for CXone, which publishes none
/// in machine-readable form, the shapes transcribed from its generated client).
pub trait Platform {
    const PUBLISHED: Published;
}

impl Platform for inward::providers::simulator::genesys::SimState {
    const PUBLISHED: Published = Published::Genesys;
}

impl Platform for inward::providers::simulator::ringcx::SimState {
    const PUBLISHED: Published = Published::Ringcx;
}

impl Platform for inward::providers::simulator::cxone::SimState {
    const PUBLISHED: Published = Published::Cxone;
}

impl<S> Drop for Sim<S> {
    /// A test passes only if everything its adapters sent, and everything the simulator
    /// answered, has the published shape.
    fn drop(&mut self) {
        let which = self.published;
        if std::thread::panicking() {
            return;
        }
        let log = self
            .faults
            .requests
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        match crate::spec_check::check_all(which, &log) {
            Ok(covered) => eprintln!(
                "{which:?} operations exchanged and checked against the spec:\n  {}",
                covered.into_iter().collect::<Vec<_>>().join("\n  ")
            ),
            Err(problems) => panic!(
                "{} departure(s) from the published {which:?} spec:\n{}",
                problems.len(),
                problems.join("\n")
            ),
        }
    }
}

impl<S: Platform> Sim<S> {
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
            published: S::PUBLISHED,
        }
    }
}

impl<S> Sim<S> {
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
