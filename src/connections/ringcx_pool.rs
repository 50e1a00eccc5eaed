//! The tenant's RingCX DNIS pool and tracking numbers, for tenant admins: JSON routes under
//! `/api/v1/connections/{id}/ringcx/…` and the page `/settings/connection/ringcx-pool`.
//! Every change is audited as `RINGCX_POOL`. Other platforms are refused with 422.
//!
//! One file over 500 lines: the JSON routes and the page are thin over the same audited calls.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Kind, repo};
use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::{ApiCaller, PageCaller, RequestId};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::providers::ProviderError;
use crate::providers::ringcx::{BulkUpdateReport, PoolPage, RingCx, UploadReport, pool_record};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{ApiJson, PageResult, parse_id, render};

/// Most numbers one request may add or change.
const MAX_NUMBERS: usize = 500;
/// Largest CSV accepted for upload.
const MAX_CSV_BYTES: usize = 1024 * 1024;
const PAGE_ROWS: u32 = 50;

/// The tenant's RingCX adapter from its connection (`id`, or the tenant's one when `None`):
/// the same adapter that provisions, so one token session and one throttle speak for it.
async fn ringcx_for(
    state: &AppState,
    tenant_id: TenantId,
    id: Option<Uuid>,
) -> AppResult<Arc<RingCx>> {
    let mut conn = state.pool.acquire().await?;
    let row = match id {
        Some(id) => repo::find(&mut conn, tenant_id, id).await?,
        None => repo::for_tenant(&mut conn, tenant_id).await?,
    }
    .ok_or_else(|| AppError::NotFound("connection".into()))?;
    drop(conn);
    let not_ringcx = || {
        AppError::invalid(
            "not_ringcx",
            format!(
                "the DNIS pool and tracking numbers are RingCX features; this connection is {}",
                row.kind
            ),
        )
    };
    if row.kind != Kind::RingCx.as_str() {
        return Err(not_ringcx());
    }
    state
        .adapters_for(&row)?
        .and_then(|a| a.ringcx)
        .ok_or_else(not_ringcx)
}

/// Parses numbers given one per entry; names every one that is not a phone number.
pub fn parse_numbers<'a>(raw: impl IntoIterator<Item = &'a str>) -> AppResult<Vec<E164>> {
    let mut numbers = Vec::new();
    let mut bad = Vec::new();
    for entry in raw.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
        match E164::parse(entry) {
            Ok(n) if !numbers.contains(&n) => numbers.push(n),
            Ok(_) => {}
            Err(_) => bad.push(entry.to_string()),
        }
    }
    if !bad.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            format!("not phone numbers: {}", bad.join(", ")),
        ));
    }
    if numbers.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "give at least one number",
        ));
    }
    if numbers.len() > MAX_NUMBERS {
        return Err(AppError::invalid_field(
            "numbers",
            format!("at most {MAX_NUMBERS} numbers at a time"),
        ));
    }
    Ok(numbers)
}

/// Records the change (or its failure) and passes the result on.
async fn audited<T>(
    state: &AppState,
    caller: &Principal,
    request_id: Option<&str>,
    details: Value,
    result: Result<T, ProviderError>,
) -> AppResult<T> {
    let tenant_id = caller.manage_tenant()?;
    let entry = match &result {
        Ok(_) => Entry::new(Action::RingCxPool, Outcome::Success),
        Err(e) => Entry::new(Action::RingCxPool, Outcome::Failure).error(e.message.clone()),
    }
    .by(Some(tenant_id), Some(caller.user_id), request_id)
    .target("ringcx", None)
    .details(details);
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    Ok(result?)
}

pub async fn search(
    state: &AppState,
    caller: &Principal,
    id: Option<Uuid>,
    text: &str,
    page: u32,
) -> AppResult<PoolPage> {
    let tenant_id = caller.manage_tenant()?;
    let ringcx = ringcx_for(state, tenant_id, id).await?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    Ok(ringcx.pool_search(&digits, page, PAGE_ROWS).await?)
}

pub async fn add(
    state: &AppState,
    caller: &Principal,
    id: Option<Uuid>,
    numbers: &[E164],
    description: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Vec<Value>> {
    let tenant_id = caller.manage_tenant()?;
    let ringcx = ringcx_for(state, tenant_id, id).await?;
    let records: Vec<Value> = numbers
        .iter()
        .map(|n| pool_record(ringcx.account_id(), n, description))
        .collect();
    let result = ringcx.pool_create(&records).await;
    let details = json!({ "operation": "create", "numbers": numbers.iter().map(E164::as_str).collect::<Vec<_>>() });
    audited(state, caller, request_id, details, result).await
}

pub async fn upload(
    state: &AppState,
    caller: &Principal,
    id: Option<Uuid>,
    csv: &[u8],
    request_id: Option<&str>,
) -> AppResult<UploadReport> {
    let tenant_id = caller.manage_tenant()?;
    if csv.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::invalid_field("file", "the CSV is empty"));
    }
    if csv.len() > MAX_CSV_BYTES {
        return Err(AppError::invalid_field(
            "file",
            "the CSV is larger than 1 MiB",
        ));
    }
    let ringcx = ringcx_for(state, tenant_id, id).await?;
    let result = ringcx.pool_upload_csv(csv).await;
    let details = match &result {
        Ok(r) => {
            json!({ "operation": "upload", "bytes": csv.len(), "total_records": r.total_records, "valid_records": r.valid_records })
        }
        Err(_) => json!({ "operation": "upload", "bytes": csv.len() }),
    };
    audited(state, caller, request_id, details, result).await
}

#[derive(Debug, Deserialize)]
pub struct BulkRequest {
    #[serde(default)]
    pub numbers: Vec<String>,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub active: Option<bool>,
}

pub async fn bulk(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    request: &BulkRequest,
    request_id: Option<&str>,
) -> AppResult<BulkUpdateReport> {
    let tenant_id = caller.manage_tenant()?;
    let numbers = parse_numbers(request.numbers.iter().map(String::as_str))?;
    if request.description.is_none() && request.notes.is_none() && request.active.is_none() {
        return Err(AppError::invalid_field(
            "description",
            "give a description, notes or active to change",
        ));
    }
    let ringcx = ringcx_for(state, tenant_id, Some(id)).await?;
    let records: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let mut r = json!({ "dnis": n.as_str().trim_start_matches('+') });
            if let Some(d) = &request.description {
                r["dnisDescription"] = json!(d);
            }
            if let Some(notes) = &request.notes {
                r["notes"] = json!(notes);
            }
            if let Some(a) = request.active {
                r["active"] = json!(a);
            }
            r
        })
        .collect();
    let result = ringcx.pool_bulk_update(&records).await;
    let details = json!({
        "operation": "bulk_update",
        "numbers": numbers.iter().map(E164::as_str).collect::<Vec<_>>(),
        "description": request.description, "notes": request.notes, "active": request.active,
    });
    audited(state, caller, request_id, details, result).await
}

// ---- JSON API ----

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub page: u32,
}

pub async fn api_search(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Query(query): Query<SearchQuery>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id, "connection")?;
    let page = search(&state, &caller, Some(id), &query.search, query.page).await?;
    Ok(Json(json!(page)))
}

#[derive(Debug, Deserialize)]
pub struct AddRequest {
    #[serde(default)]
    pub numbers: Vec<String>,
    pub description: Option<String>,
}

pub async fn api_add(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddRequest>,
) -> AppResult<Response> {
    caller.manage_tenant()?;
    let id = parse_id(&id, "connection")?;
    let numbers = parse_numbers(body.numbers.iter().map(String::as_str))?;
    let records = add(
        &state,
        &caller,
        Some(id),
        &numbers,
        body.description.as_deref(),
        request_id.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "records": records }))).into_response())
}

pub async fn api_upload(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id, "connection")?;
    let report = upload(&state, &caller, Some(id), &body, request_id.as_deref()).await?;
    Ok(Json(json!({ "report": report })))
}

pub async fn api_bulk(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BulkRequest>,
) -> AppResult<Json<Value>> {
    caller.manage_tenant()?;
    let id = parse_id(&id, "connection")?;
    let report = bulk(&state, &caller, id, &body, request_id.as_deref()).await?;
    Ok(Json(json!(report)))
}

pub async fn api_tracking_groups(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let tenant_id = caller.manage_tenant()?;
    let id = parse_id(&id, "connection")?;
    let ringcx = ringcx_for(&state, tenant_id, Some(id)).await?;
    let groups = ringcx.tracking_groups().await?;
    Ok(Json(json!({ "groups": groups })))
}

#[derive(Debug, Deserialize)]
pub struct TrackingNumberRequest {
    #[serde(default)]
    pub description: String,
    pub outbound_caller_id: Option<String>,
}

pub async fn api_create_tracking_number(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path((id, group)): Path<(String, String)>,
    ApiJson(body): ApiJson<TrackingNumberRequest>,
) -> AppResult<Response> {
    let tenant_id = caller.manage_tenant()?;
    let id = parse_id(&id, "connection")?;
    let group: i64 = group
        .parse()
        .map_err(|_| AppError::NotFound("tracking group".into()))?;
    let description = body.description.trim();
    if description.is_empty() {
        return Err(AppError::invalid_field(
            "description",
            "a tracking number needs a description",
        ));
    }
    let caller_id = match body.outbound_caller_id.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(
            E164::parse(n)
                .map_err(|_| AppError::invalid_field("outbound_caller_id", "not a phone number"))?,
        ),
        _ => None,
    };
    let ringcx = ringcx_for(&state, tenant_id, Some(id)).await?;
    let result = ringcx
        .create_tracking_number(group, description, caller_id.as_ref())
        .await;
    let details = json!({ "operation": "create_tracking_number", "tracking_group": group, "description": description });
    let created = audited(&state, &caller, request_id.as_deref(), details, result).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

// ---- Page ----

#[derive(askama::Template)]
#[template(path = "ringcx_pool.html")]
struct PoolPageView {
    chrome: Chrome,
    search: String,
    records: Vec<PoolRow>,
    total: Option<u64>,
    groups: Vec<GroupRow>,
    report: Option<UploadReport>,
    notice: Option<String>,
    error: Option<String>,
}

struct PoolRow {
    number: String,
    description: String,
    state: String,
}

struct GroupRow {
    name: String,
    numbers: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub search: String,
}

async fn view(
    state: &AppState,
    caller: &PageCaller,
    search_text: &str,
    report: Option<UploadReport>,
    notice: Option<String>,
    error: Option<String>,
) -> Result<PoolPageView, AppError> {
    let principal = &caller.principal;
    let tenant_id = principal.manage_tenant()?;
    let mut error = error;
    let (records, total) = match search(state, principal, None, search_text, 0).await {
        Ok(page) => (page.records, page.total),
        Err(e @ (AppError::NotFound(_) | AppError::Invalid { .. })) => return Err(e),
        Err(e) => {
            error.get_or_insert_with(|| e.to_string());
            (Vec::new(), None)
        }
    };
    let groups = match ringcx_for(state, tenant_id, None).await {
        Ok(ringcx) => ringcx.tracking_groups().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    Ok(PoolPageView {
        chrome: Chrome::new(principal, &caller.csrf),
        search: search_text.to_string(),
        records: records
            .iter()
            .map(|r| PoolRow {
                number: r["dnisE164"]
                    .as_str()
                    .or(r["dnis"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                description: r["dnisDescription"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                state: if r["assignedDnis"].is_object() {
                    "assigned".into()
                } else {
                    "unassigned".into()
                },
            })
            .collect(),
        total,
        groups: groups
            .iter()
            .map(|g| GroupRow {
                name: g["groupName"].as_str().unwrap_or_default().to_string(),
                numbers: g["tracNumbers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        format!(
                            "{} ({})",
                            t["description"].as_str().unwrap_or_default(),
                            t["tracId"]
                        )
                    })
                    .collect(),
            })
            .collect(),
        report,
        notice,
        error,
    })
}

pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(query): Query<PageQuery>,
) -> PageResult {
    Ok(render(
        &view(&state, &caller, &query.search, None, None, None).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    pub numbers: String,
    #[serde(default)]
    pub description: String,
}

pub async fn page_add(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    axum::Form(form): axum::Form<AddForm>,
) -> PageResult {
    let principal = &caller.principal;
    principal.manage_tenant()?;
    let description = Some(form.description.trim()).filter(|d| !d.is_empty());
    let outcome = match parse_numbers(form.numbers.lines()) {
        Ok(numbers) => add(
            &state,
            principal,
            None,
            &numbers,
            description,
            request_id.as_deref(),
        )
        .await
        .map(|r| format!("Added {} numbers to the RingCX DNIS pool.", r.len())),
        Err(e) => Err(e),
    };
    let (notice, error) = match outcome {
        Ok(n) => (Some(n), None),
        Err(e @ AppError::NotFound(_)) => return Err(e.into()),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(render(
        &view(&state, &caller, "", None, notice, error).await?,
    ))
}

pub async fn page_upload(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    mut multipart: axum::extract::Multipart,
) -> PageResult {
    let principal = &caller.principal;
    principal.manage_tenant()?;
    let mut csv = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            csv = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        }
    }
    let (report, error) = match upload(&state, principal, None, &csv, request_id.as_deref()).await {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(render(
        &view(&state, &caller, "", report, None, error).await?,
    ))
}
