//! Idle memory of a real `inward serve` process: started as a child of this binary, given
//! a few requests, left idle, then its resident set read from /proc.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// VmRSS of an idle `inward serve`, in KiB.
pub async fn idle_serve_rss_kib(database_url: &str) -> anyhow::Result<u64> {
    let mut child = Command::new(std::env::current_exe()?)
        // Memory does not depend on the role, and the bench's DATABASE_URL is usually the
        // owner's, which `serve` refuses unless told.
        .args(["serve", "--listen", "127.0.0.1:0", "--allow-owner"])
        .env("DATABASE_URL", database_url)
        // `serve` needs a key; the benchmark stores no secrets.
        .env(
            "INWARD_SECRETS__KEY",
            std::env::var("INWARD_SECRETS__KEY").unwrap_or_else(|_| "5a".repeat(32)),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    // Read all along, so that a chatty server never blocks on a full pipe; the last line
    // says why it stopped, if it did.
    let last_said = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .last()
            .unwrap_or_default()
    });
    let child = Kill(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .map(str::to_string);
    let Some(base) = base else {
        drop(child);
        let last = last_said.join().unwrap_or_default();
        anyhow::bail!("inward serve did not start (first line {line:?}): {last}");
    };
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz", "/login", "/metrics"] {
        client.get(format!("{base}{path}")).send().await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.0.id()))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc status"))
}
