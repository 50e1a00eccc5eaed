//! Operator actions shared by the CLI and the demo seed: organizations, users, tokens.

use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::password::hash_password;
use crate::domain::policy::{OrgKind, Role};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

pub async fn add_org(
    pool: &PgPool,
    kind: OrgKind,
    parent_slug: &str,
    slug: &str,
    name: &str,
) -> Result<Uuid, AdminError> {
    let Some(parent_kind) = kind.parent_kind() else {
        return Err(AdminError::Invalid(
            "there is exactly one operator organization; it exists after “inward migrate”".into(),
        ));
    };
    if !valid_slug(slug) {
        return Err(AdminError::Invalid(format!(
            "slug “{slug}” must be lower-case letters, digits and dashes"
        )));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(AdminError::Invalid(
            "the name must be 1 to 200 characters".into(),
        ));
    }
    let parent: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, kind FROM organizations WHERE slug = $1")
            .bind(parent_slug)
            .fetch_optional(pool)
            .await?;
    let Some((parent_id, found_kind)) = parent else {
        return Err(AdminError::Invalid(format!(
            "no organization with slug “{parent_slug}”"
        )));
    };
    if found_kind != parent_kind.as_str() {
        return Err(AdminError::Invalid(format!(
            "a {} belongs under a {}, but “{parent_slug}” is a {found_kind}",
            kind.as_str(),
            parent_kind.as_str()
        )));
    }
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO organizations (id, kind, parent_id, slug, name) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO NOTHING",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(parent_id)
    .bind(slug)
    .bind(name.trim())
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AdminError::Invalid(format!(
            "an organization with slug “{slug}” already exists"
        )));
    }
    Ok(id)
}

pub async fn add_user(
    pool: &PgPool,
    org_slug: &str,
    role: Role,
    email: &str,
    password: &str,
) -> Result<Uuid, AdminError> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 {
        return Err(AdminError::Invalid(format!(
            "“{email}” is not an email address"
        )));
    }
    let org: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, kind FROM organizations WHERE slug = $1")
            .bind(org_slug)
            .fetch_optional(pool)
            .await?;
    let Some((org_id, kind)) = org else {
        return Err(AdminError::Invalid(format!(
            "no organization with slug “{org_slug}”"
        )));
    };
    if kind != role.org_kind().as_str() {
        return Err(AdminError::Invalid(format!(
            "a {} belongs to a {} organization; “{org_slug}” is a {kind}",
            role.as_str(),
            role.org_kind().as_str()
        )));
    }
    let hash = hash_password(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO users (id, org_id, email, role, password_hash) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(org_id)
    .bind(email)
    .bind(role.as_str())
    .bind(hash)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AdminError::Invalid(format!(
            "a user with email “{email}” already exists"
        )));
    }
    Ok(id)
}

pub async fn create_token(pool: &PgPool, email: &str) -> Result<String, AdminError> {
    let new = crate::auth::tokens::NewToken {
        name: "CLI".into(),
        expires_at: None,
        scope: None,
    };
    create_named_token(pool, email, &new).await
}

/// A token for the user with `email`, as `new` says.
pub async fn create_named_token(
    pool: &PgPool,
    email: &str,
    new: &crate::auth::tokens::NewToken,
) -> Result<String, AdminError> {
    let user: Option<(crate::domain::UserId, String)> =
        sqlx::query_as("SELECT id, role FROM users WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .fetch_optional(pool)
            .await?;
    let (user, role) =
        user.ok_or_else(|| AdminError::Invalid(format!("no user with email “{email}”")))?;
    // Like every token, it acts with the role its user has now, never more later.
    let scoped = crate::auth::tokens::NewToken {
        name: new.name.clone(),
        expires_at: new.expires_at,
        scope: new.scope.or_else(|| role.parse().ok()),
    };
    Ok(crate::auth::tokens::create(pool, user, &scoped).await?.1)
}
