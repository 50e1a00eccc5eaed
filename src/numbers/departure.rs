//! A number leaves the tenant that held it: released by the tenant (`release`), or
//! deprovisioned after its target stayed gone past the grace period (`jobs::orphans`).
//! Whichever way it goes, it is written the same way (`leave`), and what the tenant set on it
//! goes with it in the same transaction, so the next tenant starts from nothing.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::{Event, NumberState, transition};
use crate::error::AppResult;

/// The caller-ID name, the 911 address and the assignment to a user, trunk or SMS.
pub async fn withdraw_tenant_settings(conn: &mut PgConnection, e164: &str) -> AppResult<()> {
    crate::features::cnam::withdraw(conn, e164).await?;
    crate::features::e911::withdraw(conn, e164).await?;
    crate::inventory::assign::withdraw(conn, e164).await?;
    Ok(())
}

/// The number leaves `tenant_id` for state `to`, if it is still that tenant's number in state
/// `from`: held by nobody, routed nowhere, and aging for that tenant as its reseller set
/// (`domain::aging`: only the tenant that let it go is offered it until the period ends).
/// False when it was not (it changed meanwhile).
pub async fn leave(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: Uuid,
    from: &str,
    to: NumberState,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, tenant_id = NULL, target_type = NULL, target_id = NULL, target_name = NULL,
                display_name = NULL, orphaned_at = NULL, state_changed_at = now(),
                released_at = now(), released_by = $2,
                aging_until = now() + make_interval(days => (
                    SELECT nullif(max(s.aging_days), 0) FROM organizations o
                    JOIN reseller_settings s ON s.reseller_id = o.parent_id WHERE o.id = $2))
         WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = $4",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(to.as_str())
    .bind(from)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Records an orphan's deprovisioning once its platform no longer routes it: back in stock,
/// held by nobody, with the tenant's settings withdrawn and a `DEPROVISION` entry. False when
/// the number is no longer that tenant's orphan (re-routed or released meanwhile).
pub async fn deprovision_orphan(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: Uuid,
) -> AppResult<bool> {
    let to = transition(NumberState::Orphaned, Event::GracePeriodElapsed)?;
    if !leave(conn, e164, tenant_id, NumberState::Orphaned.as_str(), to).await? {
        return Ok(false);
    }
    withdraw_tenant_settings(conn, e164).await?;
    let entry = Entry::new(Action::Deprovision, Outcome::Success)
        .by(Some(tenant_id), None, None)
        .number(e164)
        .details(json!({ "reason": "orphaned past the grace period" }));
    audit::repo::record(conn, &entry).await?;
    Ok(true)
}
