//! Pages: port requests (list and new), a request's detail with each number's timeline,
//! the LOA upload, corrections, submit and cancel.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::{CreateRequest, PortDetail, PortSummary};
use crate::auth::{PageCaller, RequestId};
use crate::domain::Target;
use crate::domain::port::{PortDocument, PortInput};
use crate::domain::target::TargetSpec;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageError, PageResult, parse_id, render};

fn input_of(f: &Form) -> PortInput {
    PortInput {
        numbers: f
            .text("numbers")
            .split(['\n', ',', ';'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        current_carrier: f.text("current_carrier"),
        account_number: f.text("account_number"),
        pin: f.text("pin"),
        account_name: f.text("account_name"),
        service_address: f.text("service_address"),
        requested_foc: f.text("requested_foc"),
    }
}

#[derive(askama::Template)]
#[template(path = "ports.html")]
struct PortsPage {
    chrome: Chrome,
    ports: Vec<PortSummary>,
    targets: Vec<Target>,
    can_edit: bool,
    error: Option<String>,
    refusal: crate::web::Refusal,
}

async fn ports_page(
    state: &AppState,
    caller: &PageCaller,
    error: Option<String>,
    refusal: crate::web::Refusal,
) -> Result<PortsPage, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let ports = super::list(&mut *state.pool.acquire().await?, tenant_id).await?;
    let targets = state.targets(tenant_id, None).await?;
    Ok(PortsPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        ports,
        targets,
        can_edit: caller.principal.is_tenant_admin(),
        error,
        refusal,
    })
}

pub async fn list(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(
        &ports_page(&state, &caller, None, Default::default()).await?,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let f = Form::parse(&body);
    let (kind, id) = f
        .text("target")
        .split_once(':')
        .map(|(k, i)| (k.to_string(), i.to_string()))
        .unwrap_or_default();
    let request = CreateRequest {
        input: input_of(&f),
        target: TargetSpec {
            kind,
            id: Some(id),
            name: None,
        },
    };
    match super::create(&state, &caller.principal, &request, request_id.as_deref()).await {
        Ok(ids) => {
            let notice = if ids.len() > 1 {
                "port_split"
            } else {
                "port_created"
            };
            Ok(Redirect::to(&format!("/ports/{}?notice={notice}", ids[0])).into_response())
        }
        Err(
            err @ (AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::NotFound(_)),
        ) => {
            let status = err.status();
            let refusal = crate::web::Refusal::new(f.into_pairs(), &err)
                .shown_on(&[
                    "numbers",
                    "current_carrier",
                    "account_number",
                    "pin",
                    "account_name",
                    "service_address",
                    "requested_foc",
                ])
                .without(&["pin"]);
            let page = ports_page(&state, &caller, Some(err.public_message()), refusal).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(askama::Template)]
#[template(path = "port.html")]
struct PortPage {
    chrome: Chrome,
    port: PortDetail,
    can_edit: bool,
    error: Option<String>,
    refusal: crate::web::Refusal,
}

impl PortPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    /// The date on file, as the date field takes it.
    fn requested_foc_value(&self) -> String {
        self.port
            .request
            .requested_foc
            .map(|d| d.to_string())
            .unwrap_or_default()
    }
}

async fn port_page(
    state: &AppState,
    caller: &PageCaller,
    id: uuid::Uuid,
    notice: Option<&str>,
    error: Option<String>,
    refusal: crate::web::Refusal,
) -> Result<Response, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let port = super::detail(&mut *state.pool.acquire().await?, tenant_id, id).await?;
    Ok(render(&PortPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        port,
        can_edit: caller.principal.is_tenant_admin(),
        error,
        refusal,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    Ok(port_page(
        &state,
        &caller,
        id,
        q.notice.as_deref(),
        None,
        Default::default(),
    )
    .await?)
}

/// Renders the outcome of an action on the request's page: a redirect with a notice, or the
/// page again with the error beside the fields it names and what was `typed` kept.
async fn after(
    state: &AppState,
    caller: &PageCaller,
    id: uuid::Uuid,
    outcome: Result<&str, AppError>,
    htmx: bool,
    typed: Vec<(String, String)>,
) -> PageResult {
    match outcome {
        Ok(notice) => {
            let to = format!("/ports/{id}?notice={notice}");
            if htmx {
                Ok(([("HX-Redirect", to)], "").into_response())
            } else {
                Ok(Redirect::to(&to).into_response())
            }
        }
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = err.status();
            let refusal = crate::web::Refusal::new(typed, &err).shown_on(&[
                "current_carrier",
                "account_number",
                "pin",
                "account_name",
                "service_address",
                "requested_foc",
                "loa",
                "bill",
            ]);
            let message = Some(err.public_message());
            let page = port_page(state, caller, id, None, message, refusal).await?;
            if htmx {
                // htmx does not swap error responses: answer 200 and have it replace the page.
                Ok(([("HX-Retarget", "body"), ("HX-Reswap", "innerHTML")], page).into_response())
            } else {
                Ok((status, page).into_response())
            }
        }
        Err(err) => Err(PageError(err)),
    }
}

pub async fn edit(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let typed = Form::parse(&body);
    let outcome = super::update(
        &state,
        &caller.principal,
        id,
        &input_of(&typed),
        request_id.as_deref(),
    )
    .await
    .map(|_| "port_updated");
    // The PIN is never sent back.
    let typed = typed
        .into_pairs()
        .into_iter()
        .filter(|(k, _)| k != "pin")
        .collect();
    after(&state, &caller, id, outcome, false, typed).await
}

pub async fn submit(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let outcome = super::submit(&state, &caller.principal, id, request_id.as_deref())
        .await
        .map(|_| "port_submitted");
    after(&state, &caller, id, outcome, false, Vec::new()).await
}

pub async fn cancel(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let outcome = super::cancel(&state, &caller.principal, id, request_id.as_deref())
        .await
        .map(|_| "port_cancelled");
    after(&state, &caller, id, outcome, false, Vec::new()).await
}

/// The LOA upload form (multipart; the CSRF token travels in the X-CSRF-Token header that
/// htmx adds, as multipart bodies are not read by the CSRF check).
pub async fn upload(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let kind = PortDocument::Loa;
    let upload = Upload {
        id,
        kind,
        htmx: headers.contains_key("hx-request"),
    };
    upload_file(&state, &caller, request_id.as_deref(), upload, multipart).await
}

/// The copy-of-the-bill upload form, as the LOA's.
pub async fn upload_bill(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let kind = PortDocument::Bill;
    let upload = Upload {
        id,
        kind,
        htmx: headers.contains_key("hx-request"),
    };
    upload_file(&state, &caller, request_id.as_deref(), upload, multipart).await
}

/// Which document of which request a form uploads, and whether htmx sent it.
struct Upload {
    id: uuid::Uuid,
    kind: PortDocument,
    htmx: bool,
}

/// The file of the form's field named after the document, stored; the page again with the
/// reason beside the field when it is refused.
async fn upload_file(
    state: &AppState,
    caller: &PageCaller,
    request_id: Option<&str>,
    upload: Upload,
    mut multipart: Multipart,
) -> PageResult {
    let Upload { id, kind, htmx } = upload;
    let field = kind.as_str();
    let refused = |why: &str| AppError::invalid_field(field, why.to_string());
    let mut file: Option<(String, Vec<u8>)> = None;
    let outcome = loop {
        match multipart.next_field().await {
            Ok(Some(part)) if part.name() == Some(field) => {
                let name = part.file_name().unwrap_or(field).to_string();
                match part.bytes().await {
                    Ok(bytes) => file = Some((name, bytes.to_vec())),
                    Err(_) => break Err(refused("the upload was interrupted or too large")),
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(_) => break Err(refused("the upload could not be read")),
        }
    };
    let outcome = match (outcome, file) {
        (Err(err), _) => Err(err),
        (Ok(()), Some((name, bytes))) => super::upload_document(
            state,
            &caller.principal,
            id,
            kind,
            &name,
            &bytes,
            request_id,
        )
        .await
        .map(|_| match kind {
            PortDocument::Loa => "loa_uploaded",
            PortDocument::Bill => "bill_uploaded",
        }),
        (Ok(()), None) => Err(refused(match kind {
            PortDocument::Loa => "choose the signed LOA (PDF) to upload",
            PortDocument::Bill => "choose the copy of the bill (PDF, PNG or JPEG) to upload",
        })),
    };
    after(state, caller, id, outcome, htmx, Vec::new()).await
}

async fn send_document(
    state: &AppState,
    caller: &PageCaller,
    raw: &str,
    kind: PortDocument,
) -> PageResult {
    let id = parse_id(raw, "port request")?;
    let (name, content_type, bytes) = super::document(state, &caller.principal, id, kind).await?;
    Ok(super::download(&name, &content_type, bytes))
}

pub async fn download(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
) -> PageResult {
    send_document(&state, &caller, &raw, PortDocument::Loa).await
}

pub async fn download_bill(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
) -> PageResult {
    send_document(&state, &caller, &raw, PortDocument::Bill).await
}

/// The LOA filled in from the request, to sign and upload back.
pub async fn letter(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
) -> PageResult {
    let id = parse_id(&raw, "port request")?;
    let (name, bytes) = super::letter(&state, &caller.principal, id).await?;
    Ok(super::download(&name, "application/pdf", bytes))
}

#[derive(askama::Template)]
#[template(path = "port_check.html")]
struct CheckFragment {
    verdicts: Vec<super::check::Verdict>,
    error: Option<String>,
}

/// The port form's portability check, run as numbers are typed (htmx): a list of verdicts.
pub async fn check(
    State(state): State<AppState>,
    caller: PageCaller,
    body: axum::body::Bytes,
) -> Result<Response, crate::web::PageError> {
    let form = crate::web::Form::parse(&body);
    let numbers = super::check::typed(form.get("numbers").unwrap_or(""));
    let fragment = if numbers.is_empty() {
        CheckFragment {
            verdicts: Vec::new(),
            error: None,
        }
    } else {
        match super::check::check(&state, &caller.principal, &numbers).await {
            Ok(verdicts) => CheckFragment {
                verdicts,
                error: None,
            },
            Err(e @ (AppError::Invalid { .. } | AppError::Provider(_))) => CheckFragment {
                verdicts: Vec::new(),
                error: Some(e.public_message()),
            },
            Err(other) => return Err(other.into()),
        }
    };
    Ok(render(&fragment).into_response())
}
