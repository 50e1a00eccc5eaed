//! The tenant's numbers as CSV (the numbers list's filter applies), from the page and the API.

use axum::extract::{Query, State};
use axum::response::Response;

use super::api::ListQuery;
use super::repo;
use crate::auth::{ApiCaller, PageCaller};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Rows read per statement while writing the file.
const BATCH: i64 = 500;

async fn csv(state: &AppState, caller: &Principal, query: &ListQuery) -> AppResult<Vec<u8>> {
    let tenant_id = caller.tenant()?;
    // Only the list's filter applies: the file has every page.
    let args = ListQuery {
        state: query.state.clone(),
        notice: None,
        number: None,
        cursor: None,
        limit: None,
    }
    .parse()?;
    let csv_err = |e: csv::Error| AppError::Internal(anyhow::anyhow!("csv: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "Number",
        "National",
        "State",
        "Target type",
        "Target",
        "Display name",
        "CNAM name",
        "CNAM",
        "E911",
        "Region",
        "Since (UTC)",
    ])
    .map_err(csv_err)?;
    let mut after: Option<String> = None;
    loop {
        let rows = repo::list(
            &mut *state.reads_for(caller.user_id).lists.acquire().await?,
            tenant_id,
            args.state.as_deref(),
            after.as_deref(),
            BATCH,
        )
        .await?;
        for listed in &rows {
            let (n, f) = (&listed.number, &listed.features);
            let national = crate::domain::e164::format_national(&n.e164);
            let since = n.state_changed_at.format("%Y-%m-%d %H:%M:%S").to_string();
            crate::web::csv::write(
                &mut out,
                [
                    n.e164.as_str(),
                    national.as_str(),
                    n.state.as_str(),
                    n.target_type.as_deref().unwrap_or(""),
                    n.target_name.as_deref().unwrap_or(""),
                    n.display_name.as_deref().unwrap_or(""),
                    f.cnam_name.as_deref().unwrap_or(""),
                    f.cnam_status.as_str(),
                    f.e911_status.as_str(),
                    n.region.as_str(),
                    since.as_str(),
                ],
            )
            .map_err(csv_err)?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == BATCH => after = Some(last.number.e164.clone()),
            _ => break,
        }
    }
    out.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

/// `GET /numbers/export.csv` (a browser session).
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(query): Query<ListQuery>,
) -> Result<Response, crate::web::PageError> {
    let body = csv(&state, &caller.principal, &query).await?;
    Ok(crate::web::csv::download("numbers.csv", body))
}

/// `GET /api/v1/numbers/export.csv`.
pub async fn api(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let body = csv(&state, &caller, &query).await?;
    Ok(crate::web::csv::download("numbers.csv", body))
}
