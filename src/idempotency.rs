//! `Idempotency-Key` support: the first request with a key runs; later ones with the same
//! key and body get the stored response replayed; a different body with the key is refused.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

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

fn fingerprint(scope: &str, body: &Value) -> String {
    let digest = Sha256::digest(format!("{scope}\n{body}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn claim(
    pool: &PgPool,
    tenant: Uuid,
    key: &str,
    scope: &str,
    body: &Value,
) -> AppResult<Claim> {
    let hash = fingerprint(scope, body);
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(key)
    .bind(&hash)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
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
    match (status, response) {
        (Some(status), Some(body)) => Ok(Claim::Replay(
            StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
            body,
        )),
        _ => Err(AppError::conflict(
            "request_in_progress",
            "a request with this Idempotency-Key is still running",
            Value::Null,
        )),
    }
}

pub async fn complete(
    pool: &PgPool,
    tenant: Uuid,
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
pub async fn abandon(pool: &PgPool, tenant: Uuid, key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND response_status IS NULL")
        .bind(tenant)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
