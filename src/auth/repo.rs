//! Users, sessions and API tokens in Postgres.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row};

use super::Authenticated;
use super::password::{new_token, token_digest};
use crate::domain::UserId;
use crate::domain::policy::{OrgKind, Principal, Role};

pub(super) const PRINCIPAL_COLUMNS: &str = "u.id, u.email, u.role, o.id AS org_id, o.kind AS org_kind, o.name AS org_name, o.parent_id, o.allowed_countries";

pub(super) fn principal_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Principal> {
    let role: String = row.try_get("role")?;
    let kind: String = row.try_get("org_kind")?;
    let decode = |e: String| sqlx::Error::Decode(e.into());
    Ok(Principal {
        user_id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: role.parse::<Role>().map_err(decode)?,
        org_id: row.try_get("org_id")?,
        org_kind: kind.parse::<OrgKind>().map_err(decode)?,
        org_name: row.try_get("org_name")?,
        parent_org_id: row.try_get("parent_id")?,
        allowed_countries: row.try_get("allowed_countries")?,
    })
}

pub struct Credentials {
    pub user_id: UserId,
    /// None for a user who signs in through an identity provider only.
    pub password_hash: Option<String>,
    /// Its organization signs in through an identity provider only (`sso`).
    pub sso_required: bool,
}

pub async fn credentials(pool: &PgPool, email: &str) -> sqlx::Result<Option<Credentials>> {
    // A disabled user's password is never checked: the sign-in fails as for a wrong one.
    let row = sqlx::query(
"SELECT id, org_id, password_hash,
                EXISTS (SELECT 1 FROM identity_providers p WHERE p.org_id = users.org_id AND p.required)
                    AS sso_required
         FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL",
    )
        .bind(email.trim())
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(Credentials {
            user_id: r.try_get("id")?,
            sso_required: r.try_get("sso_required")?,
            password_hash: r.try_get("password_hash")?,
        })
    })
    .transpose()
}

pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_session(
    pool: &PgPool,
    user_id: UserId,
    lifetime: Duration,
) -> sqlx::Result<NewSession> {
    let token = new_token("");
    let csrf = new_token("");
    let expires_at = Utc::now() + lifetime;
    sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_digest(&token))
        .bind(user_id)
        .bind(csrf)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(NewSession { token, expires_at })
}

/// The session's caller and when the session ends.
pub async fn session(
    pool: &PgPool,
    token: &str,
) -> sqlx::Result<Option<(Authenticated, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT {PRINCIPAL_COLUMNS}, s.csrf_token, s.expires_at FROM sessions s
         JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = u.org_id
         WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(token_digest(token))
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok((
            Authenticated {
                principal: principal_from_row(&r)?,
                csrf: Some(r.try_get("csrf_token")?),
            },
            r.try_get("expires_at")?,
        ))
    })
    .transpose()
}

pub async fn delete_session(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_digest(token))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_expired_sessions(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
        .execute(pool)
        .await?
        .rows_affected())
}
