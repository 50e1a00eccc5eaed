//! The Company sign-in page, `/identity-providers`: the operator sets up, changes and removes
//! identity providers; an organization's admins see theirs and make one required or not.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};

use super::Input;
use super::repo::Provider;
use crate::auth::{PageCaller, RequestId};
use crate::domain::policy::Role;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenants::Organization;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageResult, Refusal, render};

#[derive(askama::Template)]
#[template(path = "identity_providers.html")]
struct Page {
    chrome: Chrome,
    providers: Vec<Provider>,
    /// The organizations a new provider may be for (the operator's page only).
    organizations: Vec<Organization>,
    is_operator: bool,
    /// Where the sign-in comes back to, to register with the provider.
    callback: String,
    error: Option<String>,
    refusal: Refusal,
}

impl Page {
    fn role_map_text(provider: &Provider) -> String {
        role_map_lines(&provider.role_map)
    }
}

/// `{"admins": "tenant_admin"}` as the form shows it: one `admins = tenant_admin` a line.
fn role_map_lines(map: &Value) -> String {
    map.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form's `value = role` lines as the API's object; a line without `=` is refused.
fn role_map_of(text: &str) -> AppResult<Value> {
    let mut map = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((value, role)) = line.rsplit_once('=') else {
            return Err(AppError::invalid_field(
                "role_map",
                format!("“{line}” is not a “claim value = role” line"),
            ));
        };
        map.insert(value.trim().to_string(), Value::String(role.trim().into()));
    }
    Ok(Value::Object(map))
}

async fn page(state: &AppState, caller: &PageCaller) -> AppResult<Page> {
    let is_operator = caller.principal.role == Role::Operator;
    let organizations = if is_operator {
        super::organizations(state, &caller.principal).await?
    } else {
        Vec::new()
    };
    let callback = match state.config.sso.public_url.trim_end_matches('/') {
        "" => "/login/sso/callback (after the address users reach Inward at)".to_string(),
        base => format!("{base}/login/sso/callback"),
    };
    Ok(Page {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        providers: super::list(state, &caller.principal).await?,
        organizations,
        is_operator,
        callback,
        error: None,
        refusal: Refusal::default(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let mut page = page(&state, &caller).await?;
    page.chrome = page.chrome.with_notice(q.notice.as_deref());
    Ok(render(&page))
}

/// The form's fields as the API's body: a field the form did not send stays None.
fn input_of(form: &Form) -> AppResult<Input> {
    let text = |k: &str| form.get(k).map(str::to_string);
    Ok(Input {
        organization: text("organization"),
        name: text("name"),
        issuer: text("issuer"),
        client_id: text("client_id"),
        client_secret: text("client_secret"),
        domains: text("domains").map(|d| vec![d]),
        role_claim: text("role_claim"),
        role_map: form.get("role_map").map(role_map_of).transpose()?,
        required: form.get("required").map(|r| r == "true"),
    })
}

/// The page again with the refusal, or the error page for anything else.
async fn refused(state: &AppState, caller: &PageCaller, form: &Form, err: AppError) -> PageResult {
    if !matches!(
        err,
        AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::Forbidden(_)
    ) {
        return Err(err.into());
    }
    let status = err.status();
    let mut page = page(state, caller).await?;
    page.error = Some(err.public_message());
    page.refusal = Refusal::new(form.pairs().to_vec(), &err).shown_on(&[
        "organization",
        "name",
        "issuer",
        "client_id",
        "client_secret",
        "domains",
        "role_claim",
        "role_map",
    ]);
    Ok((status, render(&page)).into_response())
}

fn saved(code: &str) -> PageResult {
    Ok(Redirect::to(&format!("/identity-providers?notice={code}")).into_response())
}

/// The page after a change: back to the list with `notice`, or the refusal shown on it.
async fn answered(
    state: &AppState,
    caller: &PageCaller,
    form: &Form,
    outcome: AppResult<Provider>,
    notice: &str,
) -> PageResult {
    match outcome {
        Ok(_) => saved(notice),
        Err(err) => refused(state, caller, form, err).await,
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let outcome = match input_of(&form) {
        Ok(input) => super::create(&state, &caller.principal, &input, request_id.as_deref()).await,
        Err(e) => Err(e),
    };
    answered(&state, &caller, &form, outcome, "provider_saved").await
}

pub async fn update(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let principal = &caller.principal;
    let outcome = match input_of(&form) {
        Ok(input) => super::update(&state, principal, &id, &input, request_id.as_deref()).await,
        Err(e) => Err(e),
    };
    answered(&state, &caller, &form, outcome, "provider_saved").await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let outcome = super::delete(&state, &caller.principal, &id, request_id.as_deref()).await;
    answered(&state, &caller, &form, outcome, "provider_removed").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_map_lines_read_and_write_the_same_map() {
        let map = role_map_of("admins = tenant_admin\n\n  agents=tenant_user ").unwrap();
        assert_eq!(
            map,
            serde_json::json!({"admins": "tenant_admin", "agents": "tenant_user"})
        );
        assert_eq!(
            role_map_lines(&map),
            "admins = tenant_admin\nagents = tenant_user"
        );
        assert!(role_map_of("admins tenant_admin").is_err());
    }
}
