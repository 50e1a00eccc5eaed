//! One real headless Chromium (through chromedriver) walking the core flow.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use sqlx::PgPool;

use crate::common::{PASSWORD, spawn_app};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_chromedriver() -> (Driver, u16) {
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} ({e}): install chromium and chromium-driver (scripts/test does)"));
    (Driver(child), port)
}

#[sqlx::test]
async fn log_in_search_reserve_provision_and_see_the_number_active(pool: PgPool) {
    // reqwest and fantoccini both bring rustls; pick one crypto provider for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = spawn_app(pool).await;
    let (_driver, port) = start_chromedriver();
    let mut caps = serde_json::Map::new();
    let profile = std::env::temp_dir().join(format!("inward-chromium-{}", uuid::Uuid::new_v4()));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", format!("--user-data-dir={}", profile.display())],
        }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("chromedriver did not start");
    let wait = |c: &fantoccini::Client, css: &'static str| {
        let c = c.clone();
        async move {
            c.wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"))
        }
    };

    c.goto(&app.url("/search")).await.unwrap();
    wait(&c, "#email")
        .await
        .send_keys("agent@globex.test")
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("#login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    wait(&c, "#search-form").await;
    c.find(Locator::Css("#state"))
        .await
        .unwrap()
        .select_by_value("TX")
        .await
        .unwrap();
    c.find(Locator::Css("#npa"))
        .await
        .unwrap()
        .send_keys("512")
        .await
        .unwrap();
    c.find(Locator::Css("#search"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let boxes = {
        wait(&c, "#reserve-form input[type=checkbox]").await;
        c.find_all(Locator::Css("#reserve-form input[type=checkbox]"))
            .await
            .unwrap()
    };
    assert!(boxes.len() >= 2, "search results shown");
    let picked = boxes[0].attr("value").await.unwrap().unwrap();
    boxes[0].click().await.unwrap();
    boxes[1].click().await.unwrap();
    c.find(Locator::Css("#reserve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let countdown = wait(&c, "#countdown").await;
    let shown = countdown.text().await.unwrap();
    assert!(
        shown.starts_with("14:") || shown.starts_with("15:"),
        "live countdown shows {shown}"
    );

    let form = c.find(Locator::Css(".provision-form")).await.unwrap();
    form.find(Locator::Css("select[name=target]"))
        .await
        .unwrap()
        .select_by_label("Queue · Sales")
        .await
        .unwrap();
    form.find(Locator::Css("input[name=display_name]"))
        .await
        .unwrap()
        .send_keys("Browser line")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = wait(&c, ".alert-success").await.text().await.unwrap();
    assert!(notice.contains("provisioned"), "{notice}");

    c.goto(&app.url("/numbers")).await.unwrap();
    let table = wait(&c, "#numbers").await.text().await.unwrap();
    assert!(
        table.contains("active") && table.contains("Browser line"),
        "{table}"
    );
    assert_eq!(app.number_state(&picked).await, "active");
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(profile);
}
