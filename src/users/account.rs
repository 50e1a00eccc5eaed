//! A user's own account: change the password (the other sessions end) and sign out
//! everywhere else, on the Account page (`/account`) and over the API (`/api/v1/me`).
//! Audited as `PASSWORD_CHANGE` and `SESSIONS_END`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::password::token_digest;
use crate::auth::{ApiCaller, PageCaller, RequestId, users};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{ApiJson, Form, PageResult, Refusal, render};

/// Forgets the ended sessions here at once (other instances hear from the database) and
/// records the event.
async fn ended(
    state: &AppState,
    caller: &Principal,
    action: Action,
    request_id: Option<&str>,
    digests: Vec<Vec<u8>>,
) -> AppResult<usize> {
    let count = digests.len();
    for digest in digests {
        crate::auth::session::forget_session_digest(state, digest);
    }
    let entry = Entry::new(action, Outcome::Success)
        .by(caller.tenant().ok(), Some(caller.user_id), request_id)
        .org(caller.org_id)
        .details(json!({ "user_id": caller.user_id, "sessions_ended": count }));
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    Ok(count)
}

/// The digest of the session a page request is made from, kept when the others end.
fn this_session(state: &AppState, headers: &HeaderMap) -> Option<Vec<u8>> {
    crate::auth::session::session_token(state, headers).map(|token| token_digest(&token))
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn api_me(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    Ok(Json(json!({
        "id": caller.user_id, "email": caller.email, "role": caller.role.as_str(),
        "organization": { "id": caller.org_id, "name": caller.org_name },
        "sessions": users::open_sessions(&state.pool, caller.user_id).await?,
    })))
}

/// Over the API no browser session is current, so every session ends.
pub async fn api_change_password(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(change): ApiJson<PasswordChange>,
) -> AppResult<Json<Value>> {
    let digests = users::change_password(
        &state.pool,
        &caller,
        &change.current_password,
        &change.new_password,
        None,
    )
    .await?;
    let count = ended(
        &state,
        &caller,
        Action::PasswordChange,
        request_id.as_deref(),
        digests,
    )
    .await?;
    Ok(Json(json!({ "changed": true, "sessions_ended": count })))
}

pub async fn api_end_sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
) -> AppResult<Json<Value>> {
    let keep = this_session(&state, &headers);
    let digests = users::end_other_sessions(&state.pool, &caller, keep.as_deref()).await?;
    let count = ended(
        &state,
        &caller,
        Action::SessionsEnd,
        request_id.as_deref(),
        digests,
    )
    .await?;
    Ok(Json(json!({ "sessions_ended": count })))
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    sessions: i64,
    error: Option<String>,
    /// Why the password form was refused, beside its fields (passwords are never sent back).
    refusal: Refusal,
}

async fn page(state: &AppState, caller: &PageCaller) -> AppResult<AccountPage> {
    Ok(AccountPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        sessions: users::open_sessions(&state.pool, caller.principal.user_id).await?,
        error: None,
        refusal: Refusal::default(),
    })
}

pub async fn show(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    Ok(render(&page(&state, &caller).await?))
}

pub async fn change_password_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let current = form.raw("current_password").unwrap_or_default();
    let new = form.raw("new_password").unwrap_or_default();
    let changed = if form.raw("confirm_password") != Some(new) {
        Err(AppError::invalid_field(
            "confirm_password",
            "the two new passwords differ",
        ))
    } else {
        let keep = this_session(&state, &headers);
        users::change_password(
            &state.pool,
            &caller.principal,
            current,
            new,
            keep.as_deref(),
        )
        .await
    };
    match changed {
        Ok(digests) => {
            let count = ended(
                &state,
                &caller.principal,
                Action::PasswordChange,
                request_id.as_deref(),
                digests,
            )
            .await?;
            let mut p = page(&state, &caller).await?;
            p.chrome.notice = Some(format!(
                "Your password is changed. Sessions ended elsewhere: {count}. Your API tokens still work: revoke any you do not recognise on the API tokens page."
            ));
            Ok(render(&p))
        }
        Err(err @ AppError::Invalid { .. }) => {
            let mut p = page(&state, &caller).await?;
            p.error = Some(err.public_message());
            p.refusal = Refusal::new(Vec::new(), &err).shown_on(&[
                "current_password",
                "new_password",
                "confirm_password",
            ]);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn sign_out_others_page(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
) -> PageResult {
    let keep = this_session(&state, &headers);
    let digests =
        users::end_other_sessions(&state.pool, &caller.principal, keep.as_deref()).await?;
    let count = ended(
        &state,
        &caller.principal,
        Action::SessionsEnd,
        request_id.as_deref(),
        digests,
    )
    .await?;
    let mut p = page(&state, &caller).await?;
    p.chrome.notice = Some(format!("Signed out everywhere else ({count} sessions)."));
    Ok(render(&p))
}
