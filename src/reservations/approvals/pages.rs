//! The approvals page: what waits for the caller's decision (price, justification, deadline)
//! and what was decided.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};

use super::{ApprovalRow, Decision};
use crate::auth::{PageCaller, RequestId};
use crate::domain::pricing::format_money;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{PageError, PageResult, parse_id, render};

#[derive(askama::Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    chrome: Chrome,
    /// Each approval, and whether the caller may decide it now.
    approvals: Vec<(ApprovalRow, bool)>,
    error: Option<String>,
}

impl ApprovalsPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    fn money(&self, micros: &i64) -> String {
        format_money(*micros)
    }
}

async fn page(
    state: &AppState,
    caller: &PageCaller,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<ApprovalsPage, AppError> {
    let principal = &caller.principal;
    let approvals = super::list(&mut *state.pool.acquire().await?, principal, None)
        .await?
        .into_iter()
        .map(|a| {
            let approver = crate::domain::policy::Approver::parse(&a.approver)
                .unwrap_or(crate::domain::policy::Approver::None);
            // Listed approvals are the caller's tenant's, or (for a reseller) its tenants'.
            let decidable = a.is_pending()
                && principal.may_approve(a.tenant_id, Some(principal.org_id), approver);
            (a, decidable)
        })
        .collect();
    Ok(ApprovalsPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        approvals,
        error,
    })
}

pub async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    Ok(render(
        &page(&state, &caller, q.notice.as_deref(), None).await?,
    ))
}

async fn decide(
    state: AppState,
    caller: PageCaller,
    request_id: Option<String>,
    raw: String,
    body: Bytes,
    decision: Decision,
) -> PageResult {
    let id = parse_id(&raw, "approval")?;
    let reason = crate::web::Form::parse(&body)
        .raw("reason")
        .map(str::to_string);
    match super::decide::decide(
        &state,
        &caller.principal,
        id,
        decision,
        reason.as_deref(),
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => {
            let notice = match decision {
                Decision::Approve => "approved",
                Decision::Decline => "declined",
            };
            Ok(Redirect::to(&format!("/approvals?notice={notice}")).into_response())
        }
        Err(
            err @ (AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::Gone { .. }),
        ) => {
            let status = err.status();
            let page = page(&state, &caller, None, Some(err.public_message())).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

pub async fn approve(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    decide(state, caller, request_id, raw, body, Decision::Approve).await
}

pub async fn decline(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    decide(state, caller, request_id, raw, body, Decision::Decline).await
}
