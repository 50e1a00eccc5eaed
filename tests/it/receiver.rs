//! A webhook receiver for the tests: a real HTTP server on this machine that records what it
//! is sent, and the signature check a receiver would make.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One POST the receiver got.
#[derive(Clone)]
pub struct Got {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on this machine: answers 500 to its first `fail_first` POSTs, then 200.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let kept = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (kept, seen) = (kept.clone(), seen.clone());
                async move {
                    kept.lock().unwrap().push(Got { headers, body });
                    if seen.fetch_add(1, Ordering::SeqCst) < fail_first {
                        (
                            AxumStatus::INTERNAL_SERVER_ERROR,
                            "receiver down for maintenance",
                        )
                    } else {
                        (AxumStatus::OK, "ok")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            got,
        }
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` POSTs arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} deliveries arrived in {within:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks `Inward-Signature` as a receiver would, with its own HMAC: the envelope, if the
/// signature holds and is recent.
pub fn verified(secret: &str, got: &Got) -> Value {
    let header = got.headers["inward-signature"].to_str().unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature header {header}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&got.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "the signature holds");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "signed {age} s ago");
    got.json()
}
