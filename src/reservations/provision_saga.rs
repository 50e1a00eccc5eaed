//! One number's provisioning saga, and its recovery. Claim the number and record the intent
//! (with a lease); create the extension if asked; assign the number on the platform; record
//! the outcome under the fence that the attempt is still this saga's. A failure undoes the
//! platform's side, newest step first; a saga whose lease ran out (a crash, a pause) is
//! undone by `recover_stalled`, and its own late answer is then undone too (`undo_fenced`).
//!
//! One file over 500 lines: the saga, its undo and its recovery share the lease fence, and a
//! change to one must be read against the others.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use super::repo;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::costs::ChargedPrice;
use crate::domain::{E164, Event, NumberState, Target, TargetKind, policy::Principal};
use crate::error::{AppError, AppResult};
use crate::providers::{Activation, NumberRef, Platform, ProviderError};
use crate::saga_lease::{Lease, Saga, crash_point};
use crate::state::AppState;

/// A validated assignment: the number is held by the reservation, the target is known
/// (or is an extension to create by name).
#[derive(Debug, Clone)]
pub(super) struct Assignment {
    pub(super) number: E164,
    pub(super) display_name: Option<String>,
    pub(super) target: Resolved,
}

#[derive(Debug, Clone)]
pub(super) enum Resolved {
    Existing(Target),
    NewExtension(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct NumberResult {
    pub number: String,
    pub ok: bool,
    pub state: String,
    pub target: Option<Target>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// One number's provisioning: who asks, for which reservation, and where the number goes.
pub(super) struct Run<'a> {
    pub state: &'a AppState,
    pub provider: &'a dyn Platform,
    pub caller: &'a Principal,
    pub tenant_id: TenantId,
    pub reservation_id: ReservationId,
    pub justification: &'a Option<String>,
    pub request_id: Option<&'a str>,
}

impl Run<'_> {
    #[tracing::instrument(name = "provision", skip_all, fields(number = %assignment.number, reservation = %self.reservation_id))]
    pub async fn run(&self, assignment: Assignment) -> AppResult<NumberResult> {
        let target_kind = match &assignment.target {
            Resolved::Existing(t) => t.kind,
            Resolved::NewExtension(_) => TargetKind::Extension,
        };
        let (lease, us_state) = self.claim(&assignment.number, target_kind).await?;
        crash_point("provision.after_intent");
        let mut created: Option<Target> = None;
        let outcome = self
            .on_platform(&lease, &assignment, us_state.as_deref(), &mut created)
            .await;
        match outcome {
            Ok((target, activation)) => {
                let placed = Placed {
                    assignment: &assignment,
                    target,
                    activation,
                    created,
                    target_kind,
                    us_state,
                };
                self.settle(lease, placed).await
            }
            Err(err) => {
                self.refused(&lease, &assignment.number, err, created, target_kind)
                    .await
            }
        }
    }

    /// Step 1: the number, still held by this reservation, moves to provisioning, and the
    /// attempt is recorded with this saga's lease. Returns the lease and the number's US state.
    async fn claim(&self, number: &E164, kind: TargetKind) -> AppResult<(Lease, Option<String>)> {
        let state = self.state;
        let e164 = number.as_str();
        let mut tx = state.pool.begin().await?;
        let row = sqlx::query(
            "SELECT n.lifecycle, n.state FROM numbers n JOIN holds h ON h.e164 = n.e164 AND h.ended_at IS NULL
             WHERE n.e164 = $1 AND n.reservation_id = $2 AND h.expires_at > now() FOR UPDATE OF n",
        )
        .bind(e164)
        .bind(self.reservation_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::Gone { code: "hold_expired", message: format!("the hold on {e164} has ended") })?;
        let from: NumberState = row
            .try_get::<String, _>("lifecycle")?
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
        let us_state: Option<String> = row.try_get("state")?;
        crate::numbers::lifecycle::start_provisioning(&mut tx, e164, self.reservation_id, from)
            .await?;
        let attempt_id = Uuid::new_v4();
        let owner = Uuid::new_v4();
        let lease_seconds = state.config.sagas.lease_seconds;
        sqlx::query(
            "INSERT INTO provisioning_attempts
                 (id, reservation_id, e164, tenant_id, target_type, step, lease_owner, lease_expires_at)
             VALUES ($1, $2, $3, $4, $5, 'started', $6, now() + make_interval(secs => $7))",
        )
        .bind(attempt_id)
        .bind(self.reservation_id)
        .bind(e164)
        .bind(self.tenant_id)
        .bind(kind.as_str())
        .bind(owner)
        .bind(lease_seconds as f64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let lease = Lease::keep(
            state.pool.clone(),
            Saga::Provisioning,
            attempt_id,
            owner,
            lease_seconds,
        );
        Ok((lease, us_state))
    }

    /// Steps 2 and 3: the target (an extension created if asked; `created` says so for
    /// the undo), then the assignment on the platform.
    async fn on_platform(
        &self,
        lease: &Lease,
        assignment: &Assignment,
        us_state: Option<&str>,
        created: &mut Option<Target>,
    ) -> Result<(Target, Activation), ProviderError> {
        let target = match &assignment.target {
            Resolved::Existing(target) => target.clone(),
            Resolved::NewExtension(name) => {
                let target = self.provider.create_extension(self.tenant_id, name).await?;
                *created = Some(target.clone());
                target
            }
        };
        let made = created.is_some();
        step(self.state, lease, "target_ready", Some(&target.id), made).await;
        let place = NumberRef {
            e164: &assignment.number,
            state: us_state,
        };
        let activation = self
            .provider
            .assign(
                self.tenant_id,
                place,
                &target,
                assignment.display_name.as_deref(),
            )
            .await?;
        step(self.state, lease, "assigned", Some(&target.id), made).await;
        crash_point("provision.after_platform_call");
        Ok((target, activation))
    }

    fn audit_entry(&self, number: &E164, outcome: Outcome) -> Entry {
        Entry::new(Action::Provision, outcome)
            .by(
                Some(self.tenant_id),
                Some(self.caller.user_id),
                self.request_id,
            )
            .number(number.as_str())
            .justification(self.justification.as_deref())
    }

    /// The platform routes the number: record it, or undo it when recording fails or the
    /// saga was fenced out meanwhile.
    async fn settle(&self, lease: Lease, placed: Placed<'_>) -> AppResult<NumberResult> {
        let number = &placed.assignment.number;
        match self.record(&lease, &placed).await {
            Ok(Some(to)) => {
                if placed.created.is_some() {
                    self.state.forget_targets(self.tenant_id);
                }
                super::holds::release_at_provider(self.state, 100)
                    .await
                    .ok();
                let notice = (to == NumberState::Pending).then(|| {
                    self.provider
                        .activation_notice(placed.us_state.as_deref())
                        .unwrap_or_else(|| "Activation can take up to 24 hours.".into())
                });
                Ok(NumberResult {
                    number: number.as_str().to_string(),
                    ok: true,
                    state: to.as_str().to_string(),
                    notice,
                    target: Some(placed.target),
                    error: None,
                })
            }
            Ok(None) => {
                drop(lease);
                let message = "this provisioning was taken over by recovery while it waited \
                               (its lease ran out) and has been undone: reserve and provision again";
                undo_fenced(
                    self.state,
                    self.provider,
                    self.tenant_id,
                    number,
                    placed.created.as_ref(),
                )
                .await?;
                let entry = self
                    .audit_entry(number, Outcome::Failure)
                    .target(placed.target_kind.as_str(), Some(&placed.target.id))
                    .error(message)
                    .details(json!({ "reservation_id": self.reservation_id, "fenced": true }));
                audit::repo::record(&mut *self.state.pool.acquire().await?, &entry).await?;
                Err(AppError::conflict(
                    "provisioning_taken_over",
                    format!("{number}: {message}"),
                    json!({ "number": number.as_str() }),
                ))
            }
            Err(err) => {
                // The platform has the number but we could not record it: undo on the platform.
                let message = format!(
                    "recording the provisioning failed: {}",
                    err.public_message()
                );
                let undo = Undo {
                    assigned: true,
                    created: placed.created.as_ref(),
                    reason: &message,
                };
                compensate(
                    self.state,
                    self.provider,
                    self.tenant_id,
                    self.reservation_id,
                    &lease,
                    number,
                    undo,
                )
                .await?;
                let entry = self
                    .audit_entry(number, Outcome::Failure)
                    .target(placed.target_kind.as_str(), Some(&placed.target.id))
                    .error(&message);
                audit::repo::record(&mut *self.state.pool.acquire().await?, &entry).await?;
                Err(err)
            }
        }
    }

    /// Step 4, behind the fence: the attempt is still this saga's and the number still this
    /// reservation's, or recovery has decided this provisioning already (None).
    async fn record(&self, lease: &Lease, placed: &Placed<'_>) -> AppResult<Option<NumberState>> {
        let number = placed.assignment.number.as_str();
        let event = match placed.activation {
            Activation::Immediate => Event::ProvisionedImmediately,
            Activation::Delayed => Event::ProvisionedPendingActivation,
        };
        let mut tx = self.state.pool.begin().await?;
        let ours = sqlx::query(&format!(
            "UPDATE provisioning_attempts SET step = 'completed', lease_expires_at = NULL, updated_at = now()
             WHERE id = $1 AND lease_owner = $2 AND step IN {open}", open = Saga::Provisioning.open_steps()
        ))
        .bind(lease.attempt_id)
        .bind(lease.owner)
        .execute(&mut *tx)
        .await?;
        if ours.rows_affected() != 1 {
            return Ok(None);
        }
        let Some(to) = crate::numbers::lifecycle::provisioned(
            &mut tx,
            number,
            self.reservation_id,
            event,
            &placed.target,
            placed.assignment.display_name.as_deref(),
        )
        .await?
        else {
            return Ok(None);
        };
        sqlx::query("UPDATE holds SET ended_at = now(), end_reason = 'provisioned' WHERE reservation_id = $1 AND e164 = $2 AND ended_at IS NULL")
            .bind(self.reservation_id)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        let entry = self
            .audit_entry(&placed.assignment.number, Outcome::Success)
            .target(placed.target.kind.as_str(), Some(&placed.target.id))
            .details(
                json!({ "reservation_id": self.reservation_id, "target_name": placed.target.name,
                              "state": to.as_str(), "created_target": placed.created.is_some(),
                              // What the cost report charges, whatever the tariff becomes.
                              "price": ChargedPrice::quoted(&self.state.config.pricing, number) }),
            );
        audit::repo::record(&mut tx, &entry).await?;
        repo::finish_if_done(&mut tx, self.reservation_id).await?;
        tx.commit().await?;
        Ok(Some(to))
    }

    /// The platform refused or did not answer: undo, and give the number back to its hold.
    async fn refused(
        &self,
        lease: &Lease,
        number: &E164,
        err: ProviderError,
        created: Option<Target>,
        target_kind: TargetKind,
    ) -> AppResult<NumberResult> {
        let message = err.to_string();
        // A timeout or a 5xx may have been applied with its answer lost: unassigning is
        // idempotent, so undo it rather than assume it did not happen. A refusal (a
        // conflict, say) did not happen, and the number may be someone else's there.
        let undo = Undo {
            assigned: err.may_have_applied(),
            created: created.as_ref(),
            reason: &message,
        };
        compensate(
            self.state,
            self.provider,
            self.tenant_id,
            self.reservation_id,
            lease,
            number,
            undo,
        )
        .await?;
        let entry = self
            .audit_entry(number, Outcome::Failure)
            .target(
                target_kind.as_str(),
                created.as_ref().map(|t| t.id.as_str()),
            )
            .error(&message)
            .details(
                json!({ "reservation_id": self.reservation_id, "provider": err.provider,
                              "correlation_id": err.correlation_id, "raw_body": err.raw_body }),
            );
        audit::repo::record(&mut *self.state.pool.acquire().await?, &entry).await?;
        Ok(NumberResult {
            number: number.as_str().to_string(),
            ok: false,
            state: NumberState::Reserved.as_str().to_string(),
            target: None,
            notice: None,
            error: Some(message),
        })
    }
}

/// What the platform did for one number.
struct Placed<'a> {
    assignment: &'a Assignment,
    target: Target,
    activation: Activation,
    /// The extension created for it, if one was.
    created: Option<Target>,
    target_kind: TargetKind,
    us_state: Option<String>,
}

/// What an undo has to take back, and why.
struct Undo<'a> {
    /// The number may be assigned on the platform.
    assigned: bool,
    created: Option<&'a Target>,
    reason: &'a str,
}

async fn step(state: &AppState, lease: &Lease, step: &str, target_id: Option<&str>, created: bool) {
    let result = sqlx::query(&format!(
        "UPDATE provisioning_attempts SET step = $3, target_id = $4, target_created = $5, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step IN {open}", open = Saga::Provisioning.open_steps()
    ))
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .bind(step)
    .bind(target_id)
    .bind(created)
    .execute(&state.pool)
    .await;
    if let Err(err) = result {
        tracing::warn!(attempt_id = %lease.attempt_id, error = %err, "could not record saga step");
    }
}

/// Undoes what the saga did, newest step first, and hands the number back to its hold.
/// If the platform refuses the undo, the attempt stays open and the recovery job retries.
async fn compensate(
    state: &AppState,
    provider: &dyn Platform,
    tenant_id: TenantId,
    reservation_id: ReservationId,
    lease: &Lease,
    number: &E164,
    undo: Undo<'_>,
) -> AppResult<()> {
    if undo.assigned
        && let Err(err) = provider.unassign(tenant_id, number).await
    {
        tracing::error!(%number, error = %err, "compensation: unassign failed; recovery job will retry");
        return Ok(());
    }
    if let Some(target) = undo.created
        && let Err(err) = provider.delete_target(tenant_id, target).await
    {
        tracing::warn!(target = %target.id, error = %err, "compensation: could not delete the extension created for this number");
    }
    let mut tx = state.pool.begin().await?;
    let ours = sqlx::query(&format!(
        "UPDATE provisioning_attempts SET step = 'compensated', error = $3, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND step IN {open}", open = Saga::Provisioning.open_steps()
    ))
    .bind(lease.attempt_id)
    .bind(lease.owner)
    .bind(undo.reason)
    .execute(&mut *tx)
    .await?;
    // Someone else took the attempt over and decides the number's state.
    if ours.rows_affected() != 1 {
        return Ok(());
    }
    crate::numbers::lifecycle::provisioning_failed(&mut tx, number.as_str(), reservation_id)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A saga fenced out after its platform write undoes that write, unless the number has
/// meanwhile been routed again in Inward (then the routing on the platform is the new
/// provisioning's, and the consistency check is the judge). The number's row stays locked
/// while the platform is asked, so no new provisioning can start in between.
async fn undo_fenced(
    state: &AppState,
    provider: &dyn Platform,
    tenant_id: TenantId,
    number: &E164,
    created: Option<&Target>,
) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let lifecycle: Option<String> =
        sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1 FOR UPDATE")
            .bind(number.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let routed_again = matches!(
        lifecycle.as_deref(),
        Some("provisioning" | "active" | "pending")
    );
    if routed_again {
        tracing::warn!(%number, "a fenced-out saga left the platform alone: the number is routed again");
    } else if let Err(err) = provider.unassign(tenant_id, number).await {
        tracing::error!(%number, error = %err, "a fenced-out saga could not undo its assignment");
    }
    tx.commit().await?;
    if let Some(target) = created
        && let Err(err) = provider.delete_target(tenant_id, target).await
    {
        tracing::warn!(target = %target.id, error = %err, "could not delete the extension a fenced-out saga created");
    }
    Ok(())
}

/// attempt id, reservation, number, tenant, extension created, target id, last step
type StalledAttempt = (
    Uuid,
    ReservationId,
    String,
    TenantId,
    bool,
    Option<String>,
    String,
);

/// Recovery job: sagas whose lease ran out (a crash, a paused process, or an undo the
/// platform refused) are compensated. Claiming writes recovery's own token and lease, which
/// fences the saga out should it come back, and keeps other instances off the attempt.
#[tracing::instrument(skip_all)]
pub async fn recover_stalled(state: &AppState) -> AppResult<usize> {
    let lease_seconds = state.config.sagas.lease_seconds;
    let owner = Uuid::new_v4();
    let stalled: Vec<StalledAttempt> = sqlx::query_as(&format!(
        "UPDATE provisioning_attempts
         SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2), updated_at = now()
         WHERE id IN (
             SELECT id FROM provisioning_attempts
             WHERE step IN {open} AND lease_expires_at < now()
             ORDER BY lease_expires_at LIMIT 20 FOR UPDATE SKIP LOCKED)
         RETURNING id, reservation_id, e164, tenant_id, target_created, target_id, step", open = Saga::Provisioning.open_steps()
    ))
    .bind(owner)
    .bind(lease_seconds as f64)
    .fetch_all(&state.pool)
    .await?;
    let mut recovered = 0;
    for (attempt_id, reservation_id, e164, tenant_id, target_created, target_id, _step) in stalled {
        let lease = Lease::keep(
            state.pool.clone(),
            Saga::Provisioning,
            attempt_id,
            owner,
            lease_seconds,
        );
        let number = E164::from_stored(&e164).map_err(|e| AppError::Internal(e.into()))?;
        let provider = state.platform_for(tenant_id).await?;
        let created = match (target_created, target_id) {
            (true, Some(id)) => Some(Target {
                kind: TargetKind::Extension,
                id,
                name: String::new(),
            }),
            _ => None,
        };
        // Unassign is idempotent, so a saga that died before assigning is undone safely too.
        let undo = Undo {
            assigned: true,
            created: created.as_ref(),
            reason: "saga interrupted; compensated by recovery",
        };
        compensate(
            state,
            provider.as_ref(),
            tenant_id,
            reservation_id,
            &lease,
            &number,
            undo,
        )
        .await?;
        recovered += 1;
    }
    Ok(recovered)
}
