//! A routed number whose target is gone from its platform: flagged `orphaned`, its admins
//! told; the orphan job deprovisions it after the grace period.

use serde_json::json;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::Target;
use crate::domain::TenantId;
use crate::error::AppResult;
use crate::state::AppState;

/// Flags the number orphaned and tells the tenant's admins; false when it was not this
/// tenant's routed number any more (or was orphaned already).
pub async fn flag_orphan(
    state: &AppState,
    tenant_id: TenantId,
    e164: &str,
    target: &Target,
) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    if !crate::numbers::lifecycle::orphaned(&mut tx, e164, tenant_id).await? {
        return Ok(false);
    }
    // The owner is whoever provisioned it, per the audit log; every tenant admin is told too.
    let owner = audit::repo::last_provisioner(&mut tx, tenant_id, e164).await?;
    let message = format!(
        "{} lost its routing target: {} “{}” no longer exists on the platform. Re-route it within {} days or it will be deprovisioned.",
        crate::domain::e164::format_national(e164),
        target.kind.label(),
        target.name,
        state.config.orphans.grace_days
    );
    crate::notifications::notify_admins(
        &mut tx,
        tenant_id,
        owner,
        e164,
        &message,
        "/numbers/orphaned",
    )
    .await?;
    let entry = Entry::new(Action::Orphan, Outcome::Success)
        .by(Some(tenant_id), None, None)
        .number(e164)
        .target(target.kind.as_str(), Some(&target.id))
        .details(json!({ "target_name": target.name, "owner": owner }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}
