//! An organization's users as its admins manage them: listed, disabled (no sign-in, every
//! session and API token ended at once) and enabled again.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::policy::{Principal, Role};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

const ROW_COLUMNS: &str = "id, email, role, created_at, disabled_at";

/// The organization whose users the caller manages: its own, for its admins.
pub fn managed_org(caller: &Principal) -> AppResult<Uuid> {
    match caller.role {
        Role::Operator | Role::ResellerAdmin | Role::TenantAdmin => Ok(caller.org_id),
        Role::TenantUser => Err(AppError::Forbidden(
            "only your organization's admins manage its users".into(),
        )),
    }
}

pub async fn list(pool: &PgPool, caller: &Principal) -> AppResult<Vec<UserRow>> {
    let org = managed_org(caller)?;
    Ok(sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM users WHERE org_id = $1 ORDER BY lower(email)"
    ))
    .bind(org)
    .fetch_all(pool)
    .await?)
}

/// Disables (`disable = true`) or enables a user of the caller's organization. Disabling ends
/// the user's sessions and API tokens in the same transaction; the deletes and the update
/// are announced to every instance (`caches`), so the user is refused at once everywhere.
/// Returns the user and the digests of the sessions and tokens that ended.
pub async fn set_disabled(
    pool: &PgPool,
    caller: &Principal,
    id: Uuid,
    disable: bool,
) -> AppResult<(UserRow, Ended)> {
    let org = managed_org(caller)?;
    if disable && id == caller.user_id {
        return Err(AppError::conflict(
            "cannot_disable_self",
            "you cannot disable yourself: ask another admin",
            serde_json::json!(null),
        ));
    }
    let mut tx = pool.begin().await?;
    let user: Option<UserRow> = sqlx::query_as(&format!(
        "UPDATE users SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END
         WHERE id = $1 AND org_id = $2 RETURNING {ROW_COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(disable)
    .fetch_optional(&mut *tx)
    .await?;
    let user = user.ok_or_else(|| AppError::NotFound("user".into()))?;
    let mut ended = Ended::default();
    if disable {
        ended.sessions =
            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        ended.tokens =
            sqlx::query_scalar("DELETE FROM api_tokens WHERE user_id = $1 RETURNING token_hash")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
    }
    tx.commit().await?;
    Ok((user, ended))
}

/// The digests of the sessions and API tokens a disable ended.
#[derive(Default)]
pub struct Ended {
    pub sessions: Vec<Vec<u8>>,
    pub tokens: Vec<Vec<u8>>,
}
