//! The Webhooks pages: `/webhooks` (the endpoints, and a form for a new one) and
//! `/webhooks/{id}` (its settings, deliveries, resend and test).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::api::{DeliveriesQuery, deliveries_filter};
use super::repo::{self, Change, Delivery, DeliveryStatus, Endpoint};
use super::{Fields, MAX_ENDPOINTS};
use crate::auth::{PageCaller, RequestId};
use crate::domain::webhook::EventType;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageResult, Refusal, render};

/// An event as the form offers it.
pub struct Choice {
    pub name: &'static str,
    pub describe: &'static str,
    pub checked: bool,
}

fn choices(checked: &[String]) -> Vec<Choice> {
    EventType::SUBSCRIBABLE
        .iter()
        .map(|t| Choice {
            name: t.as_str(),
            describe: t.describe(),
            checked: checked.iter().any(|c| c == t.as_str()),
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    chrome: Chrome,
    endpoints: Vec<Endpoint>,
    choices: Vec<Choice>,
    /// An endpoint just made and its secret, shown this once.
    made: Option<(Endpoint, String)>,
    error: Option<String>,
    refusal: Refusal,
    max: usize,
}

async fn list_page(state: &AppState, caller: &PageCaller) -> AppResult<ListPage> {
    let org = caller.principal.webhook_owner()?;
    Ok(ListPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        endpoints: repo::list(&state.pool, org).await?,
        choices: choices(&[]),
        made: None,
        error: None,
        refusal: Refusal::default(),
        max: MAX_ENDPOINTS,
    })
}

pub async fn show(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(&list_page(&state, &caller).await?))
}

pub async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let events = form.all("events");
    let made = match Fields::check(
        &state,
        form.get("url").unwrap_or(""),
        &events,
        form.get("description").unwrap_or(""),
    ) {
        Ok(fields) => {
            super::create(&state, &caller.principal, &fields, request_id.as_deref()).await
        }
        Err(err) => Err(err),
    };
    let mut page = list_page(&state, &caller).await?;
    match made {
        Ok(made) => {
            page.endpoints = repo::list(&state.pool, caller.principal.webhook_owner()?).await?;
            page.made = Some(made);
            Ok((StatusCode::CREATED, render(&page)).into_response())
        }
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            page.error = Some(err.public_message());
            page.refusal = Refusal::new(form.pairs().to_vec(), &err).shown_on(&[
                "url",
                "events",
                "description",
            ]);
            page.choices = choices(&events);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(askama::Template)]
#[template(path = "webhook.html")]
struct DetailPage {
    chrome: Chrome,
    endpoint: Endpoint,
    choices: Vec<Choice>,
    deliveries: Vec<Delivery>,
    /// The status the list is narrowed to, if any.
    status: Option<DeliveryStatus>,
    /// Where the next (older) page starts.
    next_before: Option<i64>,
    error: Option<String>,
    refusal: Refusal,
}

impl DetailPage {
    /// The status the list is narrowed to, or empty for all.
    fn status_name(&self) -> &'static str {
        self.status.map(DeliveryStatus::as_str).unwrap_or("")
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct DetailQuery {
    pub notice: Option<String>,
    pub status: Option<String>,
    pub before: Option<String>,
}

async fn detail_page(
    state: &AppState,
    caller: &PageCaller,
    id: &str,
    q: &DeliveriesQuery,
) -> AppResult<DetailPage> {
    let endpoint = super::find(state, &caller.principal, id).await?;
    let (status, before, limit) = deliveries_filter(q)?;
    let deliveries = repo::deliveries(&state.pool, endpoint.id, status, before, limit).await?;
    let next_before = (deliveries.len() as i64 == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    Ok(DetailPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        choices: choices(&endpoint.events),
        endpoint,
        deliveries,
        status,
        next_before,
        error: None,
        refusal: Refusal::default(),
    })
}

fn notice(code: Option<&str>) -> Option<String> {
    Some(
        match code? {
            "saved" => "Endpoint saved.",
            "enabled" => "Endpoint enabled: what was waiting is on its way.",
            "disabled" => "Endpoint disabled: nothing is sent to it, and what happens meanwhile is not announced to it; what was already waiting goes when you enable it again.",
            "test_sent" => "Test event queued: it appears below within seconds.",
            "resent" => "Event queued again, with the same event id.",
            _ => return None,
        }
        .to_string(),
    )
}

pub async fn detail(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let filter = DeliveriesQuery {
        status: q.status,
        before: q.before,
        limit: None,
    };
    let mut page = detail_page(&state, &caller, &id, &filter).await?;
    page.chrome.notice = notice(q.notice.as_deref());
    Ok(render(&page))
}

pub async fn update(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let events = form.all("events");
    let saved = match Fields::check(
        &state,
        form.get("url").unwrap_or(""),
        &events,
        form.get("description").unwrap_or(""),
    ) {
        Ok(fields) => {
            let change = Change {
                url: Some(fields.url),
                events: Some(fields.events),
                description: Some(fields.description),
                enabled: None,
            };
            super::update(
                &state,
                &caller.principal,
                &id,
                &change,
                request_id.as_deref(),
            )
            .await
        }
        Err(err) => Err(err),
    };
    match saved {
        Ok(endpoint) => {
            Ok(Redirect::to(&format!("/webhooks/{}?notice=saved", endpoint.id)).into_response())
        }
        Err(err @ AppError::Invalid { .. }) => {
            let none = DeliveriesQuery {
                status: None,
                before: None,
                limit: None,
            };
            let mut page = detail_page(&state, &caller, &id, &none).await?;
            page.error = Some(err.public_message());
            page.refusal = Refusal::new(form.pairs().to_vec(), &err).shown_on(&[
                "url",
                "events",
                "description",
            ]);
            page.choices = choices(&events);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn switch(
    state: &AppState,
    caller: &PageCaller,
    request_id: Option<&str>,
    id: &str,
    enabled: bool,
) -> PageResult {
    let change = Change {
        enabled: Some(enabled),
        ..Change::default()
    };
    let endpoint = super::update(state, &caller.principal, id, &change, request_id).await?;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/webhooks/{}?notice={notice}", endpoint.id)).into_response())
}

pub async fn enable(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    switch(&state, &caller, request_id.as_deref(), &id, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    switch(&state, &caller, request_id.as_deref(), &id, false).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    let gone = super::delete(&state, &caller.principal, &id, request_id.as_deref()).await?;
    let mut page = list_page(&state, &caller).await?;
    page.chrome.notice = Some(format!("Endpoint {} deleted.", gone.url));
    Ok(render(&page))
}

pub async fn send_test(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    super::send_test(&state, &caller.principal, &id, request_id.as_deref()).await?;
    Ok(Redirect::to(&format!("/webhooks/{id}?notice=test_sent")).into_response())
}

pub async fn resend(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path((id, delivery)): Path<(String, String)>,
) -> PageResult {
    super::resend(
        &state,
        &caller.principal,
        &id,
        &delivery,
        request_id.as_deref(),
    )
    .await?;
    Ok(Redirect::to(&format!("/webhooks/{id}?notice=resent")).into_response())
}
