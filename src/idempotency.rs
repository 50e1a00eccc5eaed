//! `Idempotency-Key` support: the first request with a key runs; later ones with the same
//! key and body get the stored response replayed (one that arrives while the first runs
//! waits a few seconds for it); a different body with the key is refused. The first request
//! holds the key through a lease, so a key whose request died is taken over by a retry
//! rather than blocked; keys are forgotten after `idempotency.key_ttl_hours`.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

pub enum Claim {
    /// This request owns the key and must `complete` it.
    Fresh,
    Replay(StatusCode, Value),
}

pub fn key_from(headers: &HeaderMap) -> AppResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| AppError::invalid_field("Idempotency-Key", "the key must be ASCII"))?
                .trim();
            if key.is_empty() || key.len() > 200 {
                return Err(AppError::invalid_field(
                    "Idempotency-Key",
                    "the key must be 1 to 200 characters",
                ));
            }
            Ok(Some(key.to_string()))
        }
    }
}

/// What a key is bound to: the route (`scope`) and the request body.
pub fn fingerprint(scope: &str, body: &Value) -> String {
    let digest = Sha256::digest(format!("{scope}\n{body}").as_bytes());
    crate::hex::encode(&digest)
}

/// How long a request holds its key without renewing it; `Claim::Fresh` callers keep it
/// with `keep_claim` while they run.
const CLAIM_LEASE_SECONDS: f64 = 30.0;

/// How long a duplicate that arrives while the first request runs waits for its answer.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);

pub async fn claim(
    pool: &PgPool,
    tenant: TenantId,
    key: &str,
    scope: &str,
    body: &Value,
    ttl_hours: i64,
) -> AppResult<Claim> {
    let hash = fingerprint(scope, body);
    // A key past its lifetime is forgotten, and this request starts afresh with it.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2
           AND created_at < now() - make_interval(hours => $3)",
    )
    .bind(tenant)
    .bind(key)
    .bind(ttl_hours as i32)
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, locked_until)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(key)
    .bind(&hash)
    .bind(CLAIM_LEASE_SECONDS)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let (stored_hash, status, response): (String, Option<i16>, Option<Value>) = sqlx::query_as(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        )
        .bind(tenant)
        .bind(key)
        .fetch_one(pool)
        .await?;
        if stored_hash != hash {
            return Err(AppError::invalid(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            ));
        }
        if let (Some(status), Some(body)) = (status, response) {
            return Ok(Claim::Replay(
                StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
                body,
            ));
        }
        // The first request stopped renewing its claim: its process is gone. Run again;
        // what it finished is found done (a held number it provisioned is no longer held).
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3)
             WHERE tenant_id = $1 AND key = $2 AND response_status IS NULL
               AND (locked_until IS NULL OR locked_until < now())",
        )
        .bind(tenant)
        .bind(key)
        .bind(CLAIM_LEASE_SECONDS)
        .execute(pool)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AppError::conflict(
                "request_in_progress",
                "a request with this Idempotency-Key is still running: retry in a few seconds \
                 with the same key to get its answer",
                Value::Null,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Renews a fresh claim until the returned guard is dropped.
pub fn keep_claim(pool: PgPool, tenant: TenantId, key: String) -> ClaimGuard {
    ClaimGuard(crate::db_scope::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs_f64(CLAIM_LEASE_SECONDS / 3.0)).await;
            let renewed = sqlx::query(
                "UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3)
                 WHERE tenant_id = $1 AND key = $2 AND response_status IS NULL",
            )
            .bind(tenant)
            .bind(&key)
            .bind(CLAIM_LEASE_SECONDS)
            .execute(&pool)
            .await;
            if let Err(err) = renewed {
                tracing::warn!(error = %err, "could not renew an Idempotency-Key's claim");
            }
        }
    }))
}

pub struct ClaimGuard(tokio::task::JoinHandle<()>);

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Deletes keys past their lifetime (a job step).
pub async fn prune(pool: &PgPool, ttl_hours: i64) -> AppResult<u64> {
    let done = sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
    )
    .bind(ttl_hours as i32)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub async fn complete(
    pool: &PgPool,
    tenant: TenantId,
    key: &str,
    status: StatusCode,
    body: &Value,
) -> AppResult<()> {
    sqlx::query("UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE tenant_id = $1 AND key = $2")
        .bind(tenant)
        .bind(key)
        .bind(status.as_u16() as i16)
        .bind(body)
        .execute(pool)
        .await?;
    Ok(())
}

/// A request that failed before doing anything frees its key for a retry.
pub async fn abandon(pool: &PgPool, tenant: TenantId, key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND response_status IS NULL")
        .bind(tenant)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
