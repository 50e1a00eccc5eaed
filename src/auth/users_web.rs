//! Users over the JSON API (`/api/v1/users`) and on the Users page (`/users`), for the admins
//! of an organization. Disabling and enabling are audited (`USER_DISABLE`, `USER_ENABLE`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::users::{self, UserRow};
use super::{ApiCaller, PageCaller, RequestId};
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::policy::Principal;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{PageResult, parse_id, render};

async fn change(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    disable: bool,
    request_id: Option<&str>,
) -> AppResult<UserRow> {
    let id = parse_id(raw, "user")?;
    let (user, ended) = users::set_disabled(&state.pool, caller, id, disable).await?;
    // Other instances hear of it from the database; this one forgets them now.
    for digest in ended.sessions {
        super::forget_session_digest(state, digest);
    }
    for digest in ended.tokens {
        super::forget_token_digest(state, digest);
    }
    let action = if disable {
        Action::UserDisable
    } else {
        Action::UserEnable
    };
    let entry = Entry::new(action, Outcome::Success)
        .by(caller.tenant().ok(), Some(caller.user_id), request_id)
        .org(caller.org_id)
        .details(json!({ "user_id": user.id, "email": user.email }));
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
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
    me: uuid::Uuid,
}

async fn page(state: &AppState, caller: &PageCaller, notice: Option<String>) -> PageResult {
    let mut chrome = Chrome::new(&caller.principal, &caller.csrf);
    chrome.notice = notice;
    Ok(render(&UsersPage {
        chrome,
        users: users::list(&state.pool, &caller.principal).await?,
        me: caller.principal.user_id,
    }))
}

pub async fn show(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    page(&state, &caller, None).await
}

pub async fn disable_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> PageResult {
    let user = change(&state, &caller.principal, &raw, true, request_id.as_deref()).await?;
    let notice = format!(
        "{} is disabled: signed out everywhere, API tokens ended.",
        user.email
    );
    page(&state, &caller, Some(notice)).await
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
    page(
        &state,
        &caller,
        Some(format!("{} can sign in again.", user.email)),
    )
    .await
}
