//! A tenant proves it holds an external number it uploaded: Inward sends a code to the number
//! through the tenant's carrier (SMS or a voice call), the tenant types it back, and the
//! number is marked verified in the inventory. Owns `ownership_checks`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::{ApiCaller, PageCaller, RequestId};
use crate::domain::E164;
use crate::domain::ownership::{self, Channel, Pending, Refusal};
use crate::domain::policy::{Principal, Role};
use crate::error::{AppError, AppResult};
use crate::providers::CarrierFeature;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{Form, PageResult, render};

/// The tenant whose own inventory holds `number`, and when it was verified; only its admins
/// may check it.
async fn own_number(
    state: &AppState,
    caller: &Principal,
    number: &E164,
) -> AppResult<(Uuid, Option<DateTime<Utc>>)> {
    if caller.role != Role::TenantAdmin {
        return Err(AppError::Forbidden(
            "a tenant's admins verify the external numbers it uploaded".into(),
        ));
    }
    let row: Option<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT inventory_org_id, ownership_verified_at FROM numbers WHERE e164 = $1",
    )
    .bind(number.as_str())
    .fetch_optional(&state.pool)
    .await?;
    match row {
        Some((org, verified)) if org == caller.org_id => Ok((org, verified)),
        _ => Err(AppError::NotFound(format!(
            "{number} among your tenant's own numbers"
        ))),
    }
}

/// Sends a new code to the number; any earlier code stops counting.
pub async fn start(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    channel: Channel,
    request_id: Option<&str>,
) -> AppResult<DateTime<Utc>> {
    let (org, _) = own_number(state, caller, number).await?;
    let carrier = state
        .provider_for(caller.tenant()?)
        .await?
        .carrier(CarrierFeature::Ownership)?;
    let code = ownership::code_from(rand::random::<u64>());
    let now = Utc::now();
    let expires_at = ownership::expiry(now);
    carrier
        .send_to_number(number, channel, &channel.message(&code))
        .await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "INSERT INTO ownership_checks (e164, org_id, channel, code_hash, tries, expires_at)
         VALUES ($1, $2, $3, $4, 0, $5)
         ON CONFLICT (e164) DO UPDATE SET channel = $3, code_hash = $4, tries = 0, expires_at = $5,
                                          created_at = now()",
    )
    .bind(number.as_str())
    .bind(org)
    .bind(channel.as_str())
    .bind(ownership::code_hash(number.as_str(), &code))
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(Action::UpdateCapabilities, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .number(number.as_str())
        .details(json!({ "ownership": "code_sent", "channel": channel.as_str() }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(expires_at)
}

/// Checks the typed code; right, the number is verified.
pub async fn confirm(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    typed: &str,
    request_id: Option<&str>,
) -> AppResult<DateTime<Utc>> {
    own_number(state, caller, number).await?;
    let mut tx = state.pool.begin().await?;
    let pending: Option<(Vec<u8>, i32, DateTime<Utc>)> = sqlx::query_as(
        "SELECT code_hash, tries, expires_at FROM ownership_checks WHERE e164 = $1 FOR UPDATE",
    )
    .bind(number.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((hash, tries, expires_at)) = pending else {
        return Err(AppError::invalid(
            "no_code_sent",
            "no code is waiting for this number: send one first",
        ));
    };
    let pending = Pending {
        hash: &hash,
        tries,
        expires_at,
    };
    let judged = ownership::judge(number.as_str(), typed, &pending, Utc::now());
    let refusal = match judged {
        Ok(()) => None,
        Err(Refusal::Wrong { .. }) => {
            sqlx::query("UPDATE ownership_checks SET tries = tries + 1 WHERE e164 = $1")
                .bind(number.as_str())
                .execute(&mut *tx)
                .await?;
            judged.err()
        }
        Err(other) => Some(other),
    };
    if let Some(refusal) = refusal {
        tx.commit().await?;
        let code = match refusal {
            Refusal::Expired => "code_expired",
            Refusal::TooManyTries => "too_many_tries",
            Refusal::Wrong { .. } => "wrong_code",
        };
        return Err(AppError::Invalid {
            code,
            message: refusal.to_string(),
            details: json!({ "field": "code" }),
        });
    }
    let verified_at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE numbers SET ownership_verified_at = now() WHERE e164 = $1 RETURNING ownership_verified_at",
    )
    .bind(number.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM ownership_checks WHERE e164 = $1")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    let entry = Entry::new(Action::UpdateCapabilities, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .number(number.as_str())
        .details(json!({ "ownership": "verified" }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(verified_at)
}

#[derive(Debug, Deserialize)]
pub struct StartBody {
    pub channel: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConfirmBody {
    pub code: String,
}

fn channel_of(raw: Option<&str>) -> AppResult<Channel> {
    Channel::parse(raw.unwrap_or("")).ok_or_else(|| {
        AppError::invalid_field("channel", "send the code by sms or by a voice call (voice)")
    })
}

/// `POST /api/v1/inventory/{e164}/ownership`: sends a code.
pub async fn api_start(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    crate::web::ApiJson(body): crate::web::ApiJson<StartBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let number = crate::numbers::parse_path_number(&raw)?;
    let channel = channel_of(body.channel.as_deref())?;
    let expires_at = start(&state, &caller, &number, channel, request_id.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "number": number, "channel": channel.as_str(), "expires_at": expires_at })),
    ))
}

/// `POST /api/v1/inventory/{e164}/ownership/confirm`: the code typed back.
pub async fn api_confirm(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    crate::web::ApiJson(body): crate::web::ApiJson<ConfirmBody>,
) -> AppResult<Json<Value>> {
    let number = crate::numbers::parse_path_number(&raw)?;
    let verified_at = confirm(&state, &caller, &number, &body.code, request_id.as_deref()).await?;
    Ok(Json(
        json!({ "number": number, "verified_at": verified_at }),
    ))
}

#[derive(askama::Template)]
#[template(path = "ownership.html")]
struct Page {
    chrome: Chrome,
    number: String,
    national: String,
    verified_at: Option<DateTime<Utc>>,
    /// What the sandbox carrier sent (it has no phones to reach).
    sandbox_message: Option<String>,
    sent: bool,
    error: Option<String>,
}

async fn page_of(
    state: &AppState,
    caller: &PageCaller,
    number: &E164,
    sent: bool,
    error: Option<String>,
) -> AppResult<Page> {
    let (_, verified_at) = own_number(state, &caller.principal, number).await?;
    let sandbox_message = match state
        .provider_for(caller.principal.tenant()?)
        .await?
        .carrier(CarrierFeature::Ownership)
    {
        Ok(carrier) if sent || error.is_some() => carrier.shown_message(number).await?,
        _ => None,
    };
    Ok(Page {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        number: number.as_str().to_string(),
        national: crate::domain::e164::format_national(number.as_str()),
        verified_at,
        sandbox_message,
        sent,
        error,
    })
}

/// The page: send a code, type it back.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(raw): Path<String>,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    Ok(render(
        &page_of(&state, &caller, &number, false, None).await?,
    ))
}

/// The page's "Send the code".
pub async fn page_start(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    let form = Form::parse(&body);
    let outcome = match channel_of(form.get("channel")) {
        Ok(channel) => start(
            &state,
            &caller.principal,
            &number,
            channel,
            request_id.as_deref(),
        )
        .await
        .map(|_| ()),
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => Ok(render(
            &page_of(&state, &caller, &number, true, None).await?,
        )),
        Err(err @ (AppError::Invalid { .. } | AppError::Provider(_))) => {
            let status = err.status();
            let page = page_of(&state, &caller, &number, false, Some(err.public_message())).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The page's "Verify": the code typed back.
pub async fn page_confirm(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let number = crate::numbers::parse_path_number(&raw)?;
    let form = Form::parse(&body);
    let typed = form.get("code").unwrap_or("");
    match confirm(
        &state,
        &caller.principal,
        &number,
        typed,
        request_id.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(
            Redirect::to(&format!("/inventory/numbers/{}/ownership", number.as_str()))
                .into_response(),
        ),
        Err(err @ AppError::Invalid { .. }) => {
            let status = err.status();
            let page = page_of(&state, &caller, &number, true, Some(err.public_message())).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
