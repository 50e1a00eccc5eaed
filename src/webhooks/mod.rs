//! Webhooks: a tenant's or reseller's admins register HTTPS endpoints, choose events, and
//! Inward POSTs each event to them, signed (`Inward-Signature`), at least once, in order per
//! number. The events are written by the database in the transaction of the change they
//! describe (migration 0036); `dispatch` delivers them. The API is `/api/v1/webhooks`, the
//! page `/webhooks`; both call the functions here, which check who may do what and audit
//! every change (`WEBHOOK`).

pub mod api;
pub mod dispatch;
pub mod pages;
pub mod repo;
pub mod routes;
pub mod sealing;

use rand::RngCore;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::WebhookId;
use crate::domain::policy::Principal;
use crate::domain::webhook::parse_events;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use repo::{Change, Endpoint, NewEndpoint};

/// Endpoints an organization may have.
pub const MAX_ENDPOINTS: usize = 20;

/// A new secret: `whsec_` and 32 random bytes in hex. Receivers key the HMAC with the whole
/// string.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", crate::hex::encode(&bytes))
}

/// What an endpoint's form or body says, checked.
pub struct Fields {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
}

impl Fields {
    pub fn check(
        state: &AppState,
        url: &str,
        events: &[String],
        description: &str,
    ) -> AppResult<Fields> {
        Ok(Fields {
            url: check_url(state, url)?,
            events: check_events(events)?,
            description: check_description(description)?,
        })
    }
}

pub fn check_url(state: &AppState, url: &str) -> AppResult<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(AppError::invalid_field("url", "enter the endpoint's URL"));
    }
    let allow = state.outbound_policy().allow;
    crate::outbound::check_webhook_url(url, &allow)
        .map_err(|why| AppError::invalid_field("url", why))?;
    Ok(url.to_string())
}

pub fn check_events(events: &[String]) -> AppResult<Vec<String>> {
    Ok(parse_events(events)
        .map_err(|why| AppError::invalid_field("events", why))?
        .into_iter()
        .map(|t| t.as_str().to_string())
        .collect())
}

pub fn check_description(description: &str) -> AppResult<String> {
    let description = description.trim();
    if description.chars().count() > 200 {
        return Err(AppError::invalid_field(
            "description",
            "the description is longer than 200 characters",
        ));
    }
    Ok(description.to_string())
}

fn audit_entry(
    caller: &Principal,
    request_id: Option<&str>,
    id: WebhookId,
    details: Value,
) -> Entry {
    Entry::new(Action::Webhook, Outcome::Success)
        .by(caller.tenant().ok(), Some(caller.user_id), request_id)
        .org(caller.org_id)
        .target("webhook", Some(&id.to_string()))
        .details(details)
}

/// Registers an endpoint; its secret is returned this once.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    fields: &Fields,
    request_id: Option<&str>,
) -> AppResult<(Endpoint, String)> {
    let org = caller.webhook_owner()?;
    if repo::list(&state.pool, org).await?.len() >= MAX_ENDPOINTS {
        return Err(AppError::conflict(
            "too_many_endpoints",
            format!(
                "an organization has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            ),
            json!({ "max": MAX_ENDPOINTS }),
        ));
    }
    let id = WebhookId(Uuid::new_v4());
    let secret = new_secret();
    let sealed = state
        .secrets
        .seal(secret.as_bytes(), &dispatch::sealed_for(id))
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let mut tx = state.pool.begin().await?;
    repo::create(
        &mut tx,
        &NewEndpoint {
            id,
            org_id: org,
            url: &fields.url,
            events: &fields.events,
            description: &fields.description,
            secret_sealed: &sealed,
            created_by: caller.user_id,
        },
    )
    .await?;
    let details = json!({ "event": "created", "url": fields.url, "events": fields.events });
    audit::repo::record(&mut tx, &audit_entry(caller, request_id, id, details)).await?;
    let endpoint = repo::get(&mut tx, org, id).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

fn not_found() -> AppError {
    AppError::NotFound("webhook endpoint".into())
}

/// The caller's organization's endpoint `raw`, or 404 (another organization's included).
pub async fn find(state: &AppState, caller: &Principal, raw: &str) -> AppResult<Endpoint> {
    let org = caller.webhook_owner()?;
    let id = WebhookId(crate::web::parse_id(raw, "webhook endpoint")?);
    let mut conn = state.pool.acquire().await?;
    repo::get(&mut conn, org, id).await?.ok_or_else(not_found)
}

pub async fn update(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    change: &Change,
    request_id: Option<&str>,
) -> AppResult<Endpoint> {
    let endpoint = find(state, caller, raw).await?;
    let org = caller.webhook_owner()?;
    let mut tx = state.pool.begin().await?;
    repo::update(&mut tx, org, endpoint.id, change).await?;
    let details = json!({ "event": "changed", "url": change.url, "events": change.events,
                          "description": change.description, "enabled": change.enabled });
    audit::repo::record(
        &mut tx,
        &audit_entry(caller, request_id, endpoint.id, details),
    )
    .await?;
    let endpoint = repo::get(&mut tx, org, endpoint.id)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(endpoint)
}

pub async fn delete(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    request_id: Option<&str>,
) -> AppResult<Endpoint> {
    let endpoint = find(state, caller, raw).await?;
    let mut tx = state.pool.begin().await?;
    repo::delete(&mut tx, caller.webhook_owner()?, endpoint.id).await?;
    let details = json!({ "event": "deleted", "url": endpoint.url });
    audit::repo::record(
        &mut tx,
        &audit_entry(caller, request_id, endpoint.id, details),
    )
    .await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Sends delivery `delivery`'s event to its endpoint again, with the same event id. It goes
/// behind the number's newer events; a delivery still pending is not doubled.
pub async fn resend(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    delivery: &str,
    request_id: Option<&str>,
) -> AppResult<i64> {
    let endpoint = find(state, caller, raw).await?;
    let wanted: i64 = delivery
        .parse()
        .map_err(|_| AppError::NotFound("delivery".into()))?;
    let found = repo::delivery(&state.pool, endpoint.id, wanted)
        .await?
        .ok_or_else(|| AppError::NotFound("delivery".into()))?;
    let Some(made) = repo::resend(&state.pool, endpoint.id, wanted).await? else {
        return Err(AppError::conflict(
            "delivery_pending",
            "this delivery is still being tried; it can be sent again once it is delivered or failed",
            json!({ "delivery_id": wanted }),
        ));
    };
    let details = json!({ "event": "resent", "event_id": found.event_id, "delivery_id": made });
    let entry = audit_entry(caller, request_id, endpoint.id, details);
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    Ok(made)
}

/// A `webhook.test` event for the endpoint (a disabled one gets it once enabled).
pub async fn send_test(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    request_id: Option<&str>,
) -> AppResult<Uuid> {
    let endpoint = find(state, caller, raw).await?;
    let source = json!({ "message": format!("A test event, sent by {}", caller.email) });
    let made = repo::send_test(&state.pool, endpoint.id, &source)
        .await?
        .ok_or_else(not_found)?;
    let entry = audit_entry(
        caller,
        request_id,
        endpoint.id,
        json!({ "event": "test", "event_id": made }),
    );
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    Ok(made)
}
