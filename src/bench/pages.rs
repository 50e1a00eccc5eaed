//! Page scenarios: the search results page and the numbers page, in a logged-in browser
//! session, against a bare axum handler that returns "ok" on the same runtime.

use std::sync::Arc;
use std::time::Duration;

use super::load::{self, Stats};

/// Signs in through the form, as a browser does (the form first, for its token and its
/// cookie), and returns the `Cookie` header value of the session.
pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let form = client.get(format!("{base}/login")).send().await?;
    let form_cookie = cookies(&form);
    let page = form.text().await?;
    let token = page
        .split("name=\"login_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("the sign-in form carries no token"))?;
    let response = client
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, form_cookie)
        .form(&[
            ("email", email),
            ("password", password),
            ("next", "/"),
            ("login_token", token),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::SEE_OTHER,
        "sign-in of {email} answered {}",
        response.status()
    );
    Ok(cookies(&response))
}

/// The cookies an answer sets, as a `Cookie` header value.
fn cookies(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The operator's inventory pages: the first, one further in (keyset cursor), and the
/// filters (a number prefix, a tenant's name, a status).
pub fn inventory_pages(base: &str) -> Vec<String> {
    [
        "",
        "?cursor=%2B17135550000",
        "?q=512",
        "?q=globex",
        "?status=released",
    ]
    .iter()
    .map(|q| format!("{base}/inventory{q}"))
    .collect()
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
