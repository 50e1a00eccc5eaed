use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};

use super::api::{admin_tenant, run_test, save};
use super::{ConnectionRequest, GENESYS_REGIONS, repo, switch};
use crate::auth::{PageCaller, RequestId};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageResult, Refusal, render};

/// The form's fields, each of which can show why it was refused.
const FIELDS: [&str; 11] = [
    "kind",
    "region",
    "base_url",
    "cred_client_id",
    "cred_client_secret",
    "cred_access_key_id",
    "cred_access_key_secret",
    "cred_default_script",
    "cred_default_skill_id",
    "cred_jwt",
    "cred_account_id",
];

/// The form's fields never sent back to the browser.
const SECRETS: [&str; 3] = ["cred_client_secret", "cred_access_key_secret", "cred_jwt"];

#[derive(askama::Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    chrome: Chrome,
    connection: Option<repo::ConnectionRow>,
    regions: &'static [&'static str],
    error: Option<String>,
    test: Option<super::api::TestOutcome>,
    /// The tenant's routed numbers, which a switch of platform affects.
    routed: usize,
    /// Just switched, leaving this many numbers routed on the previous platform.
    switched: Option<usize>,
    reapplied: Option<super::switch::ReapplyReport>,
    /// The form as sent when it was refused, and why (secrets are never sent back).
    refusal: Refusal,
}

impl ConnectionPage {
    fn kind_is(&self, kind: &str) -> bool {
        let saved = self
            .connection
            .as_ref()
            .map(|c| c.kind.as_str())
            .unwrap_or("sandbox");
        self.refusal.typed_or("kind", saved) == kind
    }

    fn region_is(&self, region: &str) -> bool {
        let saved = self.connection.as_ref().and_then(|c| c.region.as_deref());
        self.refusal.typed_or("region", saved.unwrap_or("")) == region
    }

    fn base_url(&self) -> &str {
        let saved = self.connection.as_ref().and_then(|c| c.base_url.as_deref());
        self.refusal.typed_or("base_url", saved.unwrap_or(""))
    }
}

async fn page(state: &AppState, caller: &PageCaller) -> Result<ConnectionPage, AppError> {
    let tenant_id = admin_tenant(&caller.principal)?;
    let connection = repo::for_tenant(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(ConnectionPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        connection,
        regions: &GENESYS_REGIONS,
        error: None,
        test: None,
        routed: switch::routed_count(state, tenant_id).await?,
        switched: None,
        reapplied: None,
        refusal: Refusal::default(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    RawQuery(query): RawQuery,
) -> PageResult {
    let mut p = page(&state, &caller).await?;
    p.switched = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "switched")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|n| *n > 0);
    Ok(render(&p))
}

pub async fn update(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let get = |name: &str| form.raw(name).map(str::to_string);
    let mut credentials = Map::new();
    for (k, v) in form.pairs() {
        if let Some(name) = k.strip_prefix("cred_") {
            credentials.insert(name.to_string(), Value::String(v.clone()));
        }
    }
    let request = ConnectionRequest {
        kind: get("kind").unwrap_or_default(),
        region: get("region"),
        base_url: get("base_url"),
        credentials,
        confirm_switch: get("confirm_switch").is_some_and(|v| v == "on" || v == "true"),
    };
    match save(&state, &caller.principal, &request, request_id.as_deref()).await {
        Ok(saved) if saved.affected_numbers > 0 => Ok(Redirect::to(&format!(
            "/settings/connection?switched={}",
            saved.affected_numbers
        ))
        .into_response()),
        Ok(_) => Ok(Redirect::to("/settings/connection").into_response()),
        Err(err @ (AppError::Conflict { .. } | AppError::Invalid { .. })) => {
            let mut p = page(&state, &caller).await?;
            p.error = Some(err.public_message());
            // What was typed comes back, except the secrets.
            let typed = form
                .into_pairs()
                .into_iter()
                .filter(|(k, _)| !SECRETS.contains(&k.as_str()))
                .collect();
            p.refusal = Refusal::new(typed, &err)
                .renamed("credentials.", "cred_")
                .shown_on(&FIELDS);
            Ok((err.status(), render(&p)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn test(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    let mut p = page(&state, &caller).await?;
    let Some(connection) = &p.connection else {
        p.error = Some("save a connection first".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response());
    };
    let outcome = run_test(&state, &caller.principal, connection.id).await?;
    let mut p = page(&state, &caller).await?;
    p.test = Some(outcome);
    Ok(render(&p))
}

pub async fn reapply(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
) -> PageResult {
    let report = switch::reapply(&state, &caller.principal, request_id.as_deref()).await?;
    let mut p = page(&state, &caller).await?;
    p.reapplied = Some(report);
    Ok(render(&p))
}
