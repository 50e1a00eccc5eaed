//! API tokens over the JSON API (`/api/v1/tokens`) and on the Tokens page (`/tokens`). Making
//! and revoking one is audited (`TOKEN_CREATE`, `TOKEN_REVOKE`) under the caller's organization.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::tokens::{self, NewToken, TokenRow};
use crate::auth::{ApiCaller, PageCaller, RequestId};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{ApiJson, Form, PageResult, Refusal, parse_id, render};

async fn record(
    state: &AppState,
    caller: &Principal,
    action: Action,
    request_id: Option<&str>,
    details: Value,
) -> AppResult<()> {
    let entry = Entry::new(action, Outcome::Success)
        .by(caller.tenant().ok(), Some(caller.user_id), request_id)
        .org(caller.org_id)
        .details(details);
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    Ok(())
}

async fn make(
    state: &AppState,
    caller: &Principal,
    new: &NewToken,
    request_id: Option<&str>,
) -> AppResult<(uuid::Uuid, String)> {
    let (id, token) = tokens::create(&state.pool, caller.user_id, new).await?;
    record(
        state,
        caller,
        Action::TokenCreate,
        request_id,
        json!({ "token_id": id, "name": new.name, "expires_at": new.expires_at, "scope": new.scope.map(|r| r.as_str()) }),
    )
    .await?;
    Ok((id, token))
}

async fn revoke(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    request_id: Option<&str>,
) -> AppResult<TokenRow> {
    let id = parse_id(raw, "API token")?;
    let tokens::Revoked {
        token: revoked,
        token_hash,
    } = tokens::revoke(&state.pool, caller, id).await?;
    // Other instances hear of it from the database; this one forgets it now.
    crate::auth::session::forget_token_digest(state, token_hash);
    record(
        state,
        caller,
        Action::TokenRevoke,
        request_id,
        json!({ "token_id": id, "name": revoked.name, "user": revoked.user_email }),
    )
    .await?;
    Ok(revoked)
}

pub async fn api_list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let list = tokens::list(&state.pool, &caller).await?;
    Ok(Json(json!({ "tokens": list })))
}

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    #[serde(default)]
    pub name: String,
    pub expires_in_days: Option<i64>,
    /// The role the token acts with; left out, the caller's.
    pub scope: Option<String>,
}

pub async fn api_create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<Response> {
    let new = NewToken::parse(&body.name, body.expires_in_days)?
        .scoped(caller.role, body.scope.as_deref())?;
    let (id, token) = make(&state, &caller, &new, request_id.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": id, "name": new.name, "expires_at": new.expires_at, "scope": new.scope.map(|r| r.as_str()), "token": token }),
        ),
    )
        .into_response())
}

pub async fn api_revoke(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<StatusCode> {
    revoke(&state, &caller, &raw, request_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(askama::Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    /// A token just made, shown this once.
    made: Option<(String, String)>,
    error: Option<String>,
    /// The form as sent when it was refused, and why.
    refusal: Refusal,
    /// A tenant admin may make a token that acts as a tenant user.
    can_scope_down: bool,
}

async fn page(state: &AppState, caller: &PageCaller) -> AppResult<TokensPage> {
    Ok(TokensPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        tokens: tokens::list(&state.pool, &caller.principal).await?,
        made: None,
        error: None,
        refusal: Refusal::default(),
        can_scope_down: caller.principal.role == crate::domain::policy::Role::TenantAdmin,
    })
}

pub async fn show(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(&page(&state, &caller).await?))
}

pub async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let days = match form.get("expires_in_days") {
        None => Ok(None),
        Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
            AppError::invalid_field("expires_in_days", "the lifetime is a number of days")
        }),
    };
    let made = match days
        .and_then(|d| NewToken::parse(form.get("name").unwrap_or(""), d))
        .and_then(|new| new.scoped(caller.principal.role, form.get("scope")))
    {
        Ok(new) => make(&state, &caller.principal, &new, request_id.as_deref())
            .await
            .map(|(_, token)| (new.name, token)),
        Err(err) => Err(err),
    };
    let mut p = page(&state, &caller).await?;
    match made {
        Ok(made) => {
            // Listed after it was made, so it is in the list.
            p.made = Some(made);
            Ok((StatusCode::CREATED, render(&p)).into_response())
        }
        Err(err @ AppError::Invalid { .. }) => {
            p.error = Some(err.public_message());
            p.refusal = Refusal::new(form.pairs().to_vec(), &err).shown_on(&[
                "name",
                "expires_in_days",
                "scope",
            ]);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn revoke_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let revoked = revoke(&state, &caller.principal, &raw, request_id.as_deref()).await?;
    let mut p = page(&state, &caller).await?;
    p.chrome.notice = Some(format!("Token “{}” revoked.", revoked.name));
    Ok(render(&p))
}
