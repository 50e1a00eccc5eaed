//! Deciding a premium approval: the caller must be the approver the tenant's policy names;
//! an approval restarts the paused holds, a decline returns the premium numbers to inventory
//! (`reservations::holds::after_premium_decision`); each number is audited and the requester
//! told, in one transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ApprovalRow, ApprovalStatus, Decision, PremiumLine, SELECT, expire_one};
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::policy::{Approver, Principal};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// An approval locked for a decision.
#[derive(sqlx::FromRow)]
struct Locked {
    tenant_id: TenantId,
    reservation_id: ReservationId,
    reseller: Option<Uuid>,
    approver: String,
    status: ApprovalStatus,
    deadline: DateTime<Utc>,
    requester: UserId,
}

/// What was decided, for the audit log and the requester.
struct Decided<'a> {
    id: Uuid,
    decision: Decision,
    reason: Option<&'a str>,
    lines: &'a [PremiumLine],
}

/// Approves or declines. The caller must be the approver the tenant's policy names.
pub async fn decide(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    decision: Decision,
    reason: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<ApprovalRow> {
    caller.approval_scope()?;
    let reason = checked_reason(decision, reason)?;
    let mut tx = state.pool.begin().await?;
    let locked = lock(&mut tx, caller, id).await?;
    if locked.deadline <= Utc::now() {
        expire_one(&mut tx, id).await?;
        tx.commit().await?;
        return Err(AppError::Gone {
            code: "approval_expired",
            message: format!(
                "the approval window closed at {} UTC and the held numbers went back to inventory",
                locked.deadline.format("%Y-%m-%d %H:%M")
            ),
        });
    }
    let lines: sqlx::types::Json<Vec<PremiumLine>> =
        sqlx::query_scalar("SELECT numbers FROM approvals WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let premium: Vec<String> = lines.0.iter().map(|l| l.e164.clone()).collect();
    let new_status = match decision {
        Decision::Approve => ApprovalStatus::Approved,
        Decision::Decline => ApprovalStatus::Declined,
    };
    sqlx::query(
        "UPDATE approvals SET status = $2, decided_by = $3, decided_at = now(), reason = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(new_status)
    .bind(caller.user_id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    crate::reservations::holds::after_premium_decision(
        &mut tx,
        locked.reservation_id,
        decision,
        &premium,
        state.config.holds.ttl_seconds as f64,
    )
    .await?;
    let decided = Decided {
        id,
        decision,
        reason,
        lines: &lines.0,
    };
    record_and_tell(&mut tx, caller, &locked, &decided, request_id).await?;
    let row: ApprovalRow = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    if decision == Decision::Decline {
        // Release the sandbox's native reservations now rather than at the next sweep.
        crate::reservations::holds::release_at_provider(state, 100)
            .await
            .ok();
    }
    Ok(row)
}

/// The reason, trimmed: at most 500 characters, and required to decline (the requester
/// reads it).
fn checked_reason(decision: Decision, reason: Option<&str>) -> AppResult<Option<&str>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(AppError::invalid_field(
            "reason",
            "the reason is limited to 500 characters",
        ));
    }
    if decision == Decision::Decline && reason.is_none() {
        return Err(AppError::invalid_field(
            "reason",
            "say why the premium numbers are declined; the requester sees it",
        ));
    }
    Ok(reason)
}

/// Locks the pending approval the caller may decide; an approval the caller may not see is
/// not found.
async fn lock(conn: &mut PgConnection, caller: &Principal, id: Uuid) -> AppResult<Locked> {
    let locked: Locked = sqlx::query_as(
        "SELECT a.tenant_id, a.reservation_id, o.parent_id AS reseller, a.approver, a.status, a.deadline,
                a.requested_by AS requester
         FROM approvals a JOIN organizations o ON o.id = a.tenant_id WHERE a.id = $1 FOR UPDATE OF a",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("approval".into()))?;
    let visible = (caller.org_id == locked.tenant_id.0)
        || (Some(caller.org_id) == locked.reseller && locked.approver == "reseller");
    if !visible {
        return Err(AppError::NotFound("approval".into()));
    }
    let approver =
        Approver::parse(&locked.approver).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    if !caller.may_approve(locked.tenant_id, locked.reseller, approver) {
        return Err(AppError::Forbidden(match approver {
            Approver::Reseller => {
                "this tenant's premium numbers are approved by its reseller".into()
            }
            _ => "only a tenant admin approves premium numbers".into(),
        }));
    }
    if locked.status != ApprovalStatus::Pending {
        return Err(AppError::conflict(
            "approval_decided",
            format!("this approval is already {}", locked.status),
            json!({ "status": locked.status }),
        ));
    }
    Ok(locked)
}

/// One audit entry per number, and a notification to the requester naming them.
async fn record_and_tell(
    conn: &mut PgConnection,
    caller: &Principal,
    locked: &Locked,
    decided: &Decided<'_>,
    request_id: Option<&str>,
) -> AppResult<()> {
    let action = match decided.decision {
        Decision::Approve => Action::Approve,
        Decision::Decline => Action::Decline,
    };
    for line in decided.lines {
        let mut entry = Entry::new(action, Outcome::Success)
            .by(Some(locked.tenant_id), Some(caller.user_id), request_id)
            .number(&line.e164)
            .details(
                json!({ "approval_id": decided.id, "reservation_id": locked.reservation_id,
                              "premium": line.premium, "monthly_micros": line.monthly_micros }),
            );
        if let Some(r) = decided.reason {
            entry = entry.justification(Some(r));
        }
        audit::repo::record(&mut *conn, &entry).await?;
    }
    // The numbers, named for people.
    let named: Vec<String> = decided
        .lines
        .iter()
        .map(|l| crate::domain::e164::format_national(&l.e164))
        .collect();
    let message = match decided.decision {
        Decision::Approve => format!(
            "Your premium numbers {} were approved by {}: provision them before the hold runs out.",
            named.join(", "),
            caller.email
        ),
        Decision::Decline => format!(
            "Your premium numbers {} were declined by {}: {}. They went back to inventory.",
            named.join(", "),
            caller.email,
            decided.reason.unwrap_or_default()
        ),
    };
    crate::notifications::notify(
        conn,
        locked.requester,
        locked.tenant_id,
        &message,
        &format!("/reservations/{}", locked.reservation_id),
    )
    .await?;
    Ok(())
}
