//! The tenant's number pages: the list, one number (release, re-route), the orphaned
//! numbers, and the bulk forms (release, CNAM, re-route) with their outcome tables.
//!
//! One file over 500 lines: one handler per form, each short, sharing the pages' models.

use axum::extract::{Path, Query, State};

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::api::ListQuery;
use super::repo::{self, Listed, TenantNumber};
use crate::audit::repo::{AuditFilter, AuditRow, list as audit_list};
use crate::auth::{PageCaller, RequestId};
use crate::domain::policy::AuditScope;
use crate::domain::{E164, NumberState};
use crate::error::AppError;
use crate::features::number_view::{NumberFeatures, number_features};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageResult, render};

pub fn national(e164: &str) -> String {
    crate::domain::e164::format_national(e164)
}

#[derive(askama::Template)]
#[template(path = "numbers.html")]
struct NumbersPage {
    chrome: Chrome,
    numbers: Vec<Listed>,
    state_filter: String,
    next_cursor: Option<String>,
    states: Vec<&'static str>,
    can_edit: bool,
}

impl NumbersPage {
    fn national(&self, e164: &str) -> String {
        national(e164)
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let tenant_id = caller.principal.tenant()?;
    let args = query.parse()?;
    // The statement keeps its plan there (see `repo::list`).
    let mut conn = state
        .reads_for(caller.principal.user_id)
        .lists
        .acquire()
        .await?;
    let numbers = repo::list(
        &mut conn,
        tenant_id,
        args.state.as_deref(),
        args.after.as_deref(),
        args.limit,
    )
    .await?;
    drop(conn);
    let next_cursor = (numbers.len() as i64 == args.limit)
        .then(|| numbers.last().map(|n| n.number.e164.clone()))
        .flatten();
    Ok(render(&NumbersPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf)
            .with_notice_about(query.notice.as_deref(), query.number.as_deref()),
        can_edit: caller.principal.is_tenant_admin(),
        numbers,
        state_filter: args.state.unwrap_or_default(),
        next_cursor,
        states: LISTED_STATES.to_vec(),
    }))
}

/// The states the numbers list filters by (`?state=`), in the order its filter offers them.
pub const LISTED_STATES: [&str; 6] = [
    "reserved",
    "provisioning",
    "active",
    "pending",
    "orphaned",
    "porting_in",
];

#[derive(askama::Template)]
#[template(path = "number.html")]
struct NumberPage {
    chrome: Chrome,
    number: TenantNumber,
    national: String,
    tel: String,
    history: Vec<AuditRow>,
    releasable: bool,
    notice: Option<String>,
    features: NumberFeatures,
    /// The tenant's routing targets, for a number that can be re-routed (active or orphaned).
    targets: Vec<crate::domain::Target>,
    reroute_error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NumberQuery {
    notice: Option<String>,
}

/// The number's page: details, CNAM and E911 sections, history.
pub async fn number_page(
    state: &AppState,
    caller: &PageCaller,
    number: &E164,
    notice_code: Option<&str>,
    features: NumberFeatures,
    reroute_error: Option<String>,
) -> Result<Response, AppError> {
    let tenant_id = caller.principal.tenant()?;
    // Before taking a connection: on a cache miss the adapter is read from the database.
    let provider = state.platform_for(tenant_id).await?;
    let mut conn = state.pool.acquire().await?;
    let found = repo::find(&mut conn, tenant_id, number.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let history = audit_list(
        &mut conn,
        &AuditScope::Tenant(tenant_id),
        &AuditFilter {
            number: Some(number.as_str().to_string()),
            limit: 100,
            ..Default::default()
        },
    )
    .await?;
    drop(conn);
    let notice = (found.state == NumberState::Pending).then(|| {
        provider
            .activation_notice(found.us_state.as_deref())
            .unwrap_or_else(|| "Activation can take up to 24 hours.".into())
    });
    let targets = if matches!(found.state, NumberState::Active | NumberState::Orphaned) {
        state.targets(tenant_id, None).await?
    } else {
        Vec::new()
    };
    Ok(render(&NumberPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice_code),
        releasable: matches!(
            found.state,
            NumberState::Active | NumberState::Pending | NumberState::Orphaned
        ),
        national: number.national_format(),
        tel: number.tel_uri(),
        number: found,
        history,
        notice,
        features,
        targets,
        reroute_error,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
    Query(q): Query<NumberQuery>,
) -> PageResult {
    let number = super::parse_path_number(&raw)?;
    let features = number_features(&state, &caller, number.as_str()).await?;
    Ok(number_page(
        &state,
        &caller,
        &number,
        q.notice.as_deref(),
        features,
        None,
    )
    .await?)
}

pub async fn release(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let number = super::parse_path_number(&raw)?;
    super::release(&state, &caller.principal, &number, request_id.as_deref()).await?;
    let number =
        url::form_urlencoded::byte_serialize(number.as_str().as_bytes()).collect::<String>();
    Ok(Redirect::to(&format!("/numbers?notice=released&number={number}")).into_response())
}

#[derive(askama::Template)]
#[template(path = "orphaned.html")]
struct OrphanedPage {
    chrome: Chrome,
    numbers: Vec<TenantNumber>,
    targets: Vec<crate::domain::Target>,
    notices: Vec<String>,
    error: Option<String>,
}

impl OrphanedPage {
    fn national(&self, e164: &str) -> String {
        national(e164)
    }
}

async fn orphaned_page(
    state: &AppState,
    caller: &PageCaller,
    notice_code: Option<&str>,
) -> Result<OrphanedPage, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let numbers: Vec<TenantNumber> = repo::list(&mut conn, tenant_id, Some("orphaned"), None, 500)
        .await?
        .into_iter()
        .map(|listed| listed.number)
        .collect();
    // Only what concerns this page: numbers that lost their target.
    let notices = crate::notifications::unread_for_page(
        &mut conn,
        caller.principal.user_id,
        "/numbers/orphaned",
    )
    .await?;
    drop(conn);
    let targets = if numbers.is_empty() {
        Vec::new()
    } else {
        state.targets(tenant_id, None).await?
    };
    Ok(OrphanedPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice_code),
        numbers,
        targets,
        notices,
        error: None,
    })
}

pub async fn orphaned(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<NumberQuery>,
) -> PageResult {
    Ok(render(
        &orphaned_page(&state, &caller, q.notice.as_deref()).await?,
    ))
}

pub async fn reroute(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    axum::extract::Form(form): axum::extract::Form<RerouteForm>,
) -> PageResult {
    let number = super::parse_path_number(&raw)?;
    let outcome = match form.target.split_once(':') {
        Some((kind, id)) => super::reroute(
            &state,
            &caller.principal,
            &number,
            kind,
            id,
            request_id.as_deref(),
        )
        .await
        .map(|_| ()),
        None => Err(AppError::invalid_field(
            "target",
            "Choose the new routing target.",
        )),
    };
    let from_number_page = form.back.as_deref() == Some("number");
    match outcome {
        Ok(()) if from_number_page => {
            Ok(Redirect::to(&format!("/numbers/{number}?notice=rerouted")).into_response())
        }
        Ok(()) => Ok(Redirect::to("/numbers/orphaned?notice=rerouted").into_response()),
        Err(err) if from_number_page => {
            let features = number_features(&state, &caller, number.as_str()).await?;
            let mut page = number_page(
                &state,
                &caller,
                &number,
                None,
                features,
                Some(err.public_message()),
            )
            .await?;
            *page.status_mut() = err.status();
            Ok(page)
        }
        Err(err) => {
            let status = err.status();
            let mut page = orphaned_page(&state, &caller, None).await?;
            page.error = Some(err.public_message());
            Ok((status, render(&page)).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RerouteForm {
    target: String,
    /// `number` when sent from the number's page, which shows the outcome.
    back: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "numbers_reroute.html")]
struct BulkReroutePage {
    chrome: Chrome,
    /// The ticked numbers, each with what Inward knows of it (none: not the tenant's).
    numbers: Vec<(String, Option<TenantNumber>)>,
    targets: Vec<crate::domain::Target>,
    chosen: String,
    results: Vec<super::bulk::Rerouted>,
    error: Option<String>,
}

impl BulkReroutePage {
    fn national(&self, e164: &str) -> String {
        national(e164)
    }

    fn rerouted(&self) -> usize {
        self.results.iter().filter(|r| r.ok).count()
    }
}

async fn bulk_reroute_page(
    state: &AppState,
    caller: &PageCaller,
    picked: Vec<String>,
) -> Result<BulkReroutePage, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let mut numbers = Vec::with_capacity(picked.len());
    for e164 in picked {
        let found = repo::find(&mut conn, tenant_id, &e164).await?;
        numbers.push((e164, found));
    }
    drop(conn);
    let targets = state.targets(tenant_id, None).await?;
    Ok(BulkReroutePage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        numbers,
        targets,
        chosen: String::new(),
        results: Vec::new(),
        error: None,
    })
}

fn picked(form: &Form) -> Vec<String> {
    form.all("number")
}

/// The bulk re-route form, reached from the numbers list with the ticked numbers in the query.
pub async fn bulk_reroute_form(
    State(state): State<AppState>,
    caller: PageCaller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> PageResult {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let (numbers, error) = match super::bulk::wanted(&picked(&form)) {
        Ok(unique) => (unique, None),
        Err(err) => (Vec::new(), Some(err.public_message())),
    };
    let mut page = bulk_reroute_page(&state, &caller, numbers).await?;
    page.error = error;
    Ok(render(&page))
}

/// Re-routes the ticked numbers and shows each one's outcome on the same page.
pub async fn bulk_reroute(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: axum::body::Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let numbers = picked(&form);
    let chosen = form.text("target");
    let outcome = match chosen.split_once(':') {
        Some((kind, id)) => {
            super::bulk::reroute_all(
                &state,
                &caller.principal,
                &numbers,
                kind,
                id,
                request_id.as_deref(),
            )
            .await
        }
        None => Err(AppError::invalid_field(
            "target",
            "Choose the new routing target.",
        )),
    };
    let shown = super::bulk::wanted(&numbers).unwrap_or_default();
    let mut page = bulk_reroute_page(&state, &caller, shown).await?;
    page.chosen = chosen;
    match outcome {
        Ok(results) => {
            page.results = results;
            Ok(render(&page))
        }
        Err(err @ (AppError::Invalid { .. } | AppError::NotFound(_))) => {
            page.error = Some(err.public_message());
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// The bulk release and caller-ID pages: the ticked numbers and what will be done, then each
/// number's outcome.
#[derive(askama::Template)]
#[template(path = "numbers_bulk.html")]
pub struct BulkPage {
    chrome: Chrome,
    /// `release` or `cnam`.
    action: String,
    numbers: Vec<String>,
    name: String,
    results: Vec<super::bulk::Done>,
    error: Option<String>,
}

impl BulkPage {
    fn title(&self) -> &'static str {
        if self.action == "release" {
            "Release numbers"
        } else {
            "Caller-ID name for several numbers"
        }
    }

    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    fn done(&self) -> usize {
        self.results.iter().filter(|r| r.ok).count()
    }
}

fn bulk_action(form: &Form) -> Result<String, AppError> {
    match form.raw("action") {
        Some(a @ ("release" | "cnam")) => Ok(a.to_string()),
        _ => Err(AppError::invalid_field(
            "action",
            "Choose what to do with the ticked numbers.",
        )),
    }
}

/// Reached from the numbers list with the ticked numbers and the action in the query.
pub async fn bulk_form(
    caller: PageCaller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> PageResult {
    caller.principal.tenant()?;
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    // The page keeps the action asked for, also when it has to say why nothing can be done.
    let asked = form.text("action");
    let (action, numbers, error) = match (bulk_action(&form), super::bulk::wanted(&picked(&form))) {
        (Ok(action), Ok(unique)) => (action, unique, None),
        (Err(err), _) | (_, Err(err)) => (asked, Vec::new(), Some(err.public_message())),
    };
    Ok(render(&BulkPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        action,
        numbers,
        name: String::new(),
        results: Vec::new(),
        error,
    }))
}

pub async fn bulk_act(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: axum::body::Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let action = bulk_action(&form)?;
    let numbers = picked(&form);
    let name = form.get("name").unwrap_or_default().to_string();
    let outcome = if action == "release" {
        super::bulk::release_all(&state, &caller.principal, &numbers, request_id.as_deref()).await
    } else {
        let name = (!name.is_empty()).then_some(name.as_str());
        super::bulk::cnam_all(
            &state,
            &caller.principal,
            &numbers,
            name,
            request_id.as_deref(),
        )
        .await
    };
    let mut page = BulkPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        action,
        numbers: super::bulk::wanted(&numbers).unwrap_or_default(),
        name,
        results: Vec::new(),
        error: None,
    };
    match outcome {
        Ok(results) => {
            page.results = results;
            Ok(render(&page))
        }
        Err(err @ (AppError::Invalid { .. } | AppError::NotFound(_) | AppError::Forbidden(_))) => {
            page.error = Some(err.public_message());
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
