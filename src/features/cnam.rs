//! A number's caller-ID name: the per-number override, the tenant default, and the sync of
//! the effective name with the provider (done by `features::sync`).

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::domain::cnam::{Cnam, SyncStatus, effective};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What the pages and the API show about a number's CNAM.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CnamView {
    /// The name the number shows (override, else tenant default), if any.
    pub name: Option<String>,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: SyncStatus,
    pub reason: Option<String>,
}

impl CnamView {
    pub fn label(&self) -> &'static str {
        self.status.label()
    }
}

pub async fn view(conn: &mut PgConnection, tenant_id: TenantId, e164: &str) -> AppResult<CnamView> {
    let found: Option<CnamView> = sqlx::query_as(
        "SELECT c.name, c.override_name, c.status, c.reason FROM cnam_records c
         JOIN numbers n ON n.e164 = c.e164 AND n.tenant_id = c.tenant_id
         WHERE c.e164 = $1 AND c.tenant_id = $2",
    )
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.unwrap_or(CnamView {
        name: None,
        override_name: None,
        status: SyncStatus::NotSet,
        reason: None,
    }))
}

/// Points every number the tenant owns (active, pending, orphaned) without an override at
/// the new default (or at no name), queuing a sync for each; returns how many will be sent
/// again. Numbers provisioned later get the default from the sync job's backfill.
pub async fn apply_default(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    default: Option<&Cnam>,
) -> AppResult<u64> {
    match default {
        None => {
            sqlx::query("DELETE FROM cnam_records WHERE tenant_id = $1 AND override_name IS NULL")
                .bind(tenant_id)
                .execute(conn)
                .await?;
            Ok(0)
        }
        Some(name) => Ok(sqlx::query(
            "INSERT INTO cnam_records (e164, tenant_id, name, status)
             SELECT e164, tenant_id, $2, 'pending' FROM numbers
             WHERE tenant_id = $1 AND lifecycle IN ('active', 'pending', 'orphaned')
             ON CONFLICT (e164) DO UPDATE SET name = EXCLUDED.name, status = 'pending', reason = NULL,
                 provider_ref = NULL, attempts = 0, next_attempt_at = now(), updated_at = now()
             WHERE cnam_records.override_name IS NULL AND cnam_records.name <> EXCLUDED.name",
        )
        .bind(tenant_id)
        .bind(name.as_str())
        .execute(conn)
        .await?
        .rows_affected()),
    }
}

/// Sets (or, with `None`, removes) a number's own caller-ID name; the effective name is
/// queued for the provider.
pub async fn set_override(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    raw: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<CnamView> {
    let tenant_id = caller.tenant_admin()?;
    let override_name = Cnam::parse_optional(raw).map_err(|e| AppError::Invalid {
        code: "invalid_cnam",
        message: e.to_string(),
        details: json!({ "field": "name" }),
    })?;
    let mut tx = state.pool.begin().await?;
    crate::numbers::repo::find(&mut tx, tenant_id, number.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let settings = crate::tenants::settings::load(&mut tx, tenant_id).await?;
    let default = settings.cnam_default();
    let name = effective(override_name.as_ref(), default.as_ref()).cloned();
    match &name {
        None => {
            sqlx::query("DELETE FROM cnam_records WHERE e164 = $1")
                .bind(number.as_str())
                .execute(&mut *tx)
                .await?;
        }
        Some(name) => {
            sqlx::query(
                "INSERT INTO cnam_records (e164, tenant_id, override_name, name, status) VALUES ($1, $2, $3, $4, 'pending')
                 ON CONFLICT (e164) DO UPDATE SET override_name = EXCLUDED.override_name, name = EXCLUDED.name,
                     status = 'pending', reason = NULL, provider_ref = NULL, attempts = 0,
                     next_attempt_at = now(), updated_at = now()",
            )
            .bind(number.as_str())
            .bind(tenant_id)
            .bind(override_name.as_ref().map(Cnam::as_str))
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        }
    }
    let entry = Entry::new(Action::Cnam, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .number(number.as_str())
        .details(json!({
            "event": "changed",
            "override": override_name,
            "name": name,
            "status": if name.is_some() { "pending" } else { "not_set" },
        }));
    audit::repo::record(&mut tx, &entry).await?;
    let view = view(&mut tx, tenant_id, number.as_str()).await?;
    tx.commit().await?;
    Ok(view)
}

/// Numbers of the tenant that should carry the default name but have no record yet
/// (provisioned after the default was set) get one; run by the sync job.
pub async fn backfill_defaults(conn: &mut PgConnection) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO cnam_records (e164, tenant_id, name, status)
         SELECT n.e164, n.tenant_id, s.cnam_default, 'pending'
         FROM tenant_settings s JOIN numbers n ON n.tenant_id = s.tenant_id
         WHERE s.cnam_default IS NOT NULL AND n.lifecycle IN ('active', 'pending', 'orphaned')
           AND NOT EXISTS (SELECT 1 FROM cnam_records c WHERE c.e164 = n.e164)
         LIMIT 1000
         ON CONFLICT (e164) DO NOTHING",
    )
    .execute(conn)
    .await?
    .rows_affected())
}
