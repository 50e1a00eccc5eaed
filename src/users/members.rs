//! Users over the JSON API (`/api/v1/users`) and on the Users page (`/users`), for the admins
//! of an organization: list, create, change role, disable and enable, each audited
//! (`USER_CREATE`, `USER_ROLE`, `USER_DISABLE`, `USER_ENABLE`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::users::{self, NewUser, UserRow};
use crate::auth::{ApiCaller, PageCaller, RequestId};
use crate::caches::Topic;
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

async fn change(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    disable: bool,
    request_id: Option<&str>,
) -> AppResult<UserRow> {
    let id = crate::domain::UserId(parse_id(raw, "user")?);
    let (user, ended) = users::set_disabled(&state.pool, caller, id, disable).await?;
    // Other instances hear of it from the database; this one forgets them now.
    for digest in ended.sessions {
        crate::auth::session::forget_session_digest(state, digest);
    }
    for digest in ended.tokens {
        crate::auth::session::forget_token_digest(state, digest);
    }
    let action = if disable {
        Action::UserDisable
    } else {
        Action::UserEnable
    };
    let details = json!({ "user_id": user.id, "email": user.email });
    record(state, caller, action, request_id, details).await?;
    Ok(user)
}

async fn create(
    state: &AppState,
    caller: &Principal,
    new: &NewUser,
    request_id: Option<&str>,
) -> AppResult<UserRow> {
    let user = users::create(&state.pool, caller, new).await?;
    let details = json!({ "user_id": user.id, "email": user.email, "role": user.role });
    record(state, caller, Action::UserCreate, request_id, details).await?;
    Ok(user)
}

async fn set_role(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    role: &str,
    request_id: Option<&str>,
) -> AppResult<UserRow> {
    let id = crate::domain::UserId(parse_id(raw, "user")?);
    let (user, before) = users::set_role(&state.pool, caller, id, role).await?;
    // The user's cached sessions and tokens carry the old role: retired here now, and on
    // the other instances by the trigger on `users`.
    state.invalidation.retire_here(Topic::Callers);
    let details =
        json!({ "user_id": user.id, "email": user.email, "from": before, "to": user.role });
    record(state, caller, Action::UserRole, request_id, details).await?;
    Ok(user)
}

pub async fn api_list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    Ok(Json(
        json!({ "users": users::list(&state.pool, &caller).await? }),
    ))
}

pub async fn api_create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(new): ApiJson<NewUser>,
) -> AppResult<Response> {
    let user = create(&state, &caller, &new, request_id.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!(user))).into_response())
}

#[derive(Deserialize)]
pub struct RoleChange {
    role: String,
}

pub async fn api_set_role(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    ApiJson(change): ApiJson<RoleChange>,
) -> AppResult<Json<UserRow>> {
    let user = set_role(&state, &caller, &raw, &change.role, request_id.as_deref()).await?;
    Ok(Json(user))
}

pub async fn api_disable(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let user = change(&state, &caller, &raw, true, request_id.as_deref()).await?;
    Ok((StatusCode::OK, Json(json!(user))).into_response())
}

pub async fn api_enable(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let user = change(&state, &caller, &raw, false, request_id.as_deref()).await?;
    Ok((StatusCode::OK, Json(json!(user))).into_response())
}

#[derive(askama::Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    me: crate::domain::UserId,
    roles: Vec<&'static str>,
    error: Option<String>,
    /// The add form as sent when it was refused, and why.
    refusal: Refusal,
}

impl UsersPage {
    /// The role the add form proposes: the one chosen before a refusal, else the least.
    fn draft_role(&self) -> &str {
        let least = self.roles.last().copied().unwrap_or_default();
        self.refusal.typed_or("role", least)
    }
}

async fn page(state: &AppState, caller: &PageCaller) -> AppResult<UsersPage> {
    let roles: Vec<&'static str> = users::roles_for(caller.principal.org_kind)
        .iter()
        .map(|r| r.as_str())
        .collect();
    Ok(UsersPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        users: users::list(&state.pool, &caller.principal).await?,
        me: caller.principal.user_id,
        roles,
        error: None,
        refusal: Refusal::default(),
    })
}

fn with_notice(mut p: UsersPage, notice: String) -> PageResult {
    p.chrome.notice = Some(notice);
    Ok(render(&p))
}

pub async fn show(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(&page(&state, &caller).await?))
}

pub async fn create_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let new = NewUser {
        email: form.get("email").unwrap_or_default().to_string(),
        role: form.get("role").unwrap_or_default().to_string(),
        password: form.raw("password").unwrap_or_default().to_string(),
    };
    match create(&state, &caller.principal, &new, request_id.as_deref()).await {
        Ok(user) => with_notice(
            page(&state, &caller).await?,
            format!(
                "{} is added as {}. Pass on the first password; they can change it on their Account page.",
                user.email,
                user.role.replace('_', " ")
            ),
        ),
        Err(err @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let mut p = page(&state, &caller).await?;
            p.error = Some(err.public_message());
            p.refusal = Refusal::new(form.pairs().to_vec(), &err)
                .shown_on(&["email", "role", "password"])
                .without(&["password"]);
            let status = if matches!(err, AppError::Conflict { .. }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, render(&p)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn role_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let role = form.get("role").unwrap_or_default();
    let user = set_role(&state, &caller.principal, &raw, role, request_id.as_deref()).await?;
    with_notice(
        page(&state, &caller).await?,
        format!("{} is now {}.", user.email, user.role.replace('_', " ")),
    )
}

pub async fn disable_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let user = change(&state, &caller.principal, &raw, true, request_id.as_deref()).await?;
    with_notice(
        page(&state, &caller).await?,
        format!(
            "{} is disabled: signed out everywhere, API tokens ended.",
            user.email
        ),
    )
}

pub async fn enable_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let user = change(
        &state,
        &caller.principal,
        &raw,
        false,
        request_id.as_deref(),
    )
    .await?;
    with_notice(
        page(&state, &caller).await?,
        format!("{} can sign in again.", user.email),
    )
}
