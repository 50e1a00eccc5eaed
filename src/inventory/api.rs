//! `/api/v1/inventory…`: uploads, allocations, releases, the list (JSON or CSV) and delete.

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Uploader;
use super::carriers;
use super::conditions::FilterQuery;
use super::manage::{self, Selection};
use super::repo;
use super::upload::{self, Mode, NewUpload};
use crate::auth::{ApiCaller, RequestId};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

/// Reads the multipart form (`file`, `mode`, `dry_run`), streaming the file into staging, then
/// starts the background validation/merge. Shared by the API and the page.
pub async fn accept_upload(
    state: &AppState,
    caller: &Principal,
    mut multipart: Multipart,
    request_id: Option<String>,
) -> AppResult<Uuid> {
    let uploader = Uploader::for_caller(&mut *state.pool.acquire().await?, caller).await?;
    let (mut mode, mut dry_run, mut id) = (None, None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "mode" => mode = Some(field.text().await.map_err(multipart_error)?),
            "dry_run" => dry_run = Some(field.text().await.map_err(multipart_error)?),
            "file" => {
                if id.is_some() {
                    return Err(AppError::invalid_field("file", "send one file per upload"));
                }
                let new = NewUpload {
                    uploader: &uploader,
                    filename: field.file_name().map(|f| f.chars().take(200).collect()),
                    mode: Mode::AllOrNothing,
                    dry_run: true,
                    request_id: request_id.clone(),
                    max_record_bytes: state.config.inventory.max_record_kib * 1024,
                };
                id = Some(upload::receive(&state.pool, new, &mut field).await?);
            }
            _ => {}
        }
    }
    let id =
        id.ok_or_else(|| AppError::invalid_field("file", "attach the CSV as the “file” field"))?;
    let parsed = Mode::parse(mode.as_deref())
        .and_then(|m| Ok((m, upload::parse_bool("dry_run", dry_run.as_deref())?)));
    let (mode, dry_run) = match parsed {
        Ok(v) => v,
        Err(err) => {
            upload::fail(&state.pool, id, &err.public_message()).await;
            return Err(err);
        }
    };
    sqlx::query("UPDATE inventory_uploads SET mode = $2, dry_run = $3 WHERE id = $1")
        .bind(id)
        .bind(mode.as_str())
        .bind(dry_run)
        .execute(&state.pool)
        .await?;
    tokio::spawn(crate::db_scope::bypassing(
        crate::db_scope::Bypass::UploadPipeline,
        upload::process(state.pool.clone(), uploader, id),
    ));
    Ok(id)
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> AppError {
    AppError::invalid(
        "invalid_multipart",
        format!("send a multipart/form-data body with the CSV as “file”: {err}"),
    )
}

pub async fn create_upload(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let multipart = multipart.map_err(|e| {
        AppError::invalid(
            "unsupported_media_type",
            format!("send the CSV as multipart/form-data: {e}"),
        )
    })?;
    let id = accept_upload(&state, &caller, multipart, request_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status_url": format!("/api/v1/inventory/uploads/{id}") })),
    )
        .into_response())
}

async fn job_for(state: &AppState, caller: &Principal, raw: &str) -> AppResult<upload::Job> {
    let id = parse_id(raw, "upload")?;
    upload::find_for(&mut *state.pool.acquire().await?, caller, id).await
}

pub async fn show_upload(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(job_for(&state, &caller, &raw).await?.to_json()))
}

pub async fn list_uploads(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    caller.inventory_view()?;
    let jobs = upload::recent(&mut *state.pool.acquire().await?, caller.org_id).await?;
    Ok(Json(
        json!({ "uploads": jobs.iter().map(upload::Job::to_json).collect::<Vec<_>>() }),
    ))
}

pub async fn rejected_csv(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let job = job_for(&state, &caller, &raw).await?;
    let body = upload::rejected_csv(&state.pool, job.id).await?;
    Ok(crate::web::csv::download(
        &format!("rejected-{}.csv", job.id),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct CommitBody {
    pub mode: Option<String>,
}

pub async fn commit_upload(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<CommitBody>,
) -> AppResult<Response> {
    let job = job_for(&state, &caller, &raw).await?;
    let uploader = Uploader::for_caller(&mut *state.pool.acquire().await?, &caller).await?;
    let mode = Mode::parse(body.mode.as_deref())?;
    let job = upload::commit(&state.pool, &uploader, job.id, mode).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": job.id }))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SelectionBody {
    pub numbers: Option<Vec<String>>,
    pub filter: Option<FilterQuery>,
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

impl SelectionBody {
    pub fn selection(&self) -> AppResult<Selection> {
        match (&self.numbers, &self.filter) {
            (Some(numbers), None) => {
                if numbers.is_empty() || numbers.len() > 10_000 {
                    return Err(AppError::invalid_field(
                        "numbers",
                        "list from 1 to 10,000 numbers, or send a filter",
                    ));
                }
                let mut parsed = numbers
                    .iter()
                    .map(|n| {
                        E164::parse(n)
                            .map_err(|e| AppError::invalid_field("numbers", e.to_string()))
                    })
                    .collect::<AppResult<Vec<_>>>()?;
                parsed.sort();
                parsed.dedup();
                Ok(Selection::Numbers(parsed))
            }
            (None, Some(filter)) => {
                let mut filter = filter.parse()?;
                filter.after = None;
                Ok(Selection::Filter(filter))
            }
            _ => Err(AppError::invalid_field(
                "numbers",
                "send either “numbers” or “filter”",
            )),
        }
    }

    fn tenant(&self) -> AppResult<TenantId> {
        self.tenant_id
            .as_deref()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| AppError::invalid_field("tenant_id", "tenant_id must be a tenant's id"))
    }
}

pub async fn allocate(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<SelectionBody>,
) -> AppResult<Json<Value>> {
    let selection = body.selection()?;
    let tenant = body.tenant()?;
    Ok(Json(
        manage::allocate(
            &state,
            &caller,
            &selection,
            tenant,
            body.dry_run,
            request_id.as_deref(),
        )
        .await?,
    ))
}

pub async fn release(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<SelectionBody>,
) -> AppResult<Json<Value>> {
    let selection = body.selection()?;
    Ok(Json(
        manage::release(
            &state,
            &caller,
            &selection,
            body.dry_run,
            request_id.as_deref(),
        )
        .await?,
    ))
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    Query(query): Query<FilterQuery>,
) -> AppResult<Response> {
    let scope = caller.inventory_view()?;
    let filter = query.parse()?;
    if wants_csv(&headers) {
        let mut conn = state.reads_for(caller.user_id).downloads.acquire().await?;
        let body = repo::export_csv(&mut conn, scope, &filter).await?;
        return Ok(crate::web::csv::download("inventory.csv", body));
    }
    let mut conn = state.reads_for(caller.user_id).lists.acquire().await?;
    let rows = repo::list(&mut conn, scope, &filter).await?;
    Ok(Json(json!({
        "numbers": rows.iter().map(repo::InventoryRow::to_json).collect::<Vec<_>>(),
        "next_cursor": repo::next_cursor(&rows, filter.limit),
    }))
    .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let number = crate::numbers::parse_path_number(&raw)?;
    manage::delete(&state, &caller, &number, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn sample() -> Response {
    crate::web::csv::download(
        "inventory-sample.csv",
        upload::sample_csv().as_bytes().to_vec(),
    )
}

pub async fn change_capabilities(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<manage::CapabilityChange>,
) -> AppResult<Json<Value>> {
    let number = crate::numbers::parse_path_number(&raw)?;
    Ok(Json(
        manage::change_capabilities(&state, &caller, &number, &body, request_id.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct PermanentReleaseBody {
    pub confirm: Option<String>,
}

pub async fn permanent_release(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<PermanentReleaseBody>,
) -> AppResult<Response> {
    let number = crate::numbers::parse_path_number(&raw)?;
    manage::permanent_release(
        &state,
        &caller,
        &number,
        body.confirm.as_deref().unwrap_or(""),
        request_id.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn assign(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<super::assign::Assignment>,
) -> AppResult<Json<Value>> {
    let number = crate::numbers::parse_path_number(&raw)?;
    Ok(Json(
        super::assign::assign(&state, &caller, &number, &body, request_id.as_deref()).await?,
    ))
}

pub async fn unassign(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let number = crate::numbers::parse_path_number(&raw)?;
    super::assign::unassign(&state, &caller, &number, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub struct ExternalNumbersBody {
    pub allow: bool,
}

pub async fn set_external_numbers(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<ExternalNumbersBody>,
) -> AppResult<Json<Value>> {
    let tenant = TenantId(parse_id(&raw, "tenant")?);
    manage::set_external_numbers(&state, &caller, tenant, body.allow).await?;
    Ok(Json(
        json!({ "tenant_id": tenant, "allow_external_numbers": body.allow }),
    ))
}

/// `GET /api/v1/inventory/carriers`: the carriers the caller's uploads may name.
pub async fn list_carriers(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let carriers = carriers::list(&state, &caller).await?;
    Ok(Json(json!({ "carriers": carriers })))
}

/// `POST /api/v1/inventory/carriers`: `{ "kind": "voice"|"sms", "name": …, "is_default": bool }`.
pub async fn create_carrier(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<carriers::NewCarrier>,
) -> AppResult<Response> {
    let carrier = carriers::create(&state, &caller, &body, request_id.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(carrier)).into_response())
}

/// `PUT /api/v1/inventory/carriers/{id}/default`: makes the carrier the default of its kind.
pub async fn set_default_carrier(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Json<carriers::Carrier>> {
    let id = parse_id(&raw, "carrier")?;
    Ok(Json(
        carriers::set_default(&state, &caller, id, request_id.as_deref()).await?,
    ))
}
