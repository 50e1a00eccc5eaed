//! The database goes away (every connection to it cut, new ones refused, through a TCP
//! proxy the test controls): the API answers 503 with `Retry-After` within two seconds,
//! pages do the same inside the layout, and /readyz says so within a second without the
//! database's own words. When the database is back, so is the service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::spawn_app;

/// Forwards connections to PostgreSQL until cut; while cut, it refuses new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (flag, kept) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                kept.lock().unwrap().push(link);
            }
        });
        Proxy { port, cut, links }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[test]
fn without_its_database_the_server_answers_503_quickly_and_recovers() {
    crate::db::db_test(|direct| async move {
        let options = direct.connect_options();
        let upstream = format!("{}:{}", options.get_host(), options.get_port());
        let proxy = Proxy::start(upstream).await;
        let through_proxy = (*options).clone().port(proxy.port);
        let pool = inward::state::pool_options(5).connect_lazy_with(through_proxy);
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let browser = app.browser("agent@globex.test").await;
        let (status, _) = api.get("/api/v1/numbers").await;
        assert_eq!(status, StatusCode::OK);

        proxy.cut();
        let started = Instant::now();
        let answer = api
            .http
            .get(format!("{}/api/v1/numbers", api.base))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            took < Duration::from_millis(2500),
            "answered after {took:?}"
        );
        assert_eq!(answer.headers()["retry-after"], "5");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "database_unavailable", "{body}");

        let started = Instant::now();
        let (status, page) = browser.get("/numbers").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < Duration::from_millis(2500));
        assert!(
            page.contains("<html") && page.contains("try again in a few seconds"),
            "{page}"
        );

        let started = Instant::now();
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(1500));
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ready: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(
            ready,
            serde_json::json!({ "status": "database unavailable" })
        );

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, _) = api.get("/api/v1/numbers").await;
            if status == StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still {status} after the database came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    })
}
