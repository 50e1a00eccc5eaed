//! Owner of `identity_providers`, `identity_provider_domains` and `sso_logins`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::IdentityProviderId;
use crate::error::{AppError, AppResult};

/// A provider as its admins and the operator see it (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Provider {
    pub id: IdentityProviderId,
    pub org_id: Uuid,
    pub org_name: String,
    pub org_kind: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub role_claim: Option<String>,
    pub role_map: Value,
    pub required: bool,
    pub domains: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT p.id, p.org_id, o.name AS org_name, o.kind AS org_kind, p.name,
        p.issuer, p.client_id, p.role_claim, p.role_map, p.required,
        coalesce((SELECT array_agg(d.domain ORDER BY d.domain) FROM identity_provider_domains d
                  WHERE d.provider_id = p.id), '{}') AS domains,
        p.created_at, p.updated_at
     FROM identity_providers p JOIN organizations o ON o.id = p.org_id";

/// The providers the caller's scope shows: every one to the operator, its own to an
/// organization.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<Provider>> {
    sqlx::query_as(&format!("{SELECT} ORDER BY o.name, p.name"))
        .fetch_all(conn)
        .await
}

pub async fn get(
    conn: &mut PgConnection,
    id: IdentityProviderId,
) -> sqlx::Result<Option<Provider>> {
    sqlx::query_as(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The provider an email domain routes to.
pub async fn for_domain(conn: &mut PgConnection, domain: &str) -> sqlx::Result<Option<Provider>> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE p.id = (SELECT provider_id FROM identity_provider_domains WHERE domain = $1)"
    ))
    .bind(domain)
    .fetch_optional(conn)
    .await
}

pub async fn sealed_secret(
    conn: &mut PgConnection,
    id: IdentityProviderId,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT client_secret_sealed FROM identity_providers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub struct NewProvider<'a> {
    pub id: IdentityProviderId,
    pub org_id: Uuid,
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub secret_sealed: &'a [u8],
    pub role_claim: Option<&'a str>,
    pub role_map: &'a Value,
    pub required: bool,
    pub domains: &'a [String],
}

pub async fn create(conn: &mut PgConnection, new: &NewProvider<'_>) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO identity_providers (id, org_id, name, issuer, client_id,
             client_secret_sealed, role_claim, role_map, required)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.name)
    .bind(new.issuer)
    .bind(new.client_id)
    .bind(new.secret_sealed)
    .bind(new.role_claim)
    .bind(new.role_map)
    .bind(new.required)
    .execute(&mut *conn)
    .await?;
    set_domains(conn, new.id, new.domains).await
}

/// What a change sets; None leaves a field as it is.
#[derive(Debug, Default)]
pub struct Change {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub secret_sealed: Option<Vec<u8>>,
    pub role_claim: Option<Option<String>>,
    pub role_map: Option<Value>,
    pub required: Option<bool>,
    pub domains: Option<Vec<String>>,
}

pub async fn update(
    conn: &mut PgConnection,
    id: IdentityProviderId,
    change: &Change,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE identity_providers SET
             name = coalesce($2, name), issuer = coalesce($3, issuer),
             client_id = coalesce($4, client_id),
             client_secret_sealed = coalesce($5, client_secret_sealed),
             role_claim = CASE WHEN $6 THEN $7 ELSE role_claim END,
             role_map = coalesce($8, role_map), required = coalesce($9, required),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.issuer.as_deref())
    .bind(change.client_id.as_deref())
    .bind(change.secret_sealed.as_deref())
    .bind(change.role_claim.is_some())
    .bind(change.role_claim.clone().flatten())
    .bind(change.role_map.as_ref())
    .bind(change.required)
    .execute(&mut *conn)
    .await?;
    if let Some(domains) = &change.domains {
        sqlx::query("DELETE FROM identity_provider_domains WHERE provider_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        set_domains(conn, id, domains).await?;
    }
    Ok(())
}

/// A domain already routing to another provider is refused by name.
async fn set_domains(
    conn: &mut PgConnection,
    id: IdentityProviderId,
    domains: &[String],
) -> AppResult<()> {
    let taken: Vec<String> = sqlx::query_scalar(
        "INSERT INTO identity_provider_domains (domain, provider_id)
         SELECT unnest($2::text[]), $1 ON CONFLICT (domain) DO NOTHING RETURNING domain",
    )
    .bind(id)
    .bind(domains)
    .fetch_all(&mut *conn)
    .await?;
    let lost: Vec<&String> = domains.iter().filter(|d| !taken.contains(d)).collect();
    if !lost.is_empty() {
        return Err(AppError::conflict(
            "domain_taken",
            format!(
                "{} already signs in through another identity provider",
                lost.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            serde_json::json!({ "domains": lost }),
        ));
    }
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, id: IdentityProviderId) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM identity_providers WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

/// Secrets in id order after `after`, for sealing them again under a new key.
pub async fn sealed_after(
    pool: &PgPool,
    after: IdentityProviderId,
    limit: i64,
) -> sqlx::Result<Vec<(IdentityProviderId, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, client_secret_sealed FROM identity_providers WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Writes the secret sealed again, unless it changed meanwhile.
pub async fn reseal(
    pool: &PgPool,
    id: IdentityProviderId,
    was: &[u8],
    sealed: &[u8],
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE identity_providers SET client_secret_sealed = $3
         WHERE id = $1 AND client_secret_sealed = $2",
    )
    .bind(id)
    .bind(was)
    .bind(sealed)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// A sign-in sent to a provider: what its callback needs to finish it.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub provider_id: IdentityProviderId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub redirect_uri: String,
}

pub async fn begin_login(
    pool: &PgPool,
    state_hash: &[u8],
    login: &PendingLogin,
    lifetime_seconds: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sso_logins (state_hash, provider_id, nonce, pkce_verifier, next_path,
             redirect_uri, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
    )
    .bind(state_hash)
    .bind(login.provider_id)
    .bind(&login.nonce)
    .bind(&login.pkce_verifier)
    .bind(&login.next_path)
    .bind(&login.redirect_uri)
    .bind(lifetime_seconds as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes the sign-in a callback's state names, once: a second callback with the same state
/// finds nothing. An expired one is taken too, and not returned.
pub async fn take_login(pool: &PgPool, state_hash: &[u8]) -> sqlx::Result<Option<PendingLogin>> {
    let row = sqlx::query(
        "DELETE FROM sso_logins WHERE state_hash = $1
         RETURNING provider_id, nonce, pkce_verifier, next_path, redirect_uri,
                   expires_at > now() AS live",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if !row.try_get::<bool, _>("live")? {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        provider_id: row.try_get("provider_id")?,
        nonce: row.try_get("nonce")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        next_path: row.try_get("next_path")?,
        redirect_uri: row.try_get("redirect_uri")?,
    }))
}

/// Sign-ins never finished (the user closed the provider's page).
pub async fn delete_expired_logins(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM sso_logins WHERE expires_at < now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
