//! Pages of emergency calling: the saved 911 addresses and the tenant's 911 alert contacts
//! (`/e911`), one saved address (`/e911/addresses/{id}`), a number's own contacts and its test
//! alert, and the address guide's suggestions shown under any address form.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::e911_api::{address_id, contact_id};
use super::e911_book::{self, SavedAddress, SavedInput};
use super::e911_contacts::{self, ContactRow};
use super::number_view::number_features;
use crate::auth::{PageCaller, RequestId};
use crate::domain::e911::AddressInput;
use crate::domain::e911_notify::ContactInput;
use crate::error::AppError;
use crate::numbers::parse_path_number;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageError, PageResult, Refusal, render};

const ADDRESS_FIELDS: [&str; 7] = [
    "label", "street", "location", "city", "state", "zip", "country",
];
const CONTACT_FIELDS: [&str; 3] = ["name", "email", "phone"];

/// One address the user may choose after the guide answered: its line, and the fields the
/// form sends back for it.
#[derive(Debug, Clone)]
pub struct Choice {
    pub one_line: String,
    pub fields: Vec<(&'static str, String)>,
}

/// The address guide's candidates and the address as typed, each a form that sends it again
/// (with `as_typed`, so that the choice is final) to `action`, with `extra` fields.
#[derive(Debug, Clone)]
pub struct Suggestions {
    pub action: String,
    pub extra: Vec<(String, String)>,
    pub typed: Choice,
    pub candidates: Vec<Choice>,
}

fn choice(address: &Value, one_line: Option<&str>) -> Choice {
    let text = |k: &str| address[k].as_str().unwrap_or_default().to_string();
    let fields: Vec<(&'static str, String)> =
        ["street", "location", "city", "state", "zip", "country"]
            .into_iter()
            .map(|k| (k, text(k)))
            .collect();
    let one_line = one_line.map(str::to_string).unwrap_or_else(|| {
        fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    });
    Choice { one_line, fields }
}

/// The suggestions an `address_suggestions` refusal carries, as forms to `action`.
pub fn suggestions_of(
    err: &AppError,
    action: &str,
    extra: Vec<(String, String)>,
) -> Option<Suggestions> {
    match err {
        AppError::Invalid {
            code: "address_suggestions",
            details,
            ..
        } => Some(Suggestions {
            action: action.to_string(),
            extra,
            typed: choice(&details["typed"], None),
            candidates: details["candidates"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| choice(&c["address"], c["one_line"].as_str()))
                .collect(),
        }),
        _ => None,
    }
}

pub fn address_input(form: &Form) -> AddressInput {
    let optional = |k: &str| Some(form.text(k)).filter(|v| !v.trim().is_empty());
    AddressInput {
        street: form.text("street"),
        location: optional("location"),
        city: form.text("city"),
        state: form.text("state"),
        zip: form.text("zip"),
        country: optional("country"),
    }
}

fn saved_input(form: &Form) -> SavedInput {
    SavedInput {
        label: form.text("label"),
        address: address_input(form),
        as_typed: form.text("as_typed") == "on",
    }
}

fn contact_input(form: &Form) -> ContactInput {
    ContactInput {
        name: form.text("name"),
        email: Some(form.text("email")),
        phone: Some(form.text("phone")),
    }
}

#[derive(askama::Template)]
#[template(path = "e911_book.html")]
struct BookPage {
    chrome: Chrome,
    addresses: Vec<SavedAddress>,
    contacts: Vec<ContactRow>,
    can_edit: bool,
    address_error: Option<String>,
    address_refusal: Refusal,
    contact_error: Option<String>,
    contact_refusal: Refusal,
    suggestions: Option<Suggestions>,
}

impl BookPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }
}

async fn book_page(
    state: &AppState,
    caller: &PageCaller,
    chrome: Chrome,
) -> Result<BookPage, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let addresses = e911_book::list(state, &caller.principal).await?;
    let contacts = e911_contacts::list(&mut *state.pool.acquire().await?, tenant_id, None).await?;
    Ok(BookPage {
        chrome,
        addresses,
        contacts,
        can_edit: caller.principal.is_tenant_admin(),
        address_error: None,
        address_refusal: Refusal::default(),
        contact_error: None,
        contact_refusal: Refusal::default(),
        suggestions: None,
    })
}

/// `GET /e911`.
pub async fn book(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let chrome = Chrome::new(&caller.principal, &caller.csrf).with_notice(q.notice.as_deref());
    Ok(render(&book_page(&state, &caller, chrome).await?))
}

/// `POST /e911/addresses`: saves a new address.
pub async fn create_address(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    match e911_book::create(
        &state,
        &caller.principal,
        &saved_input(&form),
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/e911?notice=e911_address_saved").into_response()),
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let chrome = Chrome::new(&caller.principal, &caller.csrf);
            let mut page = book_page(&state, &caller, chrome).await?;
            page.suggestions = suggestions_of(
                &err,
                "/e911/addresses",
                vec![("label".into(), form.text("label"))],
            );
            page.address_error = Some(err.public_message());
            page.address_refusal = Refusal::new(form.into_pairs(), &err).shown_on(&ADDRESS_FIELDS);
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(askama::Template)]
#[template(path = "e911_address.html")]
struct AddressPage {
    chrome: Chrome,
    saved: SavedAddress,
    can_edit: bool,
    error: Option<String>,
    refusal: Refusal,
    suggestions: Option<Suggestions>,
}

impl AddressPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }
}

async fn address_page_of(
    state: &AppState,
    caller: &PageCaller,
    raw: &str,
    notice: Option<&str>,
) -> Result<AddressPage, AppError> {
    let saved = e911_book::get(state, &caller.principal, address_id(raw)?).await?;
    Ok(AddressPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        saved,
        can_edit: caller.principal.is_tenant_admin(),
        error: None,
        refusal: Refusal::default(),
        suggestions: None,
    })
}

/// `GET /e911/addresses/{id}`.
pub async fn address_page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    Ok(render(
        &address_page_of(&state, &caller, &raw, q.notice.as_deref()).await?,
    ))
}

/// `POST /e911/addresses/{id}`: changes it; its numbers are registered again.
pub async fn save_address(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let id = address_id(&raw)?;
    let form = Form::parse(&body);
    match e911_book::update(
        &state,
        &caller.principal,
        id,
        &saved_input(&form),
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(
            Redirect::to(&format!("/e911/addresses/{id}?notice=e911_address_changed"))
                .into_response(),
        ),
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let mut page = address_page_of(&state, &caller, &raw, None).await?;
            page.suggestions = suggestions_of(
                &err,
                &format!("/e911/addresses/{id}"),
                vec![("label".into(), form.text("label"))],
            );
            page.error = Some(err.public_message());
            page.refusal = Refusal::new(form.into_pairs(), &err).shown_on(&ADDRESS_FIELDS);
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

/// `POST /e911/addresses/{id}/delete`.
pub async fn delete_address(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let id = address_id(&raw)?;
    match e911_book::delete(&state, &caller.principal, id, request_id.as_deref()).await {
        Ok(()) => Ok(Redirect::to("/e911?notice=e911_address_deleted").into_response()),
        Err(err @ AppError::Conflict { .. }) => {
            let mut page = address_page_of(&state, &caller, &raw, None).await?;
            page.error = Some(err.public_message());
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

/// Where a contact form goes back to: the number's page when it was sent from one.
fn number_of(form: &Form) -> Result<Option<crate::domain::E164>, AppError> {
    let raw = form.text("number");
    (!raw.trim().is_empty())
        .then(|| parse_path_number(&raw))
        .transpose()
}

async fn number_page_with(
    state: &AppState,
    caller: &PageCaller,
    number: &crate::domain::E164,
    fill: impl FnOnce(&mut super::number_view::NumberFeatures),
) -> Result<Response, AppError> {
    let mut features = number_features(state, caller, number.as_str()).await?;
    fill(&mut features);
    crate::numbers::pages::number_page(state, caller, number, None, features, None).await
}

/// `POST /e911/contacts`: a contact of the tenant's, or of the number the form names.
pub async fn add_contact(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let number = number_of(&form)?;
    let added = e911_contacts::add(
        &state,
        &caller.principal,
        &contact_input(&form),
        number.as_ref(),
        request_id.as_deref(),
    )
    .await;
    match (added, number) {
        (Ok(_), Some(n)) => Ok(Redirect::to(&format!(
            "/numbers/{n}?notice=e911_contact_added#e911-contacts"
        ))
        .into_response()),
        (Ok(_), None) => Ok(Redirect::to("/e911?notice=e911_contact_added").into_response()),
        (Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })), number) => {
            let status = err.status();
            let message = err.public_message();
            let refusal = Refusal::new(form.into_pairs(), &err).shown_on(&CONTACT_FIELDS);
            let page = match number {
                Some(n) => {
                    number_page_with(&state, &caller, &n, |f| {
                        f.contact_error = Some(message);
                        f.contact_refusal = refusal;
                    })
                    .await?
                }
                None => {
                    let chrome = Chrome::new(&caller.principal, &caller.csrf);
                    let mut page = book_page(&state, &caller, chrome).await?;
                    page.contact_error = Some(message);
                    page.contact_refusal = refusal;
                    render(&page)
                }
            };
            Ok((status, page).into_response())
        }
        (Err(err), _) => Err(PageError(err)),
    }
}

/// `POST /e911/contacts/{id}/delete`.
pub async fn remove_contact(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let removed = e911_contacts::remove(
        &state,
        &caller.principal,
        contact_id(&raw)?,
        request_id.as_deref(),
    )
    .await?;
    Ok(match removed.number {
        Some(n) => Redirect::to(&format!(
            "/numbers/{n}?notice=e911_contact_removed#e911-contacts"
        )),
        None => Redirect::to("/e911?notice=e911_contact_removed"),
    }
    .into_response())
}

/// `POST /numbers/{e164}/e911/test-alert`: the number's page, saying how each contact was
/// reached.
pub async fn test_alert(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let number = parse_path_number(&raw)?;
    match e911_contacts::test_alert(&state, &caller.principal, &number, request_id.as_deref()).await
    {
        Ok(deliveries) => Ok(number_page_with(&state, &caller, &number, |f| {
            f.alert_deliveries = Some(deliveries);
        })
        .await?),
        Err(err @ AppError::Invalid { .. }) => {
            let status = err.status();
            let page = number_page_with(&state, &caller, &number, |f| {
                f.alert_error = Some(err.public_message());
            })
            .await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}
