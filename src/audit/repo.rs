use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::Entry;
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::policy::AuditScope;

pub async fn record(conn: &mut PgConnection, entry: &Entry) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, user_id, phone_number, action, target_type, target_id,
                                status, error_message, request_id, justification, details, org_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(entry.tenant_id)
    .bind(entry.user_id)
    .bind(&entry.phone_number)
    .bind(entry.action.as_str())
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(entry.status.as_str())
    .bind(&entry.error_message)
    .bind(&entry.request_id)
    .bind(&entry.justification)
    .bind(&entry.details)
    .bind(entry.org_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Who last provisioned the number in the tenant, per the audit log.
pub async fn last_provisioner(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    e164: &str,
) -> sqlx::Result<Option<UserId>> {
    let user: Option<Option<UserId>> = sqlx::query_scalar(
        "SELECT user_id FROM audit_log WHERE phone_number = $1 AND tenant_id = $2 AND action = 'PROVISION' AND status = 'SUCCESS' AND user_id IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(user.flatten())
}

/// When the tenant last recorded `event` (in `details`) of `action` on the number.
pub async fn last_event_at(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    e164: &str,
    action: &str,
    event: &str,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar(
        "SELECT at FROM audit_log WHERE phone_number = $1 AND tenant_id = $2 AND action = $3
           AND details->>'event' = $4 ORDER BY id DESC LIMIT 1",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(action)
    .bind(event)
    .fetch_optional(conn)
    .await
}

/// Many entries in one statement (the deferred SEARCH entries), in the order given.
pub async fn record_many(conn: &mut PgConnection, entries: &[Entry]) -> sqlx::Result<()> {
    fn column<T>(entries: &[Entry], f: impl Fn(&Entry) -> T) -> Vec<T> {
        entries.iter().map(f).collect()
    }
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, user_id, phone_number, action, target_type, target_id,
                                status, error_message, request_id, justification, details, org_id)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::uuid[])",
    )
    .bind(column(entries, |e| e.tenant_id))
    .bind(column(entries, |e| e.user_id))
    .bind(column(entries, |e| e.phone_number.clone()))
    .bind(column(entries, |e| e.action.as_str()))
    .bind(column(entries, |e| e.target_type.clone()))
    .bind(column(entries, |e| e.target_id.clone()))
    .bind(column(entries, |e| e.status.as_str()))
    .bind(column(entries, |e| e.error_message.clone()))
    .bind(column(entries, |e| e.request_id.clone()))
    .bind(column(entries, |e| e.justification.clone()))
    .bind(column(entries, |e| e.details.clone()))
    .bind(column(entries, |e| e.org_id))
    .execute(conn)
    .await?;
    Ok(())
}

/// SEARCH entries, into their own table (see migration 0028).
pub async fn record_searches(conn: &mut PgConnection, entries: &[Entry]) -> sqlx::Result<()> {
    fn column<T>(entries: &[Entry], f: impl Fn(&Entry) -> T) -> Vec<T> {
        entries.iter().map(f).collect()
    }
    sqlx::query(
        "INSERT INTO search_log (tenant_id, user_id, org_id, status, error_message, request_id, details)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[])",
    )
    .bind(column(entries, |e| e.tenant_id))
    .bind(column(entries, |e| e.user_id))
    .bind(column(entries, |e| e.org_id))
    .bind(column(entries, |e| e.status.as_str()))
    .bind(column(entries, |e| e.error_message.clone()))
    .bind(column(entries, |e| e.request_id.clone()))
    .bind(column(entries, |e| e.details.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Searches older than `days`, `limit` at a time; how many went.
pub async fn prune_searches(pool: &sqlx::PgPool, days: i64, limit: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM search_log WHERE id IN (
             SELECT id FROM search_log WHERE at < now() - make_interval(days => $1::int) LIMIT $2)",
    )
    .bind(days)
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}

/// The numbers permanently released (removed from Inward, disconnected) between `from` and
/// `to`, oldest first.
pub async fn permanent_releases(
    conn: &mut PgConnection,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as(
        "SELECT phone_number, at FROM audit_log
         WHERE action = 'PERMANENT_RELEASE' AND status = 'SUCCESS' AND at >= $1 AND at < $2
           AND phone_number IS NOT NULL
         ORDER BY at, phone_number",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// A successful PROVISION, RELEASE or DEPROVISION of a tenant's number: when the tenant's
/// use of it began or ended (the cost report).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UseEntry {
    pub tenant_id: TenantId,
    pub phone_number: String,
    pub at: DateTime<Utc>,
    pub action: String,
    pub details: Option<serde_json::Value>,
}

/// The use entries of `tenants` that bear on `[from, to)`, by tenant, number and time: those
/// of the period, and of the time before it only those after the number's last end before
/// it (the use still open at `from`, if any), so that a long history is not read back.
pub async fn number_uses(
    conn: &mut PgConnection,
    tenants: &[TenantId],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> sqlx::Result<Vec<UseEntry>> {
    sqlx::query_as(
        "SELECT a.tenant_id, a.phone_number, a.at, a.action, a.details FROM audit_log a
         WHERE a.tenant_id = ANY($1) AND a.status = 'SUCCESS'
           AND a.action IN ('PROVISION', 'RELEASE', 'DEPROVISION')
           AND a.phone_number IS NOT NULL AND a.at < $3
           AND (a.at >= $2 OR NOT EXISTS (
                SELECT 1 FROM audit_log e
                 WHERE e.tenant_id = a.tenant_id AND e.phone_number = a.phone_number
                   AND e.status = 'SUCCESS' AND e.action IN ('RELEASE', 'DEPROVISION')
                   AND e.at > a.at AND e.at < $2))
         ORDER BY a.tenant_id, a.phone_number, a.at, a.id",
    )
    .bind(tenants)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    #[serde(rename = "timestamp")]
    pub at: DateTime<Utc>,
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub phone_number: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub status: String,
    pub error_message: Option<String>,
    pub request_id: Option<String>,
    pub justification: Option<String>,
    pub details: Option<serde_json::Value>,
    /// The acting organization (NULL on entries written before migration 0007).
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub number: Option<String>,
    /// Only these actions (empty: all).
    pub actions: Vec<String>,
    /// Not these actions (SEARCH, say, which outnumbers everything else).
    pub excluded: Vec<String>,
    pub user_id: Option<UserId>,
    /// The acting user's email, whatever its letter case.
    pub user_email: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    scope: &AuditScope,
    filter: &AuditFilter,
) -> sqlx::Result<Vec<AuditRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT a.id, a.at, a.tenant_id, a.user_id, inward_user_email(a.user_id) AS user_email, a.phone_number, a.action,
                a.target_type, a.target_id, a.status, a.error_message, a.request_id, a.justification, a.details,
                a.org_id
         FROM (SELECT id, at, tenant_id, user_id, phone_number, action, target_type, target_id,
                      status, error_message, request_id, justification, details, org_id
               FROM audit_log
               UNION ALL
               SELECT id, at, tenant_id, user_id, NULL, 'SEARCH', NULL, NULL,
                      status, error_message, request_id, NULL, details, org_id
               FROM search_log) a
         WHERE ",
    );
    match scope {
        AuditScope::Everything => q.push("true"),
        AuditScope::Tenant(tenant) => q.push("a.tenant_id = ").push_bind(*tenant),
        // Its tenants' entries, and its own (inventory work carries no tenant).
        AuditScope::TenantsOfReseller(reseller) => q
            .push("(a.tenant_id IN (SELECT id FROM organizations WHERE parent_id = ")
            .push_bind(*reseller)
            .push(") OR a.org_id = ")
            .push_bind(*reseller)
            .push(")"),
    };
    if let Some(number) = &filter.number {
        q.push(" AND a.phone_number = ").push_bind(number.clone());
    }
    if !filter.actions.is_empty() {
        q.push(" AND a.action = ANY(")
            .push_bind(filter.actions.clone())
            .push(")");
    }
    if !filter.excluded.is_empty() {
        q.push(" AND a.action <> ALL(")
            .push_bind(filter.excluded.clone())
            .push(")");
    }
    if let Some(user) = filter.user_id {
        q.push(" AND a.user_id = ").push_bind(user);
    }
    if let Some(email) = &filter.user_email {
        q.push(" AND a.user_id = inward_user_by_email(")
            .push_bind(email.clone())
            .push(")");
    }
    if let Some(from) = filter.from {
        q.push(" AND a.at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(" AND a.at < ").push_bind(to);
    }
    if let Some(before) = filter.before_id {
        q.push(" AND a.id < ").push_bind(before);
    }
    q.push(" ORDER BY a.id DESC LIMIT ").push_bind(filter.limit);
    q.build_query_as().fetch_all(conn).await
}
