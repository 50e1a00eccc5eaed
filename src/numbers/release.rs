//! Releasing a routed number, as a saga: the intent (a `release_attempts` row, with the
//! saga's lease) is committed before the platform is asked to unassign the number; then the
//! number is returned to inventory, fenced on the lease. A crash or a lost answer at any
//! point ends, once recovery has run, in "released and unrouted": recovery unassigns again
//! (unassigning is idempotent) and records the release. A refusal by the platform ends in
//! "active and routed", as before the release.

use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::{E164, Event, NumberState, policy::Principal, transition};
use crate::error::{AppError, AppResult};
use crate::saga_lease::{Lease, Saga};
use crate::state::AppState;

/// Where a test may make `inward serve` exit, to check what recovery makes of it.
fn crash_point(step: &str) {
    crate::saga_lease::crash_point(&format!("release.{step}"));
}

/// Releases a routed number: unassigns it on the platform, then returns it to inventory.
#[tracing::instrument(name = "release", skip_all, fields(number = %number))]
pub async fn release(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    request_id: Option<&str>,
) -> AppResult<NumberState> {
    let tenant_id = caller.tenant()?;
    let (_, from) = super::tenants_number(state, tenant_id, number).await?;
    let to = transition(from, Event::Release)?;
    let provider = state.platform_for(tenant_id).await?;

    let lease = open_intent(state, caller, number, from, request_id).await?;
    crash_point("after_intent");

    if let Err(err) = provider.unassign(tenant_id, number).await {
        let entry = Entry::new(Action::Release, Outcome::Failure)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(number.as_str())
            .error(err.to_string());
        audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
        if err.may_have_applied() {
            // The number may be unrouted already: leave the intent open, and recovery
            // finishes the release once the lease has run out.
            drop(lease);
            return Err(AppError::conflict(
                "release_pending",
                format!(
                    "{number}: the platform did not answer ({err}); the release will be \
                     completed automatically within a few minutes"
                ),
                json!({ "number": number }),
            ));
        }
        close_refused(state, &lease, &err.to_string()).await?;
        return Err(err.into());
    }
    crash_point("after_platform_call");

    match finish(state, &lease, number, tenant_id).await? {
        true => Ok(to),
        // Recovery finished (or is finishing) this release meanwhile.
        false => Ok(NumberState::Released),
    }
}

/// Records the release's intent with this saga's lease, before the platform is touched;
/// refuses when the number changed or another saga has it.
async fn open_intent(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    from: NumberState,
    request_id: Option<&str>,
) -> AppResult<Lease> {
    let tenant_id = caller.tenant()?;
    let attempt_id = Uuid::new_v4();
    let owner = Uuid::new_v4();
    let lease_seconds = state.config.sagas.lease_seconds;
    // The number's row lock orders this intent with a re-route's (src/numbers/reroute.rs),
    // so at most one of them is under way.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT 1 FROM numbers WHERE e164 = $1 AND tenant_id = $2 FOR UPDATE")
        .bind(number.as_str())
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    let started = sqlx::query(
        "INSERT INTO release_attempts (id, e164, tenant_id, user_id, request_id, from_state, target_type,
                                       target_id, step, lease_owner, lease_expires_at)
         SELECT $1, e164, tenant_id, $4, $5, lifecycle, target_type, target_id, 'started', $6,
                now() + make_interval(secs => $7)
         FROM numbers WHERE e164 = $2 AND tenant_id = $3 AND lifecycle = $8
           AND NOT EXISTS (SELECT 1 FROM reroute_attempts r WHERE r.e164 = $2 AND r.step = 'started')
         ON CONFLICT (e164) WHERE step = 'started' DO NOTHING",
    )
    .bind(attempt_id)
    .bind(number.as_str())
    .bind(tenant_id)
    .bind(caller.user_id)
    .bind(request_id)
    .bind(owner)
    .bind(lease_seconds as f64)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() != 1 {
        return Err(AppError::conflict(
            "state_changed",
            format!(
                "{} is being released, re-routed or changed meanwhile; reload it",
                number.national_format()
            ),
            json!(null),
        ));
    }
    tx.commit().await?;
    Ok(Lease::keep(
        state.pool.clone(),
        Saga::Release,
        attempt_id,
        owner,
        lease_seconds,
    ))
}

/// The platform refused the release: the number stays routed, the intent is closed.
async fn close_refused(state: &AppState, lease: &Lease, reason: &str) -> AppResult<()> {
    sqlx::query(
        "UPDATE release_attempts SET step = 'failed', error = $3, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step = 'started'",
    )
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .bind(reason)
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// What a release intent recorded when it started: what the audit entry says.
#[derive(sqlx::FromRow)]
struct Intent {
    from_state: String,
    target_type: Option<String>,
    target_id: Option<String>,
    user_id: Option<UserId>,
    request_id: Option<String>,
}

/// Records the release once the platform has unassigned the number, fenced on the lease.
/// False when the attempt is no longer this saga's (recovery took it over).
async fn finish(
    state: &AppState,
    lease: &Lease,
    number: &E164,
    tenant_id: TenantId,
) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    let attempt: Option<Intent> = sqlx::query_as(
            "UPDATE release_attempts SET step = 'completed', lease_expires_at = NULL, updated_at = now()
             WHERE id = $1 AND lease_owner = $2 AND step = 'started'
             RETURNING from_state, target_type, target_id, user_id, request_id",
        )
        .bind(lease.attempt_id)
        .bind(lease.owner)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(Intent {
        from_state: from,
        target_type,
        target_id,
        user_id,
        request_id,
    }) = attempt
    else {
        return Ok(false);
    };
    if !super::lifecycle::released(&mut tx, number.as_str(), tenant_id, &from).await? {
        // The number changed under the release (an operator's permanent release, say):
        // the platform no longer routes it, and Inward's record of it stands.
        tracing::warn!(%number, "a released number changed meanwhile; its record stands");
    }
    let entry = Entry::new(Action::Release, Outcome::Success)
        .by(Some(tenant_id), user_id, request_id.as_deref())
        .number(number.as_str())
        .target(target_type.as_deref().unwrap_or(""), target_id.as_deref())
        .details(json!({ "from": from }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Recovery job: finishes releases whose lease ran out (a crash, a paused process, or a
/// platform answer that was lost). Claiming writes recovery's own token and lease.
#[tracing::instrument(name = "recover_releases", skip_all)]
pub async fn recover(state: &AppState) -> AppResult<usize> {
    let lease_seconds = state.config.sagas.lease_seconds;
    let owner = Uuid::new_v4();
    let stalled: Vec<(Uuid, String, TenantId)> = sqlx::query_as(
        "UPDATE release_attempts
         SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2), updated_at = now()
         WHERE id IN (
             SELECT id FROM release_attempts
             WHERE step = 'started' AND lease_expires_at < now()
             ORDER BY lease_expires_at LIMIT 20 FOR UPDATE SKIP LOCKED)
         RETURNING id, e164, tenant_id",
    )
    .bind(owner)
    .bind(lease_seconds as f64)
    .fetch_all(&state.pool)
    .await?;
    let mut finished = 0;
    for (attempt_id, e164, tenant_id) in stalled {
        let number = E164::from_stored(&e164).map_err(|e| AppError::Internal(e.into()))?;
        let lease = Lease::keep(
            state.pool.clone(),
            Saga::Release,
            attempt_id,
            owner,
            lease_seconds,
        );
        let provider = state.platform_for(tenant_id).await?;
        match provider.unassign(tenant_id, &number).await {
            Ok(()) => {}
            // Still unanswered: the lease runs out again and the next pass retries.
            Err(err) if err.may_have_applied() => {
                tracing::warn!(%number, error = %err, "release recovery: the platform did not answer; retrying later");
                continue;
            }
            Err(err) => {
                tracing::error!(%number, error = %err, "release recovery: the platform refused; the number stays routed");
                close_refused(state, &lease, &err.to_string()).await?;
                continue;
            }
        }
        if finish(state, &lease, &number, tenant_id).await? {
            finished += 1;
        }
    }
    Ok(finished)
}
