//! The inventory page: filters, bulk allocate/release with a confirmation summary, delete,
//! CSV export, and the upload box whose progress htmx polls every second.
//!
//! One file over 500 lines: one handler per form of the page, each short, sharing the page's
//! model and its refusal rendering.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::Uploader;
use super::conditions::FilterQuery;
use super::manage::{self, Selection};
use super::repo::{self, InventoryRow, TenantChoice};
use super::upload::{self, Job, Mode};
use crate::auth::{PageCaller, RequestId};
use crate::domain::TenantId;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageError, PageResult, parse_id, render};

#[derive(askama::Template)]
#[template(path = "inventory.html")]
struct InventoryPage {
    chrome: Chrome,
    rows: Vec<InventoryRow>,
    tenants: Vec<TenantChoice>,
    f_tenant: String,
    f_status: String,
    f_e911: String,
    f_q: String,
    query_string: String,
    next_query: Option<String>,
    can_manage: bool,
    can_upload: bool,
    is_operator: bool,
    is_tenant_admin: bool,
    f_assignment: String,
    org_id: Uuid,
    statuses: Vec<&'static str>,
    uploads: Vec<Job>,
}

impl InventoryPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    /// A tenant admin's own external number, which it may verify it holds.
    fn verifiable(&self, row: &InventoryRow) -> bool {
        self.is_tenant_admin && row.uploaded_by_org_id == Some(self.org_id)
    }

    fn deletable(&self, row: &InventoryRow) -> bool {
        row.uploaded_by_org_id == Some(self.org_id)
            && !row.in_use
            && row.allocated_tenant_id.is_none_or(|a| a == self.org_id)
    }
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(flatten)]
    filter: FilterQuery,
    notice: Option<String>,
}

fn query_string(f: &FilterQuery) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("assignment", &f.assignment),
        ("tenant", &f.tenant),
        ("status", &f.status),
        ("e911", &f.e911),
        ("q", &f.q),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            pairs.append_pair(k, v);
        }
    }
    pairs.finish()
}

pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let scope = caller.principal.inventory_view()?;
    let filter = q.filter.parse()?;
    let rows = {
        // Released before the next connection is taken (`tests/it/pool.rs`).
        let mut conn = state
            .reads_for(caller.principal.user_id)
            .lists
            .acquire()
            .await?;
        repo::list(&mut conn, scope, &filter).await?
    };
    let mut conn = state.pool.acquire().await?;
    let tenants = repo::tenants(&mut conn, scope).await?;
    let can_upload = Uploader::for_caller(&mut conn, &caller.principal)
        .await
        .is_ok();
    let uploads = if can_upload {
        upload::recent(&mut conn, caller.principal.org_id).await?
    } else {
        Vec::new()
    };
    let base = query_string(&q.filter);
    let next_query = repo::next_cursor(&rows, filter.limit).map(|c| {
        let mut pairs = url::form_urlencoded::Serializer::new(base.clone());
        pairs.append_pair("cursor", &c);
        pairs.finish()
    });
    let notice = q.notice.as_deref().and_then(|n| match n {
        "allocated" => Some("Numbers allocated."),
        "released" => Some("Numbers released to your inventory."),
        "deleted" => Some("Number deleted."),
        "assigned" => Some("Assignment saved."),
        "tenant_saved" => Some("Tenant setting saved."),
        "released_permanently" => Some("Number released permanently to the carrier."),
        _ => None,
    });
    let mut chrome = Chrome::new(&caller.principal, &caller.csrf);
    chrome.notice = notice.map(str::to_string);
    Ok(render(&InventoryPage {
        chrome,
        rows,
        tenants,
        f_tenant: q.filter.tenant.clone().unwrap_or_default(),
        f_status: q.filter.status.clone().unwrap_or_default(),
        f_e911: q.filter.e911.clone().unwrap_or_default(),
        f_q: q.filter.q.clone().unwrap_or_default(),
        query_string: base,
        next_query,
        can_manage: caller.principal.inventory_owner().is_ok(),
        can_upload,
        is_operator: caller.principal.is_operator(),
        is_tenant_admin: caller.principal.role == crate::domain::policy::Role::TenantAdmin,
        f_assignment: q.filter.assignment.clone().unwrap_or_default(),
        org_id: caller.principal.org_id,
        statuses: crate::domain::NumberState::ALL
            .iter()
            .map(|s| s.as_str())
            .collect(),
        uploads,
    }))
}

#[derive(askama::Template)]
#[template(path = "inventory_upload.html")]
pub struct UploadFragment {
    job: Job,
    reasons: Vec<(String, i64)>,
    pace: Option<upload::Pace>,
}

impl UploadFragment {
    fn of(job: Job) -> UploadFragment {
        UploadFragment {
            reasons: job.reasons(),
            pace: job.pace(),
            job,
        }
    }

    fn status_in_words(&self) -> &'static str {
        self.job.status.in_words()
    }

    fn time_left(&self) -> String {
        let left = self.pace.as_ref().map_or(0, |p| p.seconds_left);
        match left {
            0..=59 => format!("{} s", left.max(1)),
            60..=3599 => format!("{} min", (left + 59) / 60),
            _ => format!("{} h {} min", left / 3600, (left % 3600) / 60),
        }
    }
}

fn fragment(job: Job) -> Response {
    render(&UploadFragment::of(job))
}

/// An upload opened from Recent uploads (not fetched by htmx): its progress or summary inside
/// the layout, where a checked dry run can still be imported.
#[derive(askama::Template)]
#[template(path = "inventory_upload_page.html")]
struct UploadPage {
    chrome: Chrome,
    filename: Option<String>,
    fragment: String,
}

#[derive(askama::Template)]
#[template(path = "inventory_upload_error.html")]
struct UploadError {
    message: String,
}

/// The browser's upload (multipart over fetch with the CSRF header): answers the progress
/// fragment, or the reason the file was refused.
pub async fn upload(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    multipart: Multipart,
) -> Response {
    let result = async {
        let id =
            super::api::accept_upload(&state, &caller.principal, multipart, request_id).await?;
        let job = upload::find(
            &mut *state.pool.acquire().await?,
            caller.principal.org_id,
            id,
        )
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))?;
        Ok::<Job, AppError>(job)
    }
    .await;
    match result {
        Ok(job) => fragment(job),
        Err(err) => {
            err.log();
            (
                err.status(),
                render(&UploadError {
                    message: err.public_message(),
                }),
            )
                .into_response()
        }
    }
}

pub async fn upload_status(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: axum::http::HeaderMap,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "upload")?;
    let job = upload::find_for(&mut *state.pool.acquire().await?, &caller.principal, id).await?;
    if let (Some(finished), Ok(scope)) = (job.finished_at, caller.principal.inventory_view())
        && job.status == upload::UploadStatus::Completed
    {
        // The person who watched the import finish sees it counted on the dashboard next.
        let key = super::drawn::key(scope);
        state.dashboards.forget_if_before(&key, finished);
    }
    // One address, two answers (the fragment htmx polls, the page a person opens): caches
    // must tell them apart.
    let vary = [(axum::http::header::VARY, "HX-Request")];
    if headers.contains_key("hx-request") {
        return Ok((vary, fragment(job)).into_response());
    }
    let filename = job.filename.clone();
    let fragment = askama::Template::render(&UploadFragment::of(job))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("upload template: {e}")))?;
    Ok((
        vary,
        render(&UploadPage {
            chrome: Chrome::new(&caller.principal, &caller.csrf),
            filename,
            fragment,
        }),
    )
        .into_response())
}

pub async fn commit(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let id = parse_id(&raw, "upload")?;
    let form = Form::parse(&body);
    let uploader =
        Uploader::for_caller(&mut *state.pool.acquire().await?, &caller.principal).await?;
    let mode = Mode::parse(form.get("mode"))?;
    let job = upload::commit(&state.pool, &uploader, id, mode).await?;
    Ok(fragment(job))
}

pub async fn rejected_csv(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "upload")?;
    let job = upload::find_for(&mut *state.pool.acquire().await?, &caller.principal, id).await?;
    let body = upload::rejected_csv(&state.pool, job.id).await?;
    Ok(crate::web::csv::download(
        &format!("rejected-{}.csv", job.id),
        body,
    ))
}

pub async fn export(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<FilterQuery>,
) -> PageResult {
    let scope = caller.principal.inventory_view()?;
    let filter = q.parse()?;
    let reads = state.reads_for(caller.principal.user_id);
    let body = repo::export_csv(&mut *reads.downloads.acquire().await?, scope, &filter).await?;
    Ok(crate::web::csv::download("inventory.csv", body))
}

/// What the inventory's forms carry: the filter fields and the ticked numbers.
trait InventoryForm {
    fn filter(&self) -> FilterQuery;
    fn selection(&self) -> Result<Selection, AppError>;
}

impl InventoryForm for Form {
    fn filter(&self) -> FilterQuery {
        FilterQuery {
            tenant: self.get("f_tenant").map(str::to_string),
            status: self.get("f_status").map(str::to_string),
            e911: self.get("f_e911").map(str::to_string),
            q: self.get("f_q").map(str::to_string),
            assignment: self.get("f_assignment").map(str::to_string),
            cursor: None,
            limit: None,
        }
    }

    fn selection(&self) -> Result<Selection, AppError> {
        if self.get("scope") == Some("filter") {
            let mut f = self.filter().parse()?;
            f.after = None;
            return Ok(Selection::Filter(f));
        }
        let numbers = self.all("numbers");
        if numbers.is_empty() {
            return Err(AppError::invalid_field(
                "numbers",
                "tick at least one number, or choose \"every number matching the filter\"",
            ));
        }
        let mut parsed = numbers
            .iter()
            .map(|n| crate::numbers::parse_path_number(n))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        parsed.dedup();
        Ok(Selection::Numbers(parsed))
    }
}

#[derive(askama::Template)]
#[template(path = "inventory_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    action: &'static str,
    summary: Value,
    hidden: Vec<(String, String)>,
    count: i64,
    /// Why nothing can be confirmed (no tick, no tenant): shown in the layout, with a way
    /// back to the ticks.
    error: Option<String>,
}

/// Bulk allocate or release: without `confirm=1` the page shows the dry-run summary and a
/// button that posts the same selection again with `confirm=1`.
pub async fn bulk(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(action): Path<String>,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    match bulk_summary(&state, &caller, request_id.as_deref(), &action, &form).await {
        Err(err @ (AppError::Invalid { .. } | AppError::NotFound(_) | AppError::Forbidden(_))) => {
            let page = ConfirmPage {
                chrome: Chrome::new(&caller.principal, &caller.csrf),
                action: if action == "allocate" {
                    "allocate"
                } else {
                    "release"
                },
                summary: Value::Null,
                hidden: Vec::new(),
                count: 0,
                error: Some(err.public_message()),
            };
            Ok((err.status(), render(&page)).into_response())
        }
        other => other.map_err(PageError),
    }
}

async fn bulk_summary(
    state: &AppState,
    caller: &PageCaller,
    request_id: Option<&str>,
    action: &str,
    form: &Form,
) -> Result<Response, AppError> {
    let selection = form.selection()?;
    let confirmed = form.get("confirm") == Some("1");
    let (summary, action, count_key) = match action {
        "allocate" => {
            let tenant: TenantId = form
                .get("tenant_id")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| AppError::invalid_field("tenant_id", "choose a tenant"))?;
            let summary = manage::allocate(
                state,
                &caller.principal,
                &selection,
                tenant,
                !confirmed,
                request_id,
            )
            .await?;
            (summary, "allocate", "to_allocate")
        }
        "release" => {
            let summary =
                manage::release(state, &caller.principal, &selection, !confirmed, request_id)
                    .await?;
            (summary, "release", "to_release")
        }
        _ => return Err(AppError::NotFound("action".into())),
    };
    if confirmed {
        if let Ok(scope) = caller.principal.inventory_view() {
            let key = super::drawn::key(scope);
            state.dashboards.forget_if_before(&key, chrono::Utc::now());
        }
        let notice = if action == "allocate" {
            "allocated"
        } else {
            "released"
        };
        return Ok(Redirect::to(&format!("/inventory?notice={notice}")).into_response());
    }
    let hidden: Vec<(String, String)> = form
        .pairs()
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "confirm")
        .cloned()
        .collect();
    Ok(render(&ConfirmPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        action,
        count: summary[count_key].as_i64().unwrap_or(0),
        summary,
        hidden,
        error: None,
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    manage::delete(&state, &caller.principal, &number, request_id.as_deref()).await?;
    Ok(Redirect::to("/inventory?notice=deleted").into_response())
}

pub async fn permanent_release(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    let form = Form::parse(&body);
    manage::permanent_release(
        &state,
        &caller.principal,
        &number,
        form.get("confirm_number").unwrap_or(""),
        request_id.as_deref(),
    )
    .await?;
    Ok(Redirect::to("/inventory?notice=released_permanently").into_response())
}

/// A tenant admin's per-row assign form; an empty assignee removes the assignment.
pub async fn assign(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    let form = Form::parse(&body);
    let key = |field: &str| format!("{field}:{}", number.as_str());
    match form.get(&key("assignee")) {
        Some(assignee) => {
            let assignment = super::assign::Assignment {
                kind: form.get(&key("kind")).unwrap_or("user").to_string(),
                assignee: assignee.to_string(),
            };
            super::assign::assign(
                &state,
                &caller.principal,
                &number,
                &assignment,
                request_id.as_deref(),
            )
            .await?;
        }
        None => {
            super::assign::unassign(&state, &caller.principal, &number, request_id.as_deref())
                .await?;
        }
    }
    Ok(Redirect::to("/inventory?notice=assigned").into_response())
}

pub async fn set_external_numbers(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let tenant = TenantId(parse_id(&raw, "tenant")?);
    let allow = Form::parse(&body).get("allow") == Some("true");
    manage::set_external_numbers(&state, &caller.principal, tenant, allow).await?;
    Ok(Redirect::to("/inventory?notice=tenant_saved").into_response())
}

pub async fn sample() -> Response {
    super::api::sample().await
}

#[derive(askama::Template)]
#[template(path = "inventory_carriers.html")]
struct CarriersPage {
    chrome: Chrome,
    carriers: Vec<super::carriers::Carrier>,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct CarriersQuery {
    notice: Option<String>,
}

async fn carriers_page(
    state: &AppState,
    caller: &PageCaller,
    error: Option<String>,
    notice: Option<&'static str>,
) -> PageResult {
    let carriers = super::carriers::list(state, &caller.principal).await?;
    Ok(render(&CarriersPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        carriers,
        error,
        notice,
    }))
}

/// `/inventory/carriers`: list, add, choose the default (operators and reseller admins).
pub async fn carriers(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<CarriersQuery>,
) -> PageResult {
    let notice = match q.notice.as_deref() {
        Some("added") => Some("Carrier added."),
        Some("default") => Some("Default carrier changed."),
        _ => None,
    };
    carriers_page(&state, &caller, None, notice).await
}

pub async fn add_carrier(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let new = super::carriers::NewCarrier {
        kind: form.get("kind").unwrap_or("").to_string(),
        name: form.get("name").unwrap_or("").to_string(),
        is_default: form.get("is_default") == Some("true"),
    };
    match super::carriers::create(&state, &caller.principal, &new, request_id.as_deref()).await {
        Ok(_) => Ok(Redirect::to("/inventory/carriers?notice=added").into_response()),
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            carriers_page(&state, &caller, Some(err.public_message()), None).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn set_default_carrier(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "carrier")?;
    super::carriers::set_default(&state, &caller.principal, id, request_id.as_deref()).await?;
    Ok(Redirect::to("/inventory/carriers?notice=default").into_response())
}
