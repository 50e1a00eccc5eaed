//! Premium approvals. A reservation that holds premium numbers (the pricing rules' repeated
//! digits, round numbers, runs and words) waits for an approver before it can be provisioned:
//! a tenant admin, or the tenant's reseller, per tenant policy. While it waits the hold's
//! clock is paused: the hold lasts until a hard cap (`holds.premium_approval_max_wait_seconds`),
//! and an approval gives it the full hold time again. A decline ends the premium numbers'
//! holds; no decision by the cap lets the holds expire. The requester is notified either way.

pub mod api;
pub mod decide;
pub mod pages;
pub mod routes;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::policy::{Approver, Principal};
use crate::domain::pricing::format_money;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A premium number of a reservation, with its price.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PremiumLine {
    pub e164: String,
    /// Which premium rule it matched, for people.
    pub premium: String,
    pub monthly_micros: i64,
    pub setup_micros: i64,
}

/// What `reserve` must do when premium numbers need approval.
#[derive(Debug, Clone)]
pub struct Needed {
    pub lines: Vec<PremiumLine>,
    pub approver: Approver,
    pub deadline: DateTime<Utc>,
}

/// The premium numbers among `wanted`, priced.
pub async fn premium_lines(
    conn: &mut PgConnection,
    state: &AppState,
    wanted: &[String],
) -> AppResult<Vec<PremiumLine>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e164, kind, national FROM numbers WHERE e164 = ANY($1) ORDER BY e164",
    )
    .bind(wanted)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(e164, kind, national)| {
            let quote = state.config.pricing.quote(kind == "toll_free", &national);
            quote.premium.map(|premium| PremiumLine {
                e164,
                premium,
                monthly_micros: quote.monthly_micros,
                setup_micros: quote.setup_micros,
            })
        })
        .collect())
}

/// Called by `reserve` inside its transaction: does this reservation need an approval?
/// Not when the tenant's policy is `none`, there are no premium numbers, or the requester
/// may approve it themselves.
pub async fn needed(
    conn: &mut PgConnection,
    state: &AppState,
    caller: &Principal,
    tenant_id: TenantId,
    wanted: &[String],
) -> AppResult<Option<Needed>> {
    let settings = crate::tenants::settings::load(conn, tenant_id).await?;
    let approver = settings.approver();
    if approver == Approver::None {
        return Ok(None);
    }
    let lines = premium_lines(conn, state, wanted).await?;
    if lines.is_empty() {
        return Ok(None);
    }
    let tenant = crate::tenants::profile(conn, tenant_id).await?;
    if caller.may_approve(tenant_id, tenant.parent_id, approver) {
        return Ok(None);
    }
    let wait = state.config.holds.premium_approval_max_wait_seconds.max(1);
    Ok(Some(Needed {
        lines,
        approver,
        deadline: Utc::now() + Duration::seconds(wait),
    }))
}

/// Records the approval request of a new reservation (inside `reserve`'s transaction).
pub async fn request(
    conn: &mut PgConnection,
    caller: &Principal,
    tenant_id: TenantId,
    reservation_id: ReservationId,
    needed: &Needed,
    justification: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO approvals (id, tenant_id, reservation_id, requested_by, numbers, justification, approver, deadline)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(reservation_id)
    .bind(caller.user_id)
    .bind(json!(needed.lines))
    .bind(justification)
    .bind(needed.approver.as_str())
    .bind(needed.deadline)
    .execute(&mut *conn)
    .await?;
    for line in &needed.lines {
        let entry = Entry::new(Action::ApprovalRequest, Outcome::Success)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(&line.e164)
            .justification(justification)
            .details(json!({ "approval_id": id, "reservation_id": reservation_id, "premium": line.premium,
                              "monthly_micros": line.monthly_micros, "approver": needed.approver, "deadline": needed.deadline }));
        audit::repo::record(&mut *conn, &entry).await?;
    }
    Ok(id)
}

/// Where a premium approval stands (`approvals.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Declined,
    Expired,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 4] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Declined,
        ApprovalStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Declined => "declined",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<ApprovalStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApprovalRow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub reservation_id: ReservationId,
    pub requested_by: UserId,
    pub requested_by_email: String,
    #[serde(skip)]
    pub numbers: sqlx::types::Json<Vec<PremiumLine>>,
    pub justification: Option<String>,
    pub approver: String,
    pub status: ApprovalStatus,
    pub deadline: DateTime<Utc>,
    pub decided_by_email: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ApprovalRow {
    /// A pending approval past its deadline reads as expired, sweeper or not.
    pub fn effective_status(&self) -> ApprovalStatus {
        if self.status == ApprovalStatus::Pending && self.deadline <= Utc::now() {
            ApprovalStatus::Expired
        } else {
            self.status
        }
    }

    pub fn is_pending(&self) -> bool {
        self.effective_status() == ApprovalStatus::Pending
    }

    pub fn lines(&self) -> &[PremiumLine] {
        &self.numbers.0
    }

    pub fn monthly_total(&self) -> String {
        format_money(self.lines().iter().map(|l| l.monthly_micros).sum())
    }

    pub fn setup_total(&self) -> String {
        format_money(self.lines().iter().map(|l| l.setup_micros).sum())
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["status"] = json!(self.effective_status());
        v["numbers"] = json!(self.lines().iter().map(|l| json!({
            "e164": l.e164, "premium": l.premium,
            "monthly": format_money(l.monthly_micros), "setup": format_money(l.setup_micros),
            "monthly_micros": l.monthly_micros, "setup_micros": l.setup_micros,
        })).collect::<Vec<_>>());
        v["monthly_total"] = json!(self.monthly_total());
        v["setup_total"] = json!(self.setup_total());
        v
    }
}

const SELECT: &str = "SELECT a.id, a.tenant_id, o.name AS tenant_name, a.reservation_id, a.requested_by,
        u.email AS requested_by_email, a.numbers, a.justification, a.approver, a.status, a.deadline,
        inward_user_email(a.decided_by) AS decided_by_email, a.decided_at, a.reason, a.created_at
    FROM approvals a JOIN organizations o ON o.id = a.tenant_id JOIN users u ON u.id = a.requested_by";

/// The approvals a caller lists (`Principal::approvals_view`), as a condition on `a`/`o`.
fn scope(caller: &Principal) -> AppResult<(&'static str, Uuid)> {
    use crate::domain::policy::ApprovalsView;
    Ok(match caller.approvals_view()? {
        ApprovalsView::Tenant(tenant) => ("a.tenant_id = $1", tenant.0),
        ApprovalsView::Requester(user) => ("a.requested_by = $1", user.0),
        ApprovalsView::Reseller(reseller) => {
            ("o.parent_id = $1 AND a.approver = 'reseller'", reseller)
        }
    })
}

pub async fn list(
    conn: &mut PgConnection,
    caller: &Principal,
    status: Option<&str>,
) -> AppResult<Vec<ApprovalRow>> {
    let (filter, id) = scope(caller)?;
    let status = status
        .map(|s| {
            ApprovalStatus::parse(s).ok_or_else(|| {
                AppError::invalid_field(
                    "status",
                    "status is pending, approved, declined or expired",
                )
            })
        })
        .transpose()?;
    // A pending approval past its deadline counts as expired, swept or not.
    let status_sql = match status {
        Some(ApprovalStatus::Pending) => " AND a.status = 'pending' AND a.deadline > now()",
        Some(ApprovalStatus::Expired) => {
            " AND (a.status = 'expired' OR (a.status = 'pending' AND a.deadline <= now()))"
        }
        _ => "",
    };
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE {filter}{status_sql}
           AND ($2::text IS NULL OR $2 IN ('pending', 'expired') OR a.status = $2)
         ORDER BY (a.status = 'pending') DESC, a.created_at DESC LIMIT 200"
    ))
    .bind(id)
    .bind(status.map(ApprovalStatus::as_str))
    .fetch_all(conn)
    .await?)
}

/// The approval of a reservation, if it has one (for the reservation page and API).
pub async fn of_reservation(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    reservation_id: ReservationId,
) -> AppResult<Option<ApprovalRow>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE a.reservation_id = $1 AND a.tenant_id = $2"
    ))
    .bind(reservation_id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?)
}

/// Provisioning waits while the reservation's approval is pending.
pub async fn check_provisionable(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    reservation_id: ReservationId,
) -> AppResult<()> {
    let Some(approval) = of_reservation(conn, tenant_id, reservation_id).await? else {
        return Ok(());
    };
    if approval.is_pending() {
        let who = if approval.approver == "reseller" {
            "your reseller"
        } else {
            "a tenant admin"
        };
        return Err(AppError::conflict(
            "approval_pending",
            format!(
                "this reservation holds premium numbers ({}) and waits for {who} to approve them; \
                 the hold is kept until {} UTC",
                approval
                    .lines()
                    .iter()
                    .map(|l| l.e164.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                approval.deadline.format("%Y-%m-%d %H:%M")
            ),
            json!({ "approval_id": approval.id, "deadline": approval.deadline }),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
}

/// Marks one pending approval expired, audits it and tells the requester.
async fn expire_one(conn: &mut PgConnection, id: Uuid) -> AppResult<bool> {
    let row: Option<(TenantId, Uuid, UserId, sqlx::types::Json<Vec<PremiumLine>>)> =
        sqlx::query_as(
            "UPDATE approvals SET status = 'expired' WHERE id = $1 AND status = 'pending'
         RETURNING tenant_id, reservation_id, requested_by, numbers",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((tenant_id, reservation_id, requester, lines)) = row else {
        return Ok(false);
    };
    for line in lines.0.iter() {
        let entry = Entry::new(Action::Approve, Outcome::Expired)
            .by(Some(tenant_id), Some(requester), None)
            .number(&line.e164)
            .error("no approval before the deadline; the hold ended")
            .details(json!({ "approval_id": id, "reservation_id": reservation_id }));
        audit::repo::record(&mut *conn, &entry).await?;
    }
    crate::notifications::notify(
        conn,
        requester,
        tenant_id,
        &format!(
            "No one approved your premium numbers {} in time; they went back to inventory.",
            lines
                .0
                .iter()
                .map(|l| crate::domain::e164::format_national(&l.e164))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &format!("/reservations/{reservation_id}"),
    )
    .await?;
    Ok(true)
}

/// Sweeper step: approvals past their deadline become `expired` (their holds expire by the
/// same deadline in the hold sweeper). SKIP LOCKED: several instances never expire one twice.
pub async fn expire_due(state: &AppState) -> AppResult<usize> {
    let mut tx = state.pool.begin().await?;
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM approvals WHERE status = 'pending' AND deadline <= now()
         ORDER BY deadline LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut expired = 0;
    for id in due {
        if expire_one(&mut tx, id).await? {
            expired += 1;
        }
    }
    tx.commit().await?;
    Ok(expired)
}
