//! API tokens: made by their user (the token is shown once; only its SHA-256 is kept), named,
//! optionally expiring, listed with when each was last used, and revoked at once. Admins
//! (tenant, reseller, operator) see and revoke their organization's tokens too.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::password::{new_token, token_digest};
use super::repo::{PRINCIPAL_COLUMNS, principal_from_row};
use crate::domain::UserId;
use crate::domain::policy::{Principal, Role};
use crate::error::{AppError, AppResult};

/// The longest a token may be made to live.
pub const MAX_DAYS: i64 = 3650;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub user_email: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The role the token acts with (capped by its user's role at each use); none for a
    /// token made before scopes, which acts with its user's role.
    pub scope: Option<String>,
}

/// `TokenRow`'s columns, of `api_tokens t` joined to `users u`.
const ROW_COLUMNS: &str =
    "t.id, t.name, u.email AS user_email, t.created_at, t.last_used_at, t.expires_at, t.scope";

/// A token as asked for, checked.
pub struct NewToken {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<Role>,
}

impl NewToken {
    /// `name`: 1 to 64 characters, no control characters; `days`: 1 to `MAX_DAYS`, or none.
    pub fn parse(name: &str, days: Option<i64>) -> AppResult<NewToken> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                "name",
                "name the token (what uses it), 1 to 64 characters",
            ));
        }
        if days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
            return Err(AppError::invalid_field(
                "expires_in_days",
                format!("a token expires after 1 to {MAX_DAYS} days, or never (leave it out)"),
            ));
        }
        Ok(NewToken {
            name,
            expires_at: days.map(|d| Utc::now() + Duration::days(d)),
            scope: None,
        })
    }

    /// Scopes the token to `scope` (a role name), which `role`, the rights its maker acts
    /// with now, must be able to act as; none or empty means `role`. The scope is always
    /// stored: a token made by a scoped token gets no more than that token had, and a token
    /// gains nothing when its user is promoted.
    pub fn scoped(mut self, role: Role, scope: Option<&str>) -> AppResult<NewToken> {
        let scope = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => role,
            Some(raw) => raw
                .parse::<Role>()
                .ok()
                .filter(|scope| role.can_act_as(*scope))
                .ok_or_else(|| {
                    AppError::invalid_field(
                        "scope",
                        format!(
                            "a token of yours acts as “{}” or less (“tenant_user” for a tenant admin)",
                            role.as_str()
                        ),
                    )
                })?,
        };
        self.scope = Some(scope);
        Ok(self)
    }
}

/// Whether the caller manages its organization's tokens, not only its own.
fn manages_org(caller: &Principal) -> bool {
    matches!(
        caller.role,
        Role::Operator | Role::ResellerAdmin | Role::TenantAdmin
    )
}

/// Makes a token for `user_id`; returns its id and the token, which is never shown again.
pub async fn create(
    pool: &PgPool,
    user_id: UserId,
    new: &NewToken,
) -> sqlx::Result<(Uuid, String)> {
    let id = Uuid::new_v4();
    let token = new_token("inw_");
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_hash, name, expires_at, scope) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user_id)
    .bind(token_digest(&token))
    .bind(&new.name)
    .bind(new.expires_at)
    .bind(new.scope.map(Role::as_str))
    .execute(pool)
    .await?;
    Ok((id, token))
}

/// The caller's tokens, or its organization's for an admin; newest first.
pub async fn list(pool: &PgPool, caller: &Principal) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE (t.user_id = $1 OR ($2 AND u.org_id = $3))
         ORDER BY t.created_at DESC, t.id LIMIT 500"
    ))
    .bind(caller.user_id)
    .bind(manages_org(caller))
    .bind(caller.org_id)
    .fetch_all(pool)
    .await
}

/// A revoked token, and its digest (to forget it from this instance's cache at once).
#[derive(sqlx::FromRow)]
pub struct Revoked {
    #[sqlx(flatten)]
    pub token: TokenRow,
    pub token_hash: Vec<u8>,
}

/// Revokes one of the tokens `list` shows the caller; 404 for any other.
pub async fn revoke(pool: &PgPool, caller: &Principal, id: Uuid) -> AppResult<Revoked> {
    let revoked: Option<Revoked> = sqlx::query_as(&format!(
        "DELETE FROM api_tokens t USING users u
         WHERE t.id = $4 AND u.id = t.user_id AND (t.user_id = $1 OR ($2 AND u.org_id = $3))
         RETURNING {ROW_COLUMNS}, t.token_hash"
    ))
    .bind(caller.user_id)
    .bind(manages_org(caller))
    .bind(caller.org_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    revoked.ok_or_else(|| AppError::NotFound("API token".into()))
}

/// Every token, or one user's, for the operator's CLI.
pub async fn list_all(pool: &PgPool, email: Option<&str>) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE $1::text IS NULL OR lower(u.email) = lower($1)
         ORDER BY u.email, t.created_at"
    ))
    .bind(email)
    .fetch_all(pool)
    .await
}

/// Revokes any token, for the operator's CLI.
pub async fn revoke_any(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!(
        "DELETE FROM api_tokens t USING users u WHERE t.id = $1 AND u.id = t.user_id
         RETURNING {ROW_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The user a presented token acts for, and when the token expires; none for an unknown,
/// revoked or expired token.
pub async fn principal_for(
    pool: &PgPool,
    token: &str,
) -> sqlx::Result<Option<(Principal, Option<DateTime<Utc>>)>> {
    // `last_used_at` is written at most once a minute per token: an automation sending
    // many concurrent requests with one token would otherwise queue on that row's lock.
    let sql = format!(
        "WITH used AS (SELECT id, user_id, last_used_at, expires_at, scope FROM api_tokens
                       WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > now())),
              touched AS (UPDATE api_tokens t SET last_used_at = now() FROM used
                          WHERE t.id = used.id
                            AND (used.last_used_at IS NULL OR used.last_used_at < now() - interval '1 minute'))
         SELECT {PRINCIPAL_COLUMNS}, used.expires_at AS token_expires_at, used.scope FROM used
         JOIN users u ON u.id = used.user_id AND u.disabled_at IS NULL
         JOIN organizations o ON o.id = u.org_id"
    );
    let row = sqlx::query(&sql)
        .bind(token_digest(token))
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        use sqlx::Row;
        let mut principal = principal_from_row(&r)?;
        let scope: Option<String> = r.try_get("scope")?;
        let scope = scope
            .map(|s| s.parse::<Role>())
            .transpose()
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        principal.role = principal.role.within(scope);
        Ok((principal, r.try_get("token_expires_at")?))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lifetimes_are_checked() {
        let t = NewToken::parse("  nightly   sync ", Some(30)).unwrap();
        assert_eq!(t.name, "nightly sync");
        assert!(t.expires_at.is_some());
        assert!(NewToken::parse("ci", None).unwrap().expires_at.is_none());
        assert!(NewToken::parse("", None).is_err());
        assert!(NewToken::parse(&"x".repeat(65), None).is_err());
        assert!(NewToken::parse("ci", Some(0)).is_err());
        assert!(NewToken::parse("ci", Some(MAX_DAYS + 1)).is_err());
        let scoped = NewToken::parse("ci", None).unwrap();
        let scoped = scoped
            .scoped(Role::TenantAdmin, Some("tenant_user"))
            .unwrap();
        assert_eq!(scoped.scope, Some(Role::TenantUser));
        let same = NewToken::parse("ci", None).unwrap();
        let same = same
            .scoped(Role::TenantAdmin, Some("tenant_admin"))
            .unwrap();
        assert_eq!(same.scope, Some(Role::TenantAdmin));
        // Made by a token scoped to tenant user: no more than that.
        let unscoped = NewToken::parse("ci", None).unwrap();
        let unscoped = unscoped.scoped(Role::TenantUser, None).unwrap();
        assert_eq!(unscoped.scope, Some(Role::TenantUser));
        let above = NewToken::parse("ci", None).unwrap();
        assert!(
            above
                .scoped(Role::TenantUser, Some("tenant_admin"))
                .is_err()
        );
        let nonsense = NewToken::parse("ci", None).unwrap();
        assert!(nonsense.scoped(Role::TenantAdmin, Some("root")).is_err());
    }
}
