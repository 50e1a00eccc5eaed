//! Delivering webhooks. Every instance runs the dispatcher: it leases deliveries that are due
//! (each the oldest pending one of its endpoint and number, so a number's events arrive in
//! order), POSTs each event's envelope signed with the endpoint's secret, and records the
//! answer. A 2xx delivers; anything else is tried again after a jittered, doubling wait until
//! `give_up_after_hours`, then marked failed. An endpoint failing `disable_after_failures`
//! attempts in a row is disabled and its admins told. A dispatcher that dies mid-send leaves
//! its lease to lapse, and the delivery goes again with the same event id: at least once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::repo::{self, Attempt, Due};
use crate::audit::{self, Action, Entry, Outcome};
use crate::db_scope::{Bypass, bypassing};
use crate::domain::webhook::{self, Envelope, EventType};
use crate::domain::{TenantId, WebhookId};
use crate::error::{AppError, AppResult};
use crate::saga_lease::crash_point;
use crate::state::AppState;

/// The dispatcher's HTTP client: no redirects, no proxy, names resolved to public addresses
/// unless the operator admitted the host (`outbound`).
pub fn client(state: &AppState) -> AppResult<reqwest::Client> {
    let policy = state.outbound_policy();
    let timeout = Duration::from_secs(state.config.webhooks.timeout_seconds);
    crate::outbound::client("webhooks", &policy.allow, timeout).map_err(AppError::from)
}

/// Runs passes until the server stops: straight again while there is work, else after
/// `poll_interval_ms`.
pub async fn run_forever(state: AppState) {
    let client = match client(&state) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhooks cannot be delivered from this server");
            return;
        }
    };
    let owner = Uuid::new_v4();
    let idle = Duration::from_millis(state.config.webhooks.poll_interval_ms);
    loop {
        let pass = bypassing(Bypass::Jobs, run_once(&state, &client, owner)).await;
        crate::metrics::job_run("deliver_webhooks", pass.is_ok());
        match pass {
            Ok(sent) if sent > 0 => continue,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "webhook delivery pass failed; trying again");
            }
        }
        tokio::time::sleep(idle).await;
    }
}

/// One pass: claims what is due and sends it, up to `concurrency` at once; how many attempts
/// it recorded (each is counted by outcome in `webhook_attempts_total`).
pub async fn run_once(state: &AppState, client: &reqwest::Client, owner: Uuid) -> AppResult<usize> {
    let config = &state.config.webhooks;
    let claimed = Instant::now();
    let due = repo::claim(
        &state.pool,
        owner,
        config.concurrency as i64,
        config.lease_seconds as i64,
    )
    .await?;
    let mut sending = JoinSet::new();
    for delivery in due {
        let (state, client) = (state.clone(), client.clone());
        sending.spawn(bypassing(Bypass::Jobs, async move {
            send(&state, &client, owner, claimed, delivery).await
        }));
    }
    let mut recorded = 0;
    while let Some(done) = sending.join_next().await {
        match done {
            Ok(Ok(Sent::Recorded)) => recorded += 1,
            Ok(Ok(Sent::LeaseLost)) => {}
            Ok(Err(err)) => err.log(),
            Err(panicked) => tracing::error!(error = %panicked, "a webhook delivery panicked"),
        }
    }
    Ok(recorded)
}

enum Sent {
    /// The attempt's outcome is recorded (delivered, to be retried, or given up).
    Recorded,
    /// Another dispatcher took the delivery over (this one outlived its lease).
    LeaseLost,
}

/// What the secret of endpoint `id` is sealed for.
pub fn sealed_for(id: WebhookId) -> String {
    format!("webhook_endpoint:{id}")
}

async fn send(
    state: &AppState,
    client: &reqwest::Client,
    owner: Uuid,
    claimed: Instant,
    due: Due,
) -> AppResult<Sent> {
    let started = Instant::now();
    let config = &state.config.webhooks;
    let prepared = prepare(state, &due).await;
    // A send that could outlast the lease (the pool kept it waiting) is left to the next
    // claim: another instance may take the delivery over once the lease lapses.
    let lease = Duration::from_secs(config.lease_seconds);
    if claimed.elapsed() + Duration::from_secs(config.timeout_seconds) >= lease {
        return Ok(Sent::LeaseLost);
    }
    let outcome = match prepared {
        Ok((secret, body)) => {
            crash_point("webhook.before_send");
            let outcome = post(client, &due, &secret, body).await;
            crash_point("webhook.after_send");
            outcome
        }
        Err(err) => Err((None, err)),
    };
    let attempt = |code, error| Attempt {
        status_code: code,
        duration_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        error,
    };
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(code) => {
            crate::metrics::webhook_attempt("delivered", seconds);
            let recorded =
                repo::delivered(&state.pool, due.id, owner, &attempt(Some(code), None)).await?;
            Ok(if recorded {
                Sent::Recorded
            } else {
                Sent::LeaseLost
            })
        }
        Err((code, error)) => {
            let retry = state.config.webhooks.retry();
            let failures = (due.attempts + 1).max(1) as u32;
            let age = (Utc::now() - due.created_at).to_std().unwrap_or_default();
            let retry_at = (!retry.gives_up(age)).then(|| {
                let wait = retry.delay(failures, rand::thread_rng().r#gen::<f64>());
                Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()
            });
            let outcome = if retry_at.is_some() {
                "retried"
            } else {
                "given_up"
            };
            crate::metrics::webhook_attempt(outcome, seconds);
            let failed = repo::failed(
                &state.pool,
                due.id,
                owner,
                &attempt(code, Some(&error)),
                retry_at,
            )
            .await?;
            let Some(failed) = failed else {
                return Ok(Sent::LeaseLost);
            };
            if webhook::disables(failed.run, state.config.webhooks.disable_after_failures) {
                disable(state, &failed).await?;
            }
            Ok(Sent::Recorded)
        }
    }
}

/// The endpoint's secret and the event's body (the first one made for it).
async fn prepare(state: &AppState, due: &Due) -> Result<(String, Arc<String>), String> {
    // The operator may have narrowed outbound.allow_hosts since the endpoint was saved.
    crate::outbound::check_webhook_url(&due.url, &state.outbound_policy().allow)
        .map_err(|why| format!("the URL is no longer allowed: {why}"))?;
    let secret = state
        .secrets
        .open(&due.secret_sealed, &sealed_for(due.endpoint_id))
        .map_err(|e| format!("the endpoint's secret cannot be opened on this server: {e}"))?;
    let secret = String::from_utf8(secret.plaintext)
        .map_err(|_| "the endpoint's secret is not text".to_string())?;
    let body = match &due.body {
        Some(body) => body.clone(),
        None => {
            let kind = EventType::parse(&due.event_type)
                .ok_or_else(|| format!("unknown event type {}", due.event_type))?;
            let envelope = Envelope {
                id: due.event_id,
                kind,
                occurred_at: due.occurred_at,
                organization: due.org_id,
                organization_is_tenant: due.org_is_tenant,
                number: due.number.as_deref(),
                source: &due.source,
            };
            repo::freeze_body(&state.pool, due.event_id, &envelope.to_json().to_string())
                .await
                .map_err(|e| format!("the event could not be prepared: {e}"))?
        }
    };
    Ok((secret, Arc::new(body)))
}

/// POSTs the body; the receiver's status when it is a 2xx, else the status (if any) and why.
async fn post(
    client: &reqwest::Client,
    due: &Due,
    secret: &str,
    body: Arc<String>,
) -> Result<i32, (Option<i32>, String)> {
    let t = Utc::now().timestamp();
    let signature = webhook::signature_header(secret, t, body.as_bytes())
        .map_err(|why| (None, format!("the endpoint's secret cannot sign: {why}")))?;
    let sent = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Inward-Signature", signature)
        .header("Inward-Event-Id", due.event_id.to_string())
        .header("Inward-Event-Type", &due.event_type)
        .header("Inward-Delivery-Attempt", (due.attempts + 1).to_string())
        .body(body.as_bytes().to_vec())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => return Err((None, transport_error(&err))),
    };
    // The receiver's body is not kept: on a host the operator admitted inside the network,
    // it could show a tenant what it has no business reading.
    let status = response.status();
    let code = i32::from(status.as_u16());
    if status.is_success() {
        return Ok(code);
    }
    Err((Some(code), format!("the receiver answered {status}")))
}

/// What went wrong before any answer, in words (reqwest's own message names only the URL).
fn transport_error(err: &reqwest::Error) -> String {
    let mut why = if err.is_timeout() {
        "no answer in time".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        why.push_str(": ");
        why.push_str(&cause.to_string());
        source = cause.source();
    }
    why.chars().take(500).collect()
}

/// Switches the endpoint off, audited, and tells its organization's admins.
async fn disable(state: &AppState, failed: &repo::Failed) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    if !repo::disable_after_failures(&mut tx, failed.endpoint_id, failed.run).await? {
        return Ok(());
    }
    let entry = Entry::new(Action::Webhook, Outcome::Failure)
        .by(
            failed.org_is_tenant.then_some(TenantId(failed.org_id)),
            None,
            None,
        )
        .org(failed.org_id)
        .target("webhook", Some(&failed.endpoint_id.to_string()))
        .details(
            json!({ "event": "disabled", "url": failed.url, "failures_in_a_row": failed.run }),
        );
    audit::repo::record(&mut tx, &entry).await?;
    let message = format!(
        "Webhook endpoint {} was disabled: its last {} attempts failed. Fix the receiver, then enable it again; what is pending is sent then.",
        failed.url, failed.run
    );
    crate::notifications::notify_org_admins(
        &mut tx,
        failed.org_id,
        &message,
        &format!("/webhooks/{}", failed.endpoint_id),
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(endpoint = %failed.endpoint_id, run = failed.run, "webhook endpoint disabled after failing");
    Ok(())
}
