//! Re-routing a number, live or orphaned, as a saga. The intent (a `reroute_attempts` row,
//! with the saga's lease) is committed before the platform is touched. Every platform routes
//! a number to one place and refuses one already in use, so the saga unassigns the number,
//! then assigns it to the new target, then records the new target, fenced on the lease. A
//! refusal of the new target is compensated by assigning the old one back; if the platform
//! refuses that too, the number is routed nowhere and Inward says so (orphaned, its admins
//! told). A crash or a lost answer leaves the intent open, and recovery drives it forward
//! again: unassigning, and assigning to the target a number already has, are idempotent.
//!
//! One file over 500 lines: the saga, its compensation and its recovery share the intent row
//! and the lease fence, and a change to one must be read against the others.

use serde_json::json;
use uuid::Uuid;

use super::{lifecycle, repo};
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::{E164, Event, NumberState, Target, TargetKind, policy::Principal, transition};
use crate::error::{AppError, AppResult};
use crate::providers::{NumberRef, Platform, ProviderError, ProviderErrorKind};
use crate::saga_lease::{Lease, Saga};
use crate::state::AppState;

/// SQL true for a number (`alias`, a row of `numbers`) that no re-route is moving now.
pub fn not_being_rerouted_sql(alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM reroute_attempts ra WHERE ra.e164 = {alias}.e164 AND ra.step = 'started')"
    )
}

/// Whether a re-route of `e164` is under way (its intent still open). Other writers of a
/// number's routing (drift actions, re-applying routing after a platform switch) leave such
/// a number alone, and say so.
pub async fn in_progress(pool: &sqlx::PgPool, e164: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reroute_attempts WHERE e164 = $1 AND step = 'started')",
    )
    .bind(e164)
    .fetch_one(pool)
    .await?)
}

/// The refusal those writers give for a number being re-routed.
pub fn busy(number: &E164) -> AppError {
    AppError::conflict(
        "state_changed",
        format!(
            "{} is being re-routed; try again once that is done (within a few minutes)",
            number.national_format()
        ),
        json!({ "number": number }),
    )
}

/// Where a test may make `inward serve` exit, to check what recovery makes of it.
fn crash_point(step: &str) {
    crate::saga_lease::crash_point(&format!("reroute.{step}"));
}

/// Routes `number` to the target `kind`/`target_id` of the tenant's platform.
#[tracing::instrument(name = "reroute", skip_all, fields(number = %number, kind = kind, target_id = target_id))]
pub async fn reroute(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    kind: &str,
    target_id: &str,
    request_id: Option<&str>,
) -> AppResult<Target> {
    let tenant_id = caller.tenant()?;
    let (current, from) = super::tenants_number(state, tenant_id, number).await?;
    transition(from, Event::Rerouted)?;
    let kind: TargetKind = kind
        .parse()
        .map_err(|e: String| AppError::invalid_field("target.type", e))?;
    if from == NumberState::Active
        && current.target_type.as_deref() == Some(kind.as_str())
        && current.target_id.as_deref() == Some(target_id)
    {
        return Err(AppError::invalid_field(
            "target",
            format!(
                "{} is already routed to {} {}",
                number.national_format(),
                kind.label(),
                current.target_name.as_deref().unwrap_or(target_id)
            ),
        ));
    }
    let provider = state.platform_for(tenant_id).await?;
    let target = provider
        .find_target(tenant_id, kind, target_id)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "{} {target_id} among your tenant's routing targets",
                kind.label()
            ))
        })?;

    let lease = start(state, caller, &current, from, &target, request_id).await?;
    crash_point("after_intent");
    let intent = Intent::of(state, &lease).await?;
    let driven = drive(state, &lease, &intent, provider.as_ref()).await?;
    answer(number, target, &intent, driven)
}

/// What the caller is told of a re-route that ran: the target, or what became of the number.
fn answer(number: &E164, target: Target, intent: &Intent, driven: Driven) -> AppResult<Target> {
    match driven {
        Driven::Done => Ok(target),
        Driven::Changed => Err(AppError::conflict(
            "state_changed",
            format!(
                "{} is routed to {} {} on the platform, but it changed in Inward meanwhile; \
                 reload it and check its target",
                number.national_format(),
                target.kind.label(),
                target.name
            ),
            json!({ "number": number }),
        )),
        Driven::Overtaken => Err(AppError::conflict(
            "reroute_pending",
            format!(
                "{}: the re-route took too long and is being completed automatically; \
                 reload the number in a minute to see where it goes",
                number.national_format()
            ),
            json!({ "number": number }),
        )),
        Driven::Pending(err) => Err(AppError::conflict(
            "reroute_pending",
            format!(
                "{}: the platform did not answer ({err}); the re-route will be completed \
                 automatically within a few minutes",
                number.national_format()
            ),
            json!({ "number": number }),
        )),
        Driven::Refused(err) => Err(err.into()),
        Driven::Compensated(err) => Err(AppError::ProviderPartial {
            message: format!(
                "{} still goes to {}: the platform refused {} {} ({err})",
                number.national_format(),
                intent.old_target_label(),
                target.kind.label(),
                target.name
            ),
            details: json!({ "number": number, "routed_to": intent.old_target() }),
        }),
        Driven::Unrouted { refused, restore } => Err(AppError::ProviderPartial {
            message: format!(
                "{} is routed nowhere now: the platform refused {} {} ({refused}), then \
                 refused to route it back to {} ({restore}). It is listed under Orphaned \
                 numbers; re-route it there.",
                number.national_format(),
                target.kind.label(),
                target.name,
                intent.old_target_label()
            ),
            details: json!({ "number": number, "routed_to": null }),
        }),
    }
}

/// Commits the intent. The number's row lock orders it with a release of the same number
/// (which takes the lock too), so at most one of them is under way.
async fn start(
    state: &AppState,
    caller: &Principal,
    current: &repo::TenantNumber,
    from: NumberState,
    target: &Target,
    request_id: Option<&str>,
) -> AppResult<Lease> {
    let tenant_id = caller.tenant()?;
    let attempt_id = Uuid::new_v4();
    let owner = Uuid::new_v4();
    let lease_seconds = state.config.sagas.lease_seconds;
    let mut tx = state.pool.begin().await?;
    // The intent records the target the number has under this lock, which must still be
    // the one read before the platform was asked about the new target.
    type Routing = (String, Option<String>, Option<String>);
    let locked: Option<Routing> = sqlx::query_as(
        "SELECT lifecycle, target_type, target_id FROM numbers
         WHERE e164 = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(&current.e164)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let busy = || {
        AppError::conflict(
            "state_changed",
            format!(
                "{} is being re-routed, released or changed meanwhile; reload it",
                crate::domain::e164::format_national(&current.e164)
            ),
            json!(null),
        )
    };
    let unchanged = (
        from.as_str().to_string(),
        current.target_type.clone(),
        current.target_id.clone(),
    );
    if locked != Some(unchanged) {
        return Err(busy());
    }
    let started = sqlx::query(
        "INSERT INTO reroute_attempts (id, e164, tenant_id, user_id, request_id, from_state,
             old_target_type, old_target_id, old_target_name, target_type, target_id, target_name,
             display_name, us_state, step, lease_owner, lease_expires_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'started', $15,
                now() + make_interval(secs => $16)
         WHERE NOT EXISTS (SELECT 1 FROM release_attempts WHERE e164 = $2 AND step = 'started')
         ON CONFLICT (e164) WHERE step = 'started' DO NOTHING",
    )
    .bind(attempt_id)
    .bind(&current.e164)
    .bind(tenant_id)
    .bind(caller.user_id)
    .bind(request_id)
    .bind(from.as_str())
    .bind(&current.target_type)
    .bind(&current.target_id)
    .bind(&current.target_name)
    .bind(target.kind.as_str())
    .bind(&target.id)
    .bind(&target.name)
    .bind(&current.display_name)
    .bind(&current.us_state)
    .bind(owner)
    .bind(lease_seconds as f64)
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() != 1 {
        return Err(busy());
    }
    tx.commit().await?;
    Ok(Lease::keep(
        state.pool.clone(),
        Saga::Reroute,
        attempt_id,
        owner,
        lease_seconds,
    ))
}

/// What the intent recorded: enough for recovery to finish the re-route without the request.
#[derive(Debug, sqlx::FromRow)]
struct Intent {
    e164: String,
    tenant_id: TenantId,
    user_id: Option<UserId>,
    request_id: Option<String>,
    from_state: String,
    old_target_type: Option<String>,
    old_target_id: Option<String>,
    old_target_name: Option<String>,
    target_type: String,
    target_id: String,
    target_name: String,
    display_name: Option<String>,
    us_state: Option<String>,
}

impl Intent {
    async fn of(state: &AppState, lease: &Lease) -> AppResult<Intent> {
        Ok(sqlx::query_as(
            "SELECT e164, tenant_id, user_id, request_id, from_state, old_target_type, old_target_id,
                    old_target_name, target_type, target_id, target_name, display_name, us_state
             FROM reroute_attempts WHERE id = $1",
        )
        .bind(lease.attempt_id)
        .fetch_one(&state.pool)
        .await?)
    }

    fn number(&self) -> AppResult<E164> {
        E164::from_stored(&self.e164).map_err(|e| AppError::Internal(e.into()))
    }

    fn target(&self) -> AppResult<Target> {
        Ok(Target {
            kind: self
                .target_type
                .parse()
                .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
            id: self.target_id.clone(),
            name: self.target_name.clone(),
        })
    }

    /// The target a live number had, to route it back to. An orphan's is gone: none.
    fn old_target(&self) -> Option<Target> {
        if self.from_state != NumberState::Active.as_str() {
            return None;
        }
        Some(Target {
            kind: self.old_target_type.as_deref()?.parse().ok()?,
            id: self.old_target_id.clone()?,
            name: self.old_target_name.clone().unwrap_or_default(),
        })
    }

    fn old_target_label(&self) -> String {
        match self.old_target() {
            Some(old) => format!("{} {}", old.kind.label(), old.name),
            None => "its old target".into(),
        }
    }

    fn entry(&self, outcome: Outcome) -> Entry {
        let entry = Entry::new(Action::Reroute, outcome)
            .by(
                Some(self.tenant_id),
                self.user_id,
                self.request_id.as_deref(),
            )
            .number(&self.e164)
            .target(&self.target_type, Some(&self.target_id));
        let old = json!({ "type": self.old_target_type, "id": self.old_target_id, "name": self.old_target_name });
        let new =
            json!({ "type": self.target_type, "id": self.target_id, "name": self.target_name });
        entry.details(json!({ "from": old, "to": new }))
    }
}

/// How far a drive of the saga got.
enum Driven {
    /// Routed to the new target, and recorded.
    Done,
    /// Recovery took the intent over while this drive waited: it tells the outcome.
    Overtaken,
    /// Routed to the new target, but the number changed in Inward meanwhile (recorded).
    Changed,
    /// The platform did not answer: the intent stays open for recovery.
    Pending(ProviderError),
    /// The platform refused before anything changed, or an orphan's new target was refused.
    Refused(ProviderError),
    /// The new target was refused and the old one restored.
    Compensated(ProviderError),
    /// The new target was refused and so was the old one: the number is routed nowhere.
    Unrouted {
        refused: ProviderError,
        restore: ProviderError,
    },
}

/// Unassigns, assigns the new target, records it; compensates a refusal. Run by the request
/// and, with the same intent, by recovery.
async fn drive(
    state: &AppState,
    lease: &Lease,
    intent: &Intent,
    provider: &dyn Platform,
) -> AppResult<Driven> {
    let number = intent.number()?;
    let new = intent.target()?;
    let place = NumberRef {
        e164: &number,
        state: intent.us_state.as_deref(),
    };
    if let Err(err) = provider.unassign(intent.tenant_id, &number).await {
        if err.may_have_applied() {
            return Ok(Driven::Pending(err));
        }
        return Ok(
            match close(state, lease, intent, "failed", &err.to_string()).await? {
                true => Driven::Refused(err),
                false => Driven::Overtaken,
            },
        );
    }
    crash_point("after_unassign");
    // Whether the platform activates at once or later, the number was in service already:
    // its routing is what moves, and it is recorded as moved.
    let refused = match provider
        .assign(
            intent.tenant_id,
            place,
            &new,
            intent.display_name.as_deref(),
        )
        .await
    {
        Ok(_) => {
            crash_point("after_assign");
            return finish(state, lease, intent, &new).await;
        }
        Err(err) if err.may_have_applied() => return Ok(Driven::Pending(err)),
        Err(err) => err,
    };
    let Some(old) = intent.old_target() else {
        // An orphan: its old target is gone, it stays orphaned and routed nowhere.
        return Ok(
            match close(state, lease, intent, "failed", &refused.to_string()).await? {
                true => Driven::Refused(refused),
                false => Driven::Overtaken,
            },
        );
    };
    match provider
        .assign(
            intent.tenant_id,
            place,
            &old,
            intent.display_name.as_deref(),
        )
        .await
    {
        Ok(_) => Ok(
            match close(state, lease, intent, "compensated", &refused.to_string()).await? {
                true => Driven::Compensated(refused),
                false => Driven::Overtaken,
            },
        ),
        // Throttled, signed out for now, or unanswered: not the platform's last word on
        // the old target, so the intent stays open and recovery tries again.
        Err(restore) if !final_refusal(&restore) => Ok(Driven::Pending(restore)),
        Err(restore) => Ok(
            match routed_nowhere(state, lease, intent, &refused, &restore).await? {
                true => Driven::Unrouted { refused, restore },
                false => Driven::Overtaken,
            },
        ),
    }
}

/// A refusal that asking again will not change: the target is gone, or the platform will
/// not route this number there (or not let Inward do it).
fn final_refusal(err: &ProviderError) -> bool {
    matches!(
        err.kind,
        ProviderErrorKind::NotFound
            | ProviderErrorKind::Conflict
            | ProviderErrorKind::Forbidden
            | ProviderErrorKind::Validation
            | ProviderErrorKind::Unsupported
    )
}

/// Takes the number's row lock first, as `start` does, so that two sagas of one number
/// wait on each other instead of deadlocking.
async fn lock_number(conn: &mut sqlx::PgConnection, intent: &Intent) -> AppResult<()> {
    sqlx::query("SELECT 1 FROM numbers WHERE e164 = $1 AND tenant_id = $2 FOR UPDATE")
        .bind(&intent.e164)
        .bind(intent.tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Closes a re-route that did not move the number, fenced on the lease, and records why.
/// False when recovery has taken the intent over.
async fn close(
    state: &AppState,
    lease: &Lease,
    intent: &Intent,
    step: &str,
    reason: &str,
) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    lock_number(&mut tx, intent).await?;
    let closed = sqlx::query(
        "UPDATE reroute_attempts SET step = $3, error = $4, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step = 'started'",
    )
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .bind(step)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    if closed.rows_affected() == 0 {
        return Ok(false);
    }
    let entry = intent.entry(Outcome::Failure).error(reason.to_string());
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Both targets refused: the number is orphaned (it is routed nowhere) and its admins told.
async fn routed_nowhere(
    state: &AppState,
    lease: &Lease,
    intent: &Intent,
    refused: &ProviderError,
    restore: &ProviderError,
) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    lock_number(&mut tx, intent).await?;
    let closed = sqlx::query(
        "UPDATE reroute_attempts SET step = 'failed', error = $3, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step = 'started'",
    )
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .bind(format!("{refused}; routing back: {restore}"))
    .execute(&mut *tx)
    .await?;
    if closed.rows_affected() == 0 {
        return Ok(false);
    }
    lifecycle::orphaned(&mut tx, &intent.e164, intent.tenant_id).await?;
    let message = format!(
        "{} is routed nowhere: moving it to {} failed and so did routing it back to {}. Re-route it.",
        crate::domain::e164::format_national(&intent.e164),
        intent.target_name,
        intent.old_target_label()
    );
    crate::notifications::notify_admins(
        &mut tx,
        intent.tenant_id,
        intent.user_id,
        &intent.e164,
        &message,
        "/numbers/orphaned",
    )
    .await?;
    let entry = intent
        .entry(Outcome::Failure)
        .error(format!("{refused}; routing back: {restore}"));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Records the new target once the platform routes to it, fenced on the lease.
async fn finish(
    state: &AppState,
    lease: &Lease,
    intent: &Intent,
    new: &Target,
) -> AppResult<Driven> {
    let mut tx = state.pool.begin().await?;
    lock_number(&mut tx, intent).await?;
    let closed = sqlx::query(
        "UPDATE reroute_attempts SET step = 'completed', lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step = 'started'",
    )
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .execute(&mut *tx)
    .await?;
    if closed.rows_affected() == 0 {
        return Ok(Driven::Overtaken);
    }
    let now: Option<NumberState> = sqlx::query_scalar::<_, String>(
        "SELECT lifecycle FROM numbers WHERE e164 = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(&intent.e164)
    .bind(intent.tenant_id)
    .fetch_optional(&mut *tx)
    .await?
    .and_then(|s| s.parse().ok());
    // Active, or orphaned meanwhile (its old target deleted): either way it now goes to `new`.
    let moved = match now {
        Some(from) if transition(from, Event::Rerouted).is_ok() => {
            lifecycle::retargeted(
                &mut tx,
                &intent.e164,
                intent.tenant_id,
                from,
                Event::Rerouted,
                new,
            )
            .await?
        }
        _ => false,
    };
    let entry = if moved {
        intent.entry(Outcome::Success)
    } else {
        // Deprovisioned or taken back meanwhile: the platform routes it, Inward's record of
        // it stands, and the consistency check reports the difference.
        tracing::warn!(number = %intent.e164, "a re-routed number changed meanwhile; its record stands");
        intent
            .entry(Outcome::Failure)
            .error("the number changed while it was being re-routed".to_string())
    };
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(if moved { Driven::Done } else { Driven::Changed })
}

/// Recovery job: drives re-routes whose lease ran out (a crash, a paused process, or a
/// platform answer that was lost) to their end. Claiming writes recovery's own token.
#[tracing::instrument(name = "recover_reroutes", skip_all)]
pub async fn recover(state: &AppState) -> AppResult<usize> {
    let lease_seconds = state.config.sagas.lease_seconds;
    let owner = Uuid::new_v4();
    let stalled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE reroute_attempts
         SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2), updated_at = now()
         WHERE id IN (
             SELECT id FROM reroute_attempts
             WHERE step = 'started' AND lease_expires_at < now()
             ORDER BY lease_expires_at LIMIT 20 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(owner)
    .bind(lease_seconds as f64)
    .fetch_all(&state.pool)
    .await?;
    let mut finished = 0;
    for attempt_id in stalled {
        let lease = Lease::keep(
            state.pool.clone(),
            Saga::Reroute,
            attempt_id,
            owner,
            lease_seconds,
        );
        // One intent that cannot be driven (its platform unreachable, say) does not keep
        // the others from being driven; its lease runs out and the next pass tries again.
        match recover_one(state, &lease).await {
            Ok(true) => finished += 1,
            Ok(false) => {}
            Err(err) => {
                tracing::error!(%attempt_id, error = %err, "re-route recovery failed; retrying later")
            }
        }
    }
    Ok(finished)
}

/// Drives one stalled intent; true when it ended with the number on its new target.
async fn recover_one(state: &AppState, lease: &Lease) -> AppResult<bool> {
    let intent = Intent::of(state, lease).await?;
    let provider = state.platform_for(intent.tenant_id).await?;
    let number = &intent.e164;
    match drive(state, lease, &intent, provider.as_ref()).await? {
        Driven::Done => return Ok(true),
        Driven::Pending(err) => {
            tracing::warn!(%number, error = %err, "re-route recovery: the platform did not answer; retrying later")
        }
        Driven::Overtaken => {}
        Driven::Changed => {
            tracing::warn!(%number, "re-route recovery: the number changed in Inward meanwhile")
        }
        Driven::Refused(err) | Driven::Compensated(err) => {
            tracing::error!(%number, error = %err, "re-route recovery: the platform refused the new target")
        }
        Driven::Unrouted { refused, .. } => {
            tracing::error!(%number, error = %refused, "re-route recovery: the number is routed nowhere")
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new("test", kind, "no")
    }

    #[test]
    fn only_a_refusal_that_asking_again_cannot_change_strands_a_number() {
        for kind in [
            ProviderErrorKind::NotFound,
            ProviderErrorKind::Conflict,
            ProviderErrorKind::Forbidden,
            ProviderErrorKind::Validation,
            ProviderErrorKind::Unsupported,
        ] {
            assert!(final_refusal(&error(kind)), "{kind:?}");
        }
        for kind in [
            ProviderErrorKind::RateLimited,
            ProviderErrorKind::Unauthorized,
            ProviderErrorKind::Transient,
        ] {
            assert!(!final_refusal(&error(kind)), "{kind:?}");
        }
    }
}
