//! `pending` numbers become `active` once the platform says activation finished.
//!
//! Claim, ask, record: the numbers are claimed with a lease in a statement of their own, the
//! platform is asked with nothing locked and no transaction open, and each answer is written
//! only where the number is still pending for the same tenant. A slow or failing platform
//! therefore delays this job alone: a person releasing or rerouting a pending number never
//! waits for a platform call the job is making. The lease (not a row lock) keeps other
//! instances from asking about the same number at the same time, and lapses if the
//! instance that took it dies.

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::providers::Activation;
use crate::state::AppState;

/// Numbers asked about per pass.
const BATCH: i64 = 200;
/// How long a claim keeps other instances away: longer than a pass of platform calls.
const LEASE_SECONDS: f64 = 300.0;

#[derive(Debug, Clone)]
pub struct Claimed {
    pub e164: String,
    pub tenant_id: TenantId,
}

/// Takes up to `limit` pending numbers nobody else is asking about, oldest first, and
/// commits the lease at once.
pub async fn claim(state: &AppState, limit: i64) -> AppResult<Vec<Claimed>> {
    let rows: Vec<(String, TenantId)> = sqlx::query_as(
        "UPDATE numbers n SET activation_claimed_until = now() + make_interval(secs => $2)
         FROM (SELECT e164 FROM numbers
               WHERE lifecycle = 'pending'
                 AND (activation_claimed_until IS NULL OR activation_claimed_until <= now())
               ORDER BY state_changed_at LIMIT $1
               FOR UPDATE SKIP LOCKED) due
         WHERE n.e164 = due.e164
         RETURNING n.e164, n.tenant_id",
    )
    .bind(limit)
    .bind(LEASE_SECONDS)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(e164, tenant_id)| Claimed { e164, tenant_id })
        .collect())
}

/// Writes what the platform answered and ends the claim. True when the number became
/// active; a number released or handed to another tenant meanwhile is left as it is.
pub async fn record(state: &AppState, claimed: &Claimed, active: bool) -> AppResult<bool> {
    if !active {
        // Asked again on the next pass, by whichever instance gets there first.
        sqlx::query(
            "UPDATE numbers SET activation_claimed_until = NULL
             WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = 'pending'",
        )
        .bind(&claimed.e164)
        .bind(claimed.tenant_id)
        .execute(&state.pool)
        .await?;
        return Ok(false);
    }
    let mut tx = state.pool.begin().await?;
    let moved =
        crate::numbers::lifecycle::activated(&mut tx, &claimed.e164, claimed.tenant_id).await?;
    if moved {
        let entry = Entry::new(Action::Provision, Outcome::Success)
            .by(Some(claimed.tenant_id), None, None)
            .number(&claimed.e164)
            .details(serde_json::json!({ "activation": "completed" }));
        audit::repo::record(&mut tx, &entry).await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// One pass: claim, ask the platform about each number, record the answers.
pub async fn activate_pending(state: &AppState) -> AppResult<usize> {
    let mut activated = 0;
    for claimed in claim(state, BATCH).await? {
        // A check that fails (the platform, or the tenant's connection) ends the claim like a
        // "not yet": the number is asked about again next pass, and the others go on.
        let active = match is_active(state, &claimed).await {
            Ok(active) => active,
            Err(err) => {
                tracing::warn!(e164 = %claimed.e164, error = %err, "activation status check failed");
                false
            }
        };
        if record(state, &claimed, active).await? {
            activated += 1;
        }
    }
    Ok(activated)
}

async fn is_active(state: &AppState, claimed: &Claimed) -> AppResult<bool> {
    let number = E164::from_stored(&claimed.e164).map_err(|e| AppError::Internal(e.into()))?;
    let provider = state.platform_for(claimed.tenant_id).await?;
    Ok(matches!(
        provider.activation(&number).await?,
        Some(Activation::Immediate)
    ))
}
