//! Tables `webhook_endpoints`, `webhook_events` and `webhook_deliveries`. Events and their
//! first deliveries are written by the database itself (migration 0036) in the transaction
//! of the change; this module manages endpoints, lists deliveries, and moves deliveries along
//! for the dispatcher.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{UserId, WebhookId};

/// An endpoint as its admins see it (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Endpoint {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Attempts failed in a row.
    pub failure_run: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Deliveries waiting to go, and given up, now.
    pub pending: i64,
    pub failed: i64,
}

const ENDPOINT: &str = "SELECT e.id, e.url, e.events, e.description, e.enabled, e.disabled_reason,
        e.failure_run, e.created_at, e.updated_at,
        (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending') AS pending,
        (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'failed') AS failed
   FROM webhook_endpoints e";

/// Where a delivery stands (`webhook_deliveries.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One delivery of one event to one endpoint, with the body it sent.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub number: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries of an enabled endpoint only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_duration_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The envelope as sent; none before the first attempt.
    pub body: Option<String>,
}

const DELIVERY: &str = "SELECT d.id, d.event_id, v.type AS event_type, v.occurred_at,
        v.phone_number AS number, d.status, d.attempts,
        CASE WHEN d.status = 'pending' AND d.next_attempt_at < 'infinity' THEN d.next_attempt_at END
            AS next_attempt_at,
        d.last_attempt_at, d.last_status_code, d.last_duration_ms, d.last_error, d.created_at,
        d.finished_at, v.body
   FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id";

pub struct NewEndpoint<'a> {
    pub id: WebhookId,
    pub org_id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: &'a str,
    pub secret_sealed: &'a [u8],
    pub created_by: UserId,
}

pub async fn create(conn: &mut PgConnection, new: &NewEndpoint<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, org_id, url, events, description, secret_sealed, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.url)
    .bind(new.events)
    .bind(new.description)
    .bind(new.secret_sealed)
    .bind(new.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(pool: &PgPool, org: Uuid) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as(&format!(
        "{ENDPOINT} WHERE e.org_id = $1 ORDER BY e.created_at, e.id"
    ))
    .bind(org)
    .fetch_all(pool)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    org: Uuid,
    id: WebhookId,
) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!("{ENDPOINT} WHERE e.org_id = $1 AND e.id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// What a change sets; `None` keeps the field.
#[derive(Debug, Default)]
pub struct Change {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Applies `change`; switching an endpoint on again forgets its failures.
/// What a disabled endpoint still has pending waits out of the dispatcher's way (its due
/// time set to infinity) and is due at once when it is enabled again.
pub async fn update(
    conn: &mut PgConnection,
    org: Uuid,
    id: WebhookId,
    change: &Change,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET
             url = coalesce($3, url), events = coalesce($4, events),
             description = coalesce($5, description), enabled = coalesce($6, enabled),
             disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason
                                    WHEN $6 THEN NULL ELSE 'disabled by its admins' END,
             failure_run = CASE WHEN $6 AND NOT enabled THEN 0 ELSE failure_run END,
             updated_at = now()
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .bind(&change.url)
    .bind(&change.events)
    .bind(&change.description)
    .bind(change.enabled)
    .execute(&mut *conn)
    .await?;
    if let Some(enabled) = change.enabled {
        park_pending(conn, id, !enabled).await?;
    }
    Ok(done.rows_affected() == 1)
}

async fn park_pending(conn: &mut PgConnection, id: WebhookId, parked: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries
            SET next_attempt_at = CASE WHEN $2 THEN 'infinity'::timestamptz ELSE now() END
          WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(parked)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the endpoint with its deliveries; its events go with the retention
/// (`prune_events`).
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: WebhookId) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The endpoint's deliveries, newest first, older than `before` when given.
pub async fn deliveries(
    pool: &PgPool,
    endpoint: WebhookId,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "{DELIVERY} WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
            AND ($3::bigint IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4"
    ))
    .bind(endpoint)
    .bind(status.map(DeliveryStatus::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delivery(
    pool: &PgPool,
    endpoint: WebhookId,
    id: i64,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "{DELIVERY} WHERE d.endpoint_id = $1 AND d.id = $2"
    ))
    .bind(endpoint)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Sends the event of delivery `id` again, as a new delivery with the same event id (so that
/// receivers can tell it is the same event); none while it is still pending.
pub async fn resend(pool: &PgPool, endpoint: WebhookId, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, order_key)
         SELECT event_id, endpoint_id, order_key FROM webhook_deliveries
          WHERE endpoint_id = $1 AND id = $2 AND status <> 'pending'
         RETURNING id",
    )
    .bind(endpoint)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A `webhook.test` event for the endpoint, delivered like any other; none when the caller
/// has no such endpoint (any more).
pub async fn send_test(
    pool: &PgPool,
    endpoint: WebhookId,
    source: &Value,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT webhook_send_test($1, $2)")
        .bind(endpoint)
        .bind(source)
        .fetch_one(pool)
        .await
}

/// A delivery claimed for sending, with what sending it needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub endpoint_id: WebhookId,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub org_id: Uuid,
    pub org_is_tenant: bool,
    pub number: Option<String>,
    pub source: Value,
    pub body: Option<String>,
}

/// Leases up to `limit` deliveries that are due, each the oldest pending one of its endpoint
/// and order key, for `lease_seconds`.
pub async fn claim(
    pool: &PgPool,
    owner: Uuid,
    limit: i64,
    lease_seconds: i64,
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as(
        "WITH claimed AS (
             UPDATE webhook_deliveries d
                SET leased_until = now() + make_interval(secs => $3), lease_owner = $1
              WHERE d.id IN (
                    SELECT c.id FROM webhook_deliveries c
                      JOIN webhook_endpoints e ON e.id = c.endpoint_id AND e.enabled
                     WHERE c.status = 'pending' AND c.next_attempt_at <= now()
                       AND (c.leased_until IS NULL OR c.leased_until < now())
                       AND NOT EXISTS (
                           SELECT 1 FROM webhook_deliveries o
                            WHERE o.endpoint_id = c.endpoint_id AND o.order_key = c.order_key
                              AND o.status = 'pending' AND o.id < c.id)
                     ORDER BY c.next_attempt_at, c.id
                     LIMIT $2
                       FOR UPDATE OF c SKIP LOCKED)
             RETURNING d.id, d.attempts, d.created_at, d.endpoint_id, d.event_id)
         SELECT c.id, c.attempts, c.created_at, c.endpoint_id, e.url, e.secret_sealed,
                c.event_id, v.type AS event_type, v.occurred_at, v.org_id,
                o.kind = 'tenant' AS org_is_tenant, v.phone_number AS number, v.source, v.body
           FROM claimed c
           JOIN webhook_endpoints e ON e.id = c.endpoint_id
           JOIN webhook_events v ON v.id = c.event_id
           JOIN organizations o ON o.id = v.org_id
          ORDER BY c.id",
    )
    .bind(owner)
    .bind(limit)
    .bind(lease_seconds as f64)
    .fetch_all(pool)
    .await
}

/// Keeps the first body made for an event: every later attempt, and every endpoint, sends
/// the same bytes.
pub async fn freeze_body(pool: &PgPool, event: Uuid, body: &str) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "UPDATE webhook_events SET body = coalesce(body, $2) WHERE id = $1 RETURNING body",
    )
    .bind(event)
    .bind(body)
    .fetch_one(pool)
    .await
}

/// What one attempt came to.
pub struct Attempt<'a> {
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<&'a str>,
}

/// Records a delivered attempt, if `owner` still holds the lease; the endpoint's run of
/// failures ends.
pub async fn delivered(
    pool: &PgPool,
    id: i64,
    owner: Uuid,
    attempt: &Attempt<'_>,
) -> sqlx::Result<bool> {
    let recorded: i64 = sqlx::query_scalar(
        "WITH done AS (
             UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
                    last_attempt_at = now(), last_status_code = $3, last_duration_ms = $4,
                    last_error = NULL, finished_at = now(), leased_until = NULL
              WHERE id = $1 AND lease_owner = $2 AND status = 'pending'
             RETURNING endpoint_id),
         run_ended AS (
             UPDATE webhook_endpoints SET failure_run = 0
              WHERE id IN (SELECT endpoint_id FROM done) AND failure_run <> 0)
         SELECT count(*) FROM done",
    )
    .bind(id)
    .bind(owner)
    .bind(attempt.status_code)
    .bind(attempt.duration_ms)
    .fetch_one(pool)
    .await?;
    Ok(recorded == 1)
}

/// What recording a failed attempt came to.
pub struct Failed {
    /// The endpoint's failed attempts in a row, this one included.
    pub run: i32,
    pub endpoint_id: WebhookId,
    pub org_id: Uuid,
    pub org_is_tenant: bool,
    pub url: String,
}

/// Records a failed attempt: tried again at `retry_at`, or given up when `None`.
pub async fn failed(
    pool: &PgPool,
    id: i64,
    owner: Uuid,
    attempt: &Attempt<'_>,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<Failed>> {
    let row: Option<(i32, WebhookId, Uuid, bool, String)> = sqlx::query_as(
        "WITH done AS (
             UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(),
                    last_status_code = $3, last_duration_ms = $4, last_error = $5,
                    status = CASE WHEN $6::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                    finished_at = CASE WHEN $6::timestamptz IS NULL THEN now() END,
                    next_attempt_at = coalesce($6, next_attempt_at), leased_until = NULL
              WHERE id = $1 AND lease_owner = $2 AND status = 'pending'
             RETURNING endpoint_id)
         UPDATE webhook_endpoints e SET failure_run = failure_run + 1
          WHERE e.id IN (SELECT endpoint_id FROM done)
         RETURNING e.failure_run, e.id, e.org_id,
                   (SELECT kind = 'tenant' FROM organizations WHERE id = e.org_id), e.url",
    )
    .bind(id)
    .bind(owner)
    .bind(attempt.status_code)
    .bind(attempt.duration_ms)
    .bind(attempt.error)
    .bind(retry_at)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(run, endpoint_id, org_id, org_is_tenant, url)| Failed {
            run,
            endpoint_id,
            org_id,
            org_is_tenant,
            url,
        }),
    )
}

/// Switches an endpoint off after its run of failures; false when it already was.
pub async fn disable_after_failures(
    conn: &mut PgConnection,
    id: WebhookId,
    run: i32,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = false, updated_at = now(),
                disabled_reason = format('%s attempts in a row failed', $2::int)
          WHERE id = $1 AND enabled",
    )
    .bind(id)
    .bind(run)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        park_pending(conn, id, true).await?;
    }
    Ok(done.rows_affected() == 1)
}

/// The sealed secrets of every endpoint after `after`, for sealing them again.
pub async fn sealed_after(
    pool: &PgPool,
    after: WebhookId,
    limit: i64,
) -> sqlx::Result<Vec<(WebhookId, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, secret_sealed FROM webhook_endpoints WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn reseal(pool: &PgPool, id: WebhookId, was: &[u8], now: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET secret_sealed = $3 WHERE id = $1 AND secret_sealed = $2",
    )
    .bind(id)
    .bind(was)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes events older than `days` whose every delivery is finished (their deliveries go
/// with them), up to `limit`; returns how many.
pub async fn prune_events(pool: &PgPool, days: i64, limit: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM webhook_events WHERE id IN (
             SELECT v.id FROM webhook_events v
              WHERE v.occurred_at < now() - make_interval(days => $1::int)
                AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                 WHERE d.event_id = v.id AND d.status = 'pending')
              LIMIT $2)",
    )
    .bind(days)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
