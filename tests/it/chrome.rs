//! Headless Chromium through chromedriver, for the browser tests.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

/// The chromedriver process and a throwaway profile, cleaned up when dropped.
pub struct Chrome {
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
}

impl Drop for Chrome {
    /// Chromium outlives a killed chromedriver when the test did not end its session: its
    /// processes are found by the throwaway profile on their command line and ended too.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(&self.profile)
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Chrome {
    pub async fn start() -> Chrome {
        // reqwest and fantoccini both bring rustls; pick one crypto provider for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} ({e}): install chromium and chromium-driver (scripts/test does)"));
        let profile =
            std::env::temp_dir().join(format!("inward-chromium-{}", uuid::Uuid::new_v4()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1280,900", format!("--user-data-dir={}", profile.display())],
            }),
        );
        let mut last_error = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Chrome {
                        client,
                        driver,
                        profile,
                    };
                }
                Err(err) => {
                    last_error = Some(err);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        panic!("chromedriver did not start: {last_error:?}");
    }

    /// Waits up to 15 s for an element matching `css`.
    pub async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// The critical and serious accessibility violations axe-core (vendored in
    /// tests/fixtures/axe) finds on the page as it is now, one line each.
    pub async fn axe(&self) -> Vec<String> {
        const AXE: &str = include_str!("../fixtures/axe/axe-4.14.1.min.js");
        const RUN: &str = r#"
var done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
  done(r.violations
    .filter(function (v) { return v.impact === 'critical' || v.impact === 'serious'; })
    .map(function (v) {
      return v.impact + ' ' + v.id + ' (' + v.help + '): ' + v.nodes.slice(0, 3).map(function (n) {
        return n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 160) + ']' : '');
      }).join('; ');
    }));
}, function (e) { done(['axe could not run: ' + e]); });
"#;
        let loaded = self
            .client
            .execute(&format!("{AXE}\nreturn typeof axe;"), vec![])
            .await
            .expect("axe-core loads");
        assert_eq!(loaded, "object", "axe-core did not load");
        let found = self
            .client
            .execute_async(RUN, vec![])
            .await
            .expect("axe-core runs");
        found
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|s| s.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a PNG of the page when INWARD_SCREENSHOTS names a folder, for a human to look at.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("INWARD_SCREENSHOTS") {
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::create_dir_all(&dir).expect("screenshot folder");
            std::fs::write(format!("{dir}/{name}.png"), png).expect("write screenshot");
        }
    }

    pub async fn login(&self, base: &str, email: &str) {
        self.client.goto(&format!("{base}/login")).await.unwrap();
        self.wait("#email").await.send_keys(email).await.unwrap();
        self.client
            .find(Locator::Css("#password"))
            .await
            .unwrap()
            .send_keys(crate::common::PASSWORD)
            .await
            .unwrap();
        self.client
            .find(Locator::Css("#login"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait("nav.top").await;
    }
}
