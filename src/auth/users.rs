//! An organization's users as its admins manage them: listed with their last sign-in,
//! created, given another role, disabled (no sign-in, every session and API token ended at
//! once) and enabled again; and a user's own password and sessions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::UserId;
use crate::domain::policy::{OrgKind, Principal, Role};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

const SELECT_ROWS: &str =
    "SELECT u.id, u.email, u.role, u.created_at, u.disabled_at, s.last_at AS last_sign_in_at
     FROM users u LEFT JOIN user_sign_ins s ON s.user_id = u.id";

async fn find(conn: &mut PgConnection, org: Uuid, id: UserId) -> AppResult<UserRow> {
    sqlx::query_as(&format!("{SELECT_ROWS} WHERE u.id = $1 AND u.org_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::NotFound("user".into()))
}

/// The roles a user of an organization of this kind can have.
pub fn roles_for(kind: OrgKind) -> &'static [Role] {
    match kind {
        OrgKind::Operator => &[Role::Operator],
        OrgKind::Reseller => &[Role::ResellerAdmin],
        OrgKind::Tenant => &[Role::TenantAdmin, Role::TenantUser],
    }
}

fn parse_role(caller: &Principal, raw: &str) -> AppResult<Role> {
    let allowed = roles_for(caller.org_kind);
    let names = || {
        allowed
            .iter()
            .map(|r| format!("“{}”", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    raw.trim()
        .parse::<Role>()
        .ok()
        .filter(|role| allowed.contains(role))
        .ok_or_else(|| {
            AppError::invalid_field(
                "role",
                format!("a user of your organization is one of {}", names()),
            )
        })
}

pub async fn list(pool: &PgPool, caller: &Principal) -> AppResult<Vec<UserRow>> {
    let org = caller.managed_org()?;
    Ok(sqlx::query_as(&format!(
        "{SELECT_ROWS} WHERE u.org_id = $1 ORDER BY lower(u.email)"
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
    id: UserId,
    disable: bool,
) -> AppResult<(UserRow, Ended)> {
    let org = caller.managed_org()?;
    if disable && id == caller.user_id {
        return Err(AppError::conflict(
            "cannot_disable_self",
            "you cannot disable yourself: ask another admin",
            serde_json::json!(null),
        ));
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(disable)
    .execute(&mut *tx)
    .await?;
    let user = find(&mut tx, org, id).await?;
    let mut ended = Ended::default();
    if disable {
        ended.sessions = end_sessions(&mut tx, id, None).await?;
        ended.tokens =
            sqlx::query_scalar("DELETE FROM api_tokens WHERE user_id = $1 RETURNING token_hash")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
    }
    tx.commit().await?;
    Ok((user, ended))
}

/// Ends `user_id`'s browser sessions, all of them or all but `keep` (a session's digest).
/// Returns the digests that ended.
async fn end_sessions(
    conn: &mut PgConnection,
    user_id: UserId,
    keep: Option<&[u8]>,
) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar(
        "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2 RETURNING token_hash",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(conn)
    .await
}

/// A user the caller's admin adds to its organization, with a first password it passes on.
#[derive(Debug, serde::Deserialize)]
pub struct NewUser {
    pub email: String,
    pub role: String,
    pub password: String,
}

pub async fn create(pool: &PgPool, caller: &Principal, new: &NewUser) -> AppResult<UserRow> {
    let org = caller.managed_org()?;
    let email = new.email.trim();
    if email.len() > 254 || !valid_email(email) {
        return Err(AppError::invalid_field(
            "email",
            format!("“{email}” is not an email address"),
        ));
    }
    let role = parse_role(caller, &new.role)?;
    if let Some(problem) = super::password::policy_problem(&new.password) {
        return Err(AppError::invalid_field("password", problem));
    }
    let hash = hash_off_thread(new.password.clone()).await?;
    let id = UserId(Uuid::new_v4());
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, org_id, email, role, password_hash) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(org)
    .bind(email)
    .bind(role.as_str())
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::conflict(
            "email_taken",
            format!("a user with email “{email}” already exists"),
            serde_json::json!(null),
        ));
    }
    let user = find(&mut tx, org, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// One `@` with something either side, no spaces or control characters: the address is
/// the user's sign-in name, not a mailbox we write to.
fn valid_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

async fn hash_off_thread(password: String) -> AppResult<String> {
    super::password::hash_password_off_thread(password)
        .await
        .map_err(AppError::Internal)
}

/// Gives another user of the caller's organization another role. The change retires every
/// instance's cached callers (the trigger on `users`), so it holds from the next request.
pub async fn set_role(
    pool: &PgPool,
    caller: &Principal,
    id: UserId,
    raw_role: &str,
) -> AppResult<(UserRow, String)> {
    let org = caller.managed_org()?;
    let role = parse_role(caller, raw_role)?;
    if id == caller.user_id {
        return Err(AppError::conflict(
            "cannot_change_own_role",
            "you cannot change your own role: ask another admin",
            serde_json::json!(null),
        ));
    }
    let mut tx = pool.begin().await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND org_id = $2 FOR UPDATE")
            .bind(id)
            .bind(org)
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.ok_or_else(|| AppError::NotFound("user".into()))?;
    sqlx::query("UPDATE users SET role = $2 WHERE id = $1 AND role <> $2")
        .bind(id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    let user = find(&mut tx, org, id).await?;
    tx.commit().await?;
    Ok((user, before))
}

/// Records a successful sign-in.
pub async fn record_sign_in(pool: &PgPool, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_sign_ins (user_id, last_at) VALUES ($1, now())
         ON CONFLICT (user_id) DO UPDATE SET last_at = excluded.last_at",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The caller changes its own password, proving it knows the current one. Its other
/// sessions end (whoever else knew the old password is signed out); `keep` is the session
/// it is made from, if any. Returns the digests of the sessions that ended.
pub async fn change_password(
    pool: &PgPool,
    caller: &Principal,
    current: &str,
    new: &str,
    keep: Option<&[u8]>,
) -> AppResult<Vec<Vec<u8>>> {
    // Guessing the current password here counts against the same lock as the sign-in form.
    if let Some(seconds) = super::throttle::locked_for(pool, &caller.email).await? {
        return Err(AppError::Rejected {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            message: format!(
                "too many wrong passwords for this account: try again in {} minute(s)",
                (seconds + 59) / 60
            ),
        });
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(caller.user_id)
            .fetch_one(pool)
            .await?;
    if stored.is_none() {
        return Err(AppError::invalid_field(
            "current_password",
            "you sign in with your company account and have no password here to change",
        ));
    }
    if !super::password::verify_password_off_thread(current.to_string(), stored).await {
        super::throttle::record_failure(pool, &caller.email).await?;
        return Err(AppError::invalid_field(
            "current_password",
            "that is not your current password",
        ));
    }
    super::throttle::clear(pool, &caller.email).await?;
    if current == new {
        return Err(AppError::invalid_field(
            "new_password",
            "the new password is the same as the current one",
        ));
    }
    if let Some(problem) = super::password::policy_problem(new) {
        return Err(AppError::invalid_field("new_password", problem));
    }
    let hash = hash_off_thread(new.to_string()).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(caller.user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    let ended = end_sessions(&mut tx, caller.user_id, keep).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Ends the caller's browser sessions other than `keep`. Returns their digests.
pub async fn end_other_sessions(
    pool: &PgPool,
    caller: &Principal,
    keep: Option<&[u8]>,
) -> AppResult<Vec<Vec<u8>>> {
    Ok(end_sessions(&mut *pool.acquire().await?, caller.user_id, keep).await?)
}

/// How many browser sessions the user has open.
pub async fn open_sessions(pool: &PgPool, user_id: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND expires_at > now()",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?)
}

/// The digests of the sessions and API tokens a disable ended.
#[derive(Default)]
pub struct Ended {
    pub sessions: Vec<Vec<u8>>,
    pub tokens: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_one_at_sign_with_text_either_side() {
        assert!(valid_email("ana@globex.test"));
        for bad in [
            "ana",
            "@globex.test",
            "ana@",
            "a@b@c",
            "ana @globex.test",
            "ana@glo\u{7}bex",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn each_kind_of_organization_has_its_own_roles() {
        assert_eq!(
            roles_for(OrgKind::Tenant),
            &[Role::TenantAdmin, Role::TenantUser]
        );
        assert_eq!(roles_for(OrgKind::Reseller), &[Role::ResellerAdmin]);
        assert_eq!(roles_for(OrgKind::Operator), &[Role::Operator]);
    }
}
