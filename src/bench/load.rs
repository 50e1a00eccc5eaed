//! A closed-loop HTTP load generator: `clients` tasks each send a request, wait for the
//! whole response, and send the next, until the time is up. Latencies are kept exactly.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Stats {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted ascending.
    latencies: Vec<Duration>,
}

impl Stats {
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64) * q).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn line(&self, name: &str) -> String {
        format!(
            "{name:<34} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {} errors)",
            self.rps(),
            ms(self.quantile(0.50)),
            ms(self.quantile(0.99)),
            self.requests,
            self.errors
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `call(client, iteration)` from `clients` concurrent tasks for `duration`; a call
/// returns whether the request succeeded.
pub async fn run<F, Fut>(clients: usize, duration: Duration, call: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut iteration = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                if !call(client, iteration).await {
                    errors += 1;
                }
                latencies.push(sent.elapsed());
                iteration += 1;
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.expect("load task panicked");
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Stats {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

/// GET `url` with optional headers; true on a 2xx with its body read in full.
pub async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> bool {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match request.send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}
