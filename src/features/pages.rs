//! Pages: the CNAM and E911 sections of a number's page, bulk E911 with its confirmation
//! summary, tenant settings and the compliance view.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::e911::{AddressChoice, BulkRequest, BulkSummary, E911View};
use super::e911_pages::{Suggestions, address_input, suggestions_of};
use super::number_view::number_features;
use super::settings_change::SettingsUpdate;
use crate::auth::{PageCaller, RequestId};
use crate::domain::e911::{AddressInput, E911Status};
use crate::domain::policy::Approver;
use crate::error::AppError;
use crate::numbers::parse_path_number;
use crate::state::AppState;
use crate::tenants::settings::{TenantSettings, UnassignedBehavior};
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageError, PageResult, Refusal, render};

/// The address form's fields (the bulk form has no country: it is the US).
const ADDRESS_FIELDS: [&str; 6] = ["street", "location", "city", "state", "zip", "country"];

/// The form's choice: a saved address picked from the list, or the typed one.
fn choice_of(form: &Form) -> Result<AddressChoice, AppError> {
    let saved = form.text("address_id");
    if saved.trim().is_empty() {
        Ok(AddressChoice::Typed {
            input: address_input(form),
            as_typed: form.text("as_typed") == "on",
        })
    } else {
        Ok(AddressChoice::Saved(super::e911_api::address_id(
            saved.trim(),
        )?))
    }
}

fn typed(input: &AddressInput) -> E911View {
    E911View {
        status: E911Status::NotSet,
        street: Some(input.street.clone()),
        location: input.location.clone(),
        city: Some(input.city.clone()),
        state: Some(input.state.clone()),
        zip: Some(input.zip.clone()),
        country: input.country.clone(),
        reason: None,
        address_id: None,
    }
}

pub async fn save_cnam(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = parse_path_number(&raw)?;
    let form = Form::parse(&body);
    let name = form.text("name");
    match super::cnam::set_override(
        &state,
        &caller.principal,
        &number,
        Some(name.as_str()),
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/numbers/{number}?notice=cnam_saved")).into_response()),
        Err(err @ AppError::Invalid { .. }) => {
            let mut features = number_features(&state, &caller, number.as_str()).await?;
            features.cnam_error = Some(err.public_message());
            features.cnam_refusal = Refusal::new(form.into_pairs(), &err).shown_on(&["name"]);
            let status = err.status();
            let page =
                crate::numbers::pages::number_page(&state, &caller, &number, None, features, None)
                    .await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

pub async fn save_e911(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = parse_path_number(&raw)?;
    let form = Form::parse(&body);
    let input = address_input(&form);
    let apply_to_all = form.text("apply_to_all") == "on";
    let choice = choice_of(&form)?;
    match super::e911::set(
        &state,
        &caller.principal,
        &number,
        &choice,
        apply_to_all,
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => {
            let notice = if apply_to_all {
                "e911_all_saved"
            } else {
                "e911_saved"
            };
            Ok(Redirect::to(&format!("/numbers/{number}?notice={notice}")).into_response())
        }
        Err(err @ AppError::Invalid { .. }) => {
            let mut features = number_features(&state, &caller, number.as_str()).await?;
            let extra = if apply_to_all {
                vec![("apply_to_all".to_string(), "on".to_string())]
            } else {
                Vec::new()
            };
            features.e911_suggestions =
                suggestions_of(&err, &format!("/numbers/{number}/e911"), extra);
            features.e911_error = Some(err.public_message());
            features.e911_refusal = Refusal::new(form.into_pairs(), &err).shown_on(&ADDRESS_FIELDS);
            features.e911_form = typed(&input);
            let status = err.status();
            let page =
                crate::numbers::pages::number_page(&state, &caller, &number, None, features, None)
                    .await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(askama::Template)]
#[template(path = "e911_bulk.html")]
struct BulkPage {
    chrome: Chrome,
    numbers: Vec<String>,
    form: E911View,
    summary: Option<BulkSummary>,
    error: Option<String>,
    refusal: Refusal,
    saved_addresses: Vec<super::e911_book::SavedAddress>,
    /// The saved address chosen, or empty; `as_typed` once the user kept the typed address.
    address_id: String,
    as_typed: bool,
    suggestions: Option<Suggestions>,
}

impl BulkPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }
}

fn picked(form: &Form) -> Vec<String> {
    form.all("number")
}

/// The bulk form, reached from the numbers list with the ticked numbers in the query.
pub async fn bulk_form(
    State(state): State<AppState>,
    caller: PageCaller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> PageResult {
    caller.principal.tenant_admin()?;
    let numbers = picked(&Form::parse(query.unwrap_or_default().as_bytes()));
    let error = numbers
        .is_empty()
        .then(|| "Tick the numbers to update on the Numbers page first.".to_string());
    Ok(render(&BulkPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        numbers,
        form: typed(&AddressInput::default()),
        summary: None,
        error,
        refusal: Refusal::default(),
        saved_addresses: super::e911_book::list(&state, &caller.principal).await?,
        address_id: String::new(),
        as_typed: false,
        suggestions: None,
    }))
}

/// First press: the confirmation summary. Second press (`confirm=yes`): the update.
pub async fn bulk_submit(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let address_id = form.text("address_id").trim().to_string();
    let request = BulkRequest {
        numbers: picked(&form),
        address: address_input(&form),
        address_id: if address_id.is_empty() {
            None
        } else {
            Some(super::e911_api::address_id(&address_id)?)
        },
        as_typed: form.text("as_typed") == "on",
        confirm: form.text("confirm") == "yes",
    };
    let mut page = BulkPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        numbers: request.numbers.clone(),
        form: typed(&request.address),
        summary: None,
        error: None,
        refusal: Refusal::default(),
        saved_addresses: super::e911_book::list(&state, &caller.principal).await?,
        address_id,
        as_typed: request.as_typed,
        suggestions: None,
    };
    match super::e911::bulk(&state, &caller.principal, &request, request_id.as_deref()).await {
        Ok(summary) if summary.confirmed => {
            Ok(Redirect::to("/numbers?notice=e911_bulk").into_response())
        }
        Ok(summary) => {
            page.summary = Some(summary);
            Ok(render(&page))
        }
        Err(err @ (AppError::Invalid { .. } | AppError::NotFound(_))) => {
            let extra = request
                .numbers
                .iter()
                .map(|n| ("number".to_string(), n.clone()))
                .collect();
            page.suggestions = suggestions_of(&err, "/e911/bulk", extra);
            page.error = Some(err.public_message());
            page.refusal = Refusal::new(form.into_pairs(), &err).shown_on(&ADDRESS_FIELDS);
            Ok((err.status(), render(&page)).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(askama::Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    settings: TenantSettings,
    behaviors: [UnassignedBehavior; 3],
    approvers: [Approver; 3],
    can_edit: bool,
    error: Option<String>,
    refusal: crate::web::Refusal,
}

impl SettingsPage {
    fn cnam_default(&self) -> &str {
        self.settings.cnam_default.as_deref().unwrap_or("")
    }

    /// The box as saved, or as sent when the form was refused (an unticked box is not sent).
    fn require_e911(&self) -> bool {
        if self.refusal.sent() {
            self.refusal.typed("require_e911") == Some("on")
        } else {
            self.settings.require_e911
        }
    }

    fn main_number(&self) -> String {
        self.settings
            .main_number
            .as_deref()
            .map(crate::domain::e164::format_national)
            .unwrap_or_default()
    }
}

async fn settings_page(
    state: &AppState,
    caller: &PageCaller,
    notice: Option<&str>,
    error: Option<String>,
    refusal: crate::web::Refusal,
) -> Result<Response, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let settings =
        crate::tenants::settings::load(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(render(&SettingsPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        settings,
        behaviors: UnassignedBehavior::ALL,
        approvers: Approver::ALL,
        can_edit: caller.principal.is_tenant_admin(),
        error,
        refusal,
    }))
}

pub async fn settings(
    State(state): State<AppState>,
    caller: PageCaller,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> PageResult {
    Ok(settings_page(
        &state,
        &caller,
        q.notice.as_deref(),
        None,
        Default::default(),
    )
    .await?)
}

pub async fn save_settings(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let change = SettingsUpdate {
        cnam_default: Some(Some(form.text("cnam_default"))),
        require_e911: Some(form.text("require_e911") == "on"),
        unassigned_behavior: Some(form.text("unassigned_behavior")),
        main_number: Some(Some(form.text("main_number"))),
        premium_approver: Some(form.text("premium_approver")).filter(|a| !a.is_empty()),
    };
    match super::settings_change::update(&state, &caller.principal, &change, request_id.as_deref())
        .await
    {
        Ok(_) => Ok(Redirect::to("/settings?notice=settings_saved").into_response()),
        Err(err @ AppError::Invalid { .. }) => {
            let status = err.status();
            let refusal = crate::web::Refusal::new(form.into_pairs(), &err).shown_on(&[
                "cnam_default",
                "unassigned_behavior",
                "main_number",
                "premium_approver",
            ]);
            let page =
                settings_page(&state, &caller, None, Some(err.public_message()), refusal).await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(askama::Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    chrome: Chrome,
    report: super::Compliance,
    by_state: Vec<(String, i64)>,
}

impl CompliancePage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    /// The dashboard: E911 and CNAM coverage, and the tenant's numbers by state, each part
    /// linking to the list it counts.
    fn charts(&self) -> String {
        use crate::web::charts::{Bar, bars, parts};
        let c = &self.report.counts;
        let e911 = parts(
            "chart-e911",
            "E911 coverage",
            &[
                Bar::new("Registered", c.e911_registered, "/numbers").tone("tone-ok"),
                Bar::new("Pending", c.e911_pending, "#e911-unregistered").tone("tone-wait"),
                Bar::new("Not set", c.e911_not_set, "#e911-unregistered").tone("tone-none"),
                Bar::new("Failed", c.e911_failed, "#e911-unregistered").tone("tone-bad"),
            ],
        );
        let cnam = parts(
            "chart-cnam",
            "Caller ID names (CNAM)",
            &[
                Bar::new("Synced", c.cnam_synced, "/numbers").tone("tone-ok"),
                Bar::new("Pending", c.cnam_pending, "/numbers").tone("tone-wait"),
                Bar::new("Not set", c.cnam_not_set, "/numbers").tone("tone-none"),
                Bar::new("Failed", c.cnam_failed, "#cnam-failed").tone("tone-bad"),
            ],
        );
        let listed = crate::numbers::pages::LISTED_STATES;
        let states: Vec<Bar> = self
            .by_state
            .iter()
            .map(|(state, n)| {
                let href = if listed.contains(&state.as_str()) {
                    format!("/numbers?state={state}")
                } else {
                    "/numbers".to_string()
                };
                Bar::new(state.replace('_', " "), *n, href).tone(match state.as_str() {
                    "active" => "tone-ok",
                    "orphaned" => "tone-bad",
                    "pending" | "provisioning" | "reserved" | "porting_in" => "tone-wait",
                    _ => "tone-none",
                })
            })
            .collect();
        let by_state = bars("chart-states", "Your numbers by status", &states);
        format!(
            "<div class=\"charts\"><figure class=\"card\"><figcaption>E911 coverage</figcaption>{e911}</figure>\
             <figure class=\"card\"><figcaption>Caller ID names (CNAM)</figcaption>{cnam}</figure>\
             <figure class=\"card\"><figcaption>Your numbers by status</figcaption>{by_state}</figure></div>"
        )
    }
}

pub async fn compliance(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    let tenant_id = caller.principal.tenant()?;
    let report = super::compliance(&mut *state.pool.acquire().await?, tenant_id).await?;
    let by_state = crate::numbers::repo::count_by_state(&state.pool, tenant_id).await?;
    Ok(render(&CompliancePage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        report,
        by_state,
    }))
}

#[derive(askama::Template)]
#[template(path = "aging.html")]
struct AgingPage {
    chrome: Chrome,
    settings: super::aging::ResellerSettings,
    numbers: Vec<super::aging::AgingNumber>,
    error: Option<String>,
    refusal: Refusal,
    usual_days: i32,
}

impl AgingPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }
}

async fn aging_page(
    state: &AppState,
    caller: &PageCaller,
    notice: Option<&str>,
    error: Option<String>,
    refusal: Refusal,
) -> Result<Response, AppError> {
    let reseller_id = caller.principal.reseller_admin()?;
    let mut conn = state.pool.acquire().await?;
    let settings = super::aging::load(&mut conn, reseller_id).await?;
    let numbers = super::aging::aging_numbers(&mut conn, reseller_id).await?;
    Ok(render(&AgingPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        settings,
        numbers,
        error,
        refusal,
        usual_days: crate::domain::aging::USUAL_DAYS,
    }))
}

pub async fn aging(
    State(state): State<AppState>,
    caller: PageCaller,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> PageResult {
    Ok(aging_page(
        &state,
        &caller,
        q.notice.as_deref(),
        None,
        Refusal::default(),
    )
    .await?)
}

pub async fn save_aging(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let raw = form.text("aging_days");
    let outcome = match raw.trim().parse::<i64>() {
        Ok(days) => {
            super::aging::update(
                &state,
                &caller.principal,
                &super::aging::ResellerSettingsUpdate {
                    aging_days: days,
                    acknowledge_short_aging: form.text("acknowledge_short_aging") == "true",
                },
                request_id.as_deref(),
            )
            .await
        }
        Err(_) => Err(AppError::invalid_field(
            "aging_days",
            "the aging period is a number of days (0 turns it off)",
        )),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/aging?notice=aging_saved").into_response()),
        Err(err @ AppError::Invalid { .. }) => {
            let status = err.status();
            let message = Some(err.public_message());
            let page = aging_page(
                &state,
                &caller,
                None,
                message,
                Refusal::new(form.into_pairs(), &err).shown_on(&["aging_days"]),
            )
            .await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}
