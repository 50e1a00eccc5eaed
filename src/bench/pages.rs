//! Page scenarios: the search results page and the numbers page, in a logged-in browser
//! session, against a bare axum handler that returns "ok" on the same runtime.

use std::sync::Arc;
use std::time::Duration;

use super::load::{self, Stats};

/// Logs in through the form and returns the `Cookie` header value of the session.
pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .post(format!("{base}/login"))
        .form(&[("email", email), ("password", password), ("next", "/")])
        .send()
        .await?;
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    anyhow::ensure!(!cookie.is_empty(), "login of {email} set no cookie");
    Ok(cookie)
}

pub async fn run(
    client: &reqwest::Client,
    urls: Vec<String>,
    cookie: Option<&str>,
    clients: usize,
    duration: Duration,
) -> Stats {
    let urls = Arc::new(urls);
    let cookie = Arc::new(cookie.map(str::to_string));
    let client = client.clone();
    load::run(clients, duration, move |c, i| {
        let (client, urls, cookie) = (client.clone(), urls.clone(), cookie.clone());
        async move {
            let url = &urls[(c + i) % urls.len()];
            match cookie.as_deref() {
                Some(cookie) => load::get(&client, url, &[("cookie", cookie)]).await,
                None => load::get(&client, url, &[]).await,
            }
        }
    })
    .await
}
