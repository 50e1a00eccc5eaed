//! Users who sign in through an identity provider (`sso`): found by the provider's subject,
//! linked on their first such sign-in when their organization already has them, or created
//! then (just in time). Part of `users`' owner, the auth slice.

use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::domain::policy::Role;
use crate::domain::{IdentityProviderId, UserId};

/// A user as a sign-in through a provider finds it.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: UserId,
    pub org_id: Uuid,
    pub disabled: bool,
    pub role: String,
    /// The provider it is linked to, if any.
    pub provider: Option<IdentityProviderId>,
}

fn known(row: sqlx::postgres::PgRow) -> sqlx::Result<Known> {
    Ok(Known {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        disabled: row.try_get("disabled")?,
        role: row.try_get("role")?,
        provider: row.try_get("identity_provider_id")?,
    })
}

const SELECT: &str =
    "SELECT id, org_id, role, disabled_at IS NOT NULL AS disabled, identity_provider_id FROM users";

pub async fn by_subject(
    conn: &mut PgConnection,
    provider: IdentityProviderId,
    subject: &str,
) -> sqlx::Result<Option<Known>> {
    sqlx::query(&format!(
        "{SELECT} WHERE identity_provider_id = $1 AND sso_subject = $2"
    ))
    .bind(provider)
    .bind(subject)
    .fetch_optional(conn)
    .await?
    .map(known)
    .transpose()
}

pub async fn by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<Known>> {
    sqlx::query(&format!("{SELECT} WHERE lower(email) = lower($1)"))
        .bind(email)
        .fetch_optional(conn)
        .await?
        .map(known)
        .transpose()
}

/// Ties an existing user to the provider's subject, from now on how it is found.
pub async fn link(
    conn: &mut PgConnection,
    user: UserId,
    provider: IdentityProviderId,
    subject: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET identity_provider_id = $2, sso_subject = $3 WHERE id = $1")
        .bind(user)
        .bind(provider)
        .bind(subject)
        .execute(conn)
        .await?;
    Ok(())
}

/// The role the provider's claims give the user now.
pub async fn set_role(conn: &mut PgConnection, user: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(user)
        .bind(role.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets which of the provider's subjects each user is: after the provider's issuer changes,
/// the same subject may name someone else. Each is linked again by email at its next sign-in.
pub async fn unlink_all(
    conn: &mut PgConnection,
    provider: IdentityProviderId,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE users SET identity_provider_id = NULL, sso_subject = NULL
         WHERE identity_provider_id = $1",
    )
    .bind(provider)
    .execute(conn)
    .await?
    .rows_affected())
}

/// A new user with no password; None when the email was taken meanwhile.
pub async fn create(
    conn: &mut PgConnection,
    org: Uuid,
    email: &str,
    role: Role,
    provider: IdentityProviderId,
    subject: &str,
) -> sqlx::Result<Option<UserId>> {
    let id = UserId(Uuid::new_v4());
    let inserted = sqlx::query(
        "INSERT INTO users (id, org_id, email, role, password_hash, identity_provider_id, sso_subject)
         VALUES ($1, $2, $3, $4, NULL, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(org)
    .bind(email)
    .bind(role.as_str())
    .bind(provider)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(id))
}
