//! Reports. The monthly report of permanently disconnected numbers (each number removed from
//! Inward with **Release to carrier**, with its date) is what the provider of record sends
//! the FCC's Reassigned Numbers Database; only the operator, which removes numbers, makes it.

pub mod costs;
pub mod routes;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{ApiCaller, PageCaller};
use crate::domain::policy::{Principal, Role};
use crate::domain::reports::Month;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{PageResult, render};

/// A number disconnected in the month.
#[derive(Debug, Clone, Serialize)]
pub struct Disconnected {
    pub number: String,
    pub disconnected_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct MonthQuery {
    pub month: Option<String>,
    pub format: Option<String>,
}

/// The month asked for, or the current one.
fn month_of(q: &MonthQuery) -> AppResult<Month> {
    match q.month.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(Month::of(Utc::now())),
        Some(raw) => Month::parse(raw).map_err(|why| AppError::invalid_field("month", why)),
    }
}

pub async fn disconnected(
    state: &AppState,
    caller: &Principal,
    month: Month,
) -> AppResult<Vec<Disconnected>> {
    if caller.role != Role::Operator {
        return Err(AppError::Forbidden(
            "the platform operator, who removes numbers, reports them disconnected".into(),
        ));
    }
    let (from, to) = month.bounds();
    let mut conn = state.pool.acquire().await?;
    let rows = crate::audit::repo::permanent_releases(&mut conn, from, to).await?;
    Ok(rows
        .into_iter()
        .map(|(number, disconnected_at)| Disconnected {
            number,
            disconnected_at,
        })
        .collect())
}

fn csv(month: Month, rows: &[Disconnected]) -> AppResult<Response> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    crate::web::csv::write(&mut out, ["number", "disconnected_on"]).map_err(failed)?;
    for r in rows {
        let day = r.disconnected_at.format("%Y-%m-%d").to_string();
        crate::web::csv::write(&mut out, [r.number.as_str(), day.as_str()]).map_err(failed)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?;
    Ok(crate::web::csv::download(
        &format!("disconnected-{}.csv", month.label()),
        body,
    ))
}

fn accepts_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.starts_with("text/csv"))
}

/// `GET /api/v1/reports/disconnected?month=YYYY-MM`: JSON, or CSV with `Accept: text/csv`.
pub async fn api(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let month = month_of(&q)?;
    let rows = disconnected(&state, &caller, month).await?;
    if accepts_csv(&headers) {
        return csv(month, &rows);
    }
    Ok(Json(json!({ "month": month.label(), "numbers": rows })).into_response())
}

#[derive(askama::Template)]
#[template(path = "disconnected.html")]
struct Page {
    chrome: Chrome,
    month: String,
    rows: Vec<Disconnected>,
    error: Option<String>,
}

/// The report's page, `/reports/disconnected`, with its CSV download.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    let chrome = Chrome::new(&caller.principal, &caller.csrf);
    let month = match month_of(&q) {
        Ok(month) => month,
        Err(err) => {
            let page = Page {
                chrome,
                month: q.month.clone().unwrap_or_default(),
                rows: Vec::new(),
                error: Some(err.public_message()),
            };
            return Ok((err.status(), render(&page)).into_response());
        }
    };
    let rows = disconnected(&state, &caller.principal, month).await?;
    // The page's download link asks with `format=csv`.
    if q.format.as_deref() == Some("csv") || accepts_csv(&headers) {
        return Ok(csv(month, &rows)?);
    }
    let page = Page {
        chrome,
        month: month.label(),
        rows,
        error: None,
    };
    Ok(render(&page).into_response())
}
