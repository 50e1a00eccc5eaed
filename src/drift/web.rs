//! The Drift page (`/drift`) and `/api/v1/drift`: the last run's differences with the
//! actions each offers, a "check now", and the actions one by one or in bulk. Tenant admins.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::{self, DriftAction};
use super::repo::{self, Run, StoredDrift};
use crate::auth::RequestId;
use crate::auth::{ApiCaller, PageCaller};
use crate::domain::E164;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageResult, render};

/// The most numbers one bulk action takes.
const MAX_BULK: usize = 1000;

#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    stored: StoredDrift,
    actions: Vec<DriftAction>,
}

async fn listed(state: &AppState, caller: &Principal) -> AppResult<(Option<Run>, Vec<Listed>)> {
    let tenant = caller.tenant_admin()?;
    let run = repo::last_run(&state.pool, tenant).await?;
    let drift = repo::list(&state.pool, tenant)
        .await?
        .into_iter()
        .map(|d| Listed {
            actions: actions::offered_for(&d),
            stored: d,
        })
        .collect();
    Ok((run, drift))
}

pub async fn api_list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let (run, differences) = listed(&state, &caller).await?;
    Ok(Json(json!({ "last_run": run, "differences": differences })))
}

pub async fn api_run(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant = caller.tenant_admin()?;
    let report = super::reconcile_tenant(&state, tenant).await?;
    let (run, differences) = listed(&state, &caller).await?;
    Ok(Json(json!({
        "compared": report.compared,
        "counts": report.counts,
        "orphaned": report.orphaned,
        "duration_ms": report.duration_ms,
        "last_run": run,
        "differences": differences,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    action: String,
    numbers: Vec<String>,
}

/// What became of one number of a bulk action.
#[derive(Serialize)]
struct Outcome {
    number: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

fn parse_request(action: &str, numbers: &[String]) -> AppResult<(DriftAction, Vec<E164>)> {
    let action: DriftAction = action
        .parse()
        .map_err(|e: String| AppError::invalid_field("action", e))?;
    if numbers.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "choose at least one number",
        ));
    }
    if numbers.len() > MAX_BULK {
        return Err(AppError::invalid_field(
            "numbers",
            format!("at most {MAX_BULK} numbers per action"),
        ));
    }
    let numbers = numbers
        .iter()
        .map(|n| {
            E164::parse(n).map_err(|e| AppError::invalid_field("numbers", format!("{n}: {e}")))
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((action, numbers))
}

async fn act_on_all(
    state: &AppState,
    caller: &Principal,
    action: DriftAction,
    numbers: &[E164],
    request_id: Option<&str>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for number in numbers {
        let outcome = match actions::act(state, caller, number, action, request_id).await {
            Ok(done) => Outcome {
                number: number.to_string(),
                ok: true,
                done: Some(done),
                error: None,
            },
            Err(err) => Outcome {
                number: number.to_string(),
                ok: false,
                done: None,
                error: Some(json!({ "code": err.code(), "message": err.public_message() })),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

pub async fn api_act(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    crate::web::ApiJson(body): crate::web::ApiJson<ActionRequest>,
) -> AppResult<Json<Value>> {
    caller.tenant_admin()?;
    let (action, numbers) = parse_request(&body.action, &body.numbers)?;
    let results = act_on_all(&state, &caller, action, &numbers, request_id.as_deref()).await;
    let resolved = results.iter().filter(|o| o.ok).count();
    Ok(Json(json!({ "resolved": resolved, "results": results })))
}

#[derive(askama::Template)]
#[template(path = "drift.html")]
struct DriftPage {
    chrome: Chrome,
    run: Option<Run>,
    differences: Vec<Listed>,
    error: Option<String>,
    failures: Vec<String>,
}

impl DriftPage {
    fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    fn count(&self, class: &str) -> i64 {
        self.run
            .as_ref()
            .and_then(|r| r.counts.get(class))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }
}

async fn page_for(state: &AppState, caller: &PageCaller) -> AppResult<DriftPage> {
    let (run, differences) = listed(state, &caller.principal).await?;
    Ok(DriftPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        run,
        differences,
        error: None,
        failures: Vec::new(),
    })
}

pub async fn page(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(&page_for(&state, &caller).await?))
}

pub async fn run_page(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    let tenant = caller.principal.tenant_admin()?;
    match super::reconcile_tenant(&state, tenant).await {
        Ok(report) => {
            let found: usize = report.counts.values().sum();
            let mut page = page_for(&state, &caller).await?;
            page.chrome.notice = Some(format!(
                "Checked {} numbers against the platform: {}.",
                report.compared,
                match found {
                    0 => "no differences".to_string(),
                    1 => "1 difference".to_string(),
                    n => format!("{n} differences"),
                }
            ));
            Ok(render(&page))
        }
        Err(err) => {
            let status = err.status();
            let mut page = page_for(&state, &caller).await?;
            page.error = Some(format!(
                "The platform could not be read: {}",
                err.public_message()
            ));
            Ok((status, render(&page)).into_response())
        }
    }
}

/// One row's button (`one` = "action number") or a bulk button (`action`) over the ticked
/// `number` boxes.
pub async fn act_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    caller.principal.tenant_admin()?;
    let form = Form::parse(&body);
    let (action, numbers) = match form.get("one").and_then(|one| one.split_once(' ')) {
        Some((action, number)) => (action.to_string(), vec![number.to_string()]),
        None => (
            form.get("action").unwrap_or_default().to_string(),
            form.all("number"),
        ),
    };
    let parsed = parse_request(&action, &numbers);
    let (action, numbers) = match parsed {
        Ok(p) => p,
        Err(err) => {
            let status = err.status();
            let mut page = page_for(&state, &caller).await?;
            page.error = Some(err.public_message());
            return Ok((status, render(&page)).into_response());
        }
    };
    let outcomes = act_on_all(
        &state,
        &caller.principal,
        action,
        &numbers,
        request_id.as_deref(),
    )
    .await;
    let resolved = outcomes.iter().filter(|o| o.ok).count();
    let mut page = page_for(&state, &caller).await?;
    page.failures = outcomes
        .iter()
        .filter_map(|o| {
            let message = o.error.as_ref()?["message"].as_str()?.to_string();
            Some(format!(
                "{}: {message}",
                crate::domain::e164::format_national(&o.number)
            ))
        })
        .collect();
    if resolved > 0 {
        page.chrome.notice = Some(match resolved {
            1 => format!("{}: 1 number resolved.", action.label()),
            n => format!("{}: {n} numbers resolved.", action.label()),
        });
    }
    Ok(render(&page))
}
