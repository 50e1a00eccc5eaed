//! A tenant admin's assignment of the tenant's numbers to a user's phone number, a trunk's
//! default DID, or SMS. One row per number in `number_assignments`; the inventory list filters
//! on `assignment=unassigned` to show what is free.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize)]
pub struct Assignment {
    pub kind: String,
    pub assignee: String,
}

fn tenant_admin(caller: &Principal) -> AppResult<TenantId> {
    Ok(caller.tenant_admin()?)
}

/// Assigns (or re-assigns) one of the tenant's numbers.
pub async fn assign(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    assignment: &Assignment,
    request_id: Option<&str>,
) -> AppResult<Value> {
    let tenant = tenant_admin(caller)?;
    let kind = assignment.kind.trim();
    if !matches!(kind, "user" | "trunk" | "sms") {
        return Err(AppError::invalid_field(
            "kind",
            "kind must be user (a user's phone number), trunk (a trunk's default DID) or sms",
        ));
    }
    let assignee = assignment.assignee.trim();
    if assignee.is_empty() || assignee.chars().count() > 200 {
        return Err(AppError::invalid_field(
            "assignee",
            "name the user or trunk (1 to 200 characters)",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let row: Option<(bool, bool)> = sqlx::query_as(
        "SELECT voice, sms FROM numbers WHERE e164 = $1 AND (allocated_tenant_id = $2 OR tenant_id = $2) FOR UPDATE",
    )
    .bind(number.as_str())
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?;
    let (voice, sms) = row.ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    if kind == "sms" && !sms {
        return Err(AppError::invalid_field(
            "kind",
            format!("{number} is not SMS-enabled"),
        ));
    }
    if kind != "sms" && !voice {
        return Err(AppError::invalid_field(
            "kind",
            format!("{number} is not a voice number"),
        ));
    }
    sqlx::query(
        "INSERT INTO number_assignments (e164, tenant_id, kind, assignee, assigned_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (e164) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, kind = EXCLUDED.kind,
             assignee = EXCLUDED.assignee, assigned_by = EXCLUDED.assigned_by, assigned_at = now()",
    )
    .bind(number.as_str())
    .bind(tenant)
    .bind(kind)
    .bind(assignee)
    .bind(caller.user_id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(Action::Assign, Outcome::Success)
        .by(Some(tenant), Some(caller.user_id), request_id)
        .number(number.as_str())
        .target(kind, Some(assignee));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(json!({ "e164": number, "kind": kind, "assignee": assignee }))
}

pub async fn unassign(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant = tenant_admin(caller)?;
    let mut tx = state.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM number_assignments WHERE e164 = $1 AND tenant_id = $2")
        .bind(number.as_str())
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("an assignment of {number}")));
    }
    let entry = Entry::new(Action::Unassign, Outcome::Success)
        .by(Some(tenant), Some(caller.user_id), request_id)
        .number(number.as_str());
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}
