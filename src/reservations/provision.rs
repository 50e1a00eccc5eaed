//! Provisioning as a saga. Per number: mark it `provisioning` and log the attempt, make sure
//! the target exists (creating an extension when asked), assign the number on the platform,
//! then mark it `active`/`pending`. A failed step is compensated in reverse order and the
//! number goes back to `reserved` under its still-live hold, so the user can retry.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use super::repo;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::{E164, Event, NumberState, Target, TargetKind, policy::Principal};
use crate::error::{AppError, AppResult};
use crate::providers::{Activation, NumberRef, Provider, ProviderError};
use crate::saga_lease::{Lease, Saga, crash_point};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize)]
pub struct TargetSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AssignmentSpec {
    pub number: String,
    pub name: Option<String>,
    pub target: TargetSpec,
}

/// A validated assignment: the number is held by the reservation, the target is known
/// (or is an extension to create by name).
#[derive(Debug, Clone)]
struct Assignment {
    number: E164,
    display_name: Option<String>,
    target: Resolved,
}

#[derive(Debug, Clone)]
enum Resolved {
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

fn clean(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

async fn resolve(
    provider: &dyn Provider,
    tenant: Uuid,
    spec: &AssignmentSpec,
) -> AppResult<Assignment> {
    let number =
        E164::parse(&spec.number).map_err(|e| AppError::invalid_field("number", e.to_string()))?;
    let kind: TargetKind = spec
        .target
        .kind
        .parse()
        .map_err(|e: String| AppError::invalid_field("target.type", e))?;
    let display_name = clean(&spec.name);
    if display_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err(AppError::invalid_field(
            "name",
            "the display name is limited to 100 characters",
        ));
    }
    let target = match (clean(&spec.target.id), clean(&spec.target.name)) {
        (Some(id), _) => Resolved::Existing(
            provider
                .find_target(tenant, kind, &id)
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!(
                        "{} “{id}” among your tenant's routing targets",
                        kind.label()
                    ))
                })?,
        ),
        (None, Some(name)) => match provider.find_target_by_name(tenant, kind, &name).await? {
            Some(target) => Resolved::Existing(target),
            None if kind.created_on_demand() => {
                if name.chars().count() > 100 {
                    return Err(AppError::invalid_field(
                        "target.name",
                        "target names are limited to 100 characters",
                    ));
                }
                Resolved::NewExtension(name)
            }
            None => {
                return Err(AppError::NotFound(format!(
                    "{} named “{name}” among your tenant's routing targets",
                    kind.label()
                )));
            }
        },
        (None, None) => {
            return Err(AppError::invalid_field(
                "target",
                "give the target's id, or a name (extensions are created by name)",
            ));
        }
    };
    Ok(Assignment {
        number,
        display_name,
        target,
    })
}

pub async fn provision(
    state: &AppState,
    caller: &Principal,
    reservation_id: Uuid,
    specs: &[AssignmentSpec],
    request_id: Option<&str>,
) -> AppResult<Vec<NumberResult>> {
    let tenant_id = caller.tenant()?;
    let provider = state.provider_for(tenant_id).await?;
    let mut conn = state.pool.acquire().await?;
    let reservation = repo::find(&mut conn, tenant_id, reservation_id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    reservation
        .effective_status(chrono::Utc::now())
        .require_active("this reservation has expired: search and reserve again")?;
    if specs.is_empty() {
        return Err(AppError::invalid_field(
            "assignments",
            "give at least one number and its target",
        ));
    }
    crate::approvals::check_provisionable(&mut conn, tenant_id, reservation_id).await?;
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT e164 FROM holds WHERE reservation_id = $1 AND ended_at IS NULL AND expires_at > now()",
    )
    .bind(reservation_id)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut assignments = Vec::with_capacity(specs.len());
    for spec in specs {
        let assignment = resolve(provider.as_ref(), tenant_id, spec).await?;
        if !held.contains(&assignment.number.as_str().to_string()) {
            return Err(AppError::conflict(
                "number_not_held",
                format!("{} is not held by this reservation", assignment.number),
                json!({ "number": assignment.number }),
            ));
        }
        if assignments
            .iter()
            .any(|a: &Assignment| a.number == assignment.number)
        {
            return Err(AppError::invalid_field(
                "assignments",
                format!("{} appears twice", assignment.number),
            ));
        }
        assignments.push(assignment);
    }

    // Tenant policy: no activation without a registered E911 address.
    let wanted: Vec<String> = assignments
        .iter()
        .map(|a| a.number.as_str().to_string())
        .collect();
    let mut conn = state.pool.acquire().await?;
    if let Err(refused) =
        crate::features::e911::check_activation_policy(&mut conn, tenant_id, &wanted).await
    {
        if let AppError::Conflict { details, .. } = &refused {
            for blocked in details.as_array().into_iter().flatten() {
                let entry = Entry::new(Action::Provision, Outcome::Failure)
                    .by(Some(tenant_id), Some(caller.user_id), request_id)
                    .number(blocked["number"].as_str().unwrap_or_default())
                    .justification(reservation.justification.as_deref())
                    .error("refused by tenant policy: E911 address not registered")
                    .details(
                        json!({ "policy": "require_e911", "e911_status": blocked["e911_status"] }),
                    );
                audit::repo::record(&mut conn, &entry).await?;
            }
        }
        return Err(refused);
    }
    drop(conn);

    // Each number is its own saga: one that fails (its hold ended, recovery took it over,
    // the database went away) does not stop the others, and the answer says what became
    // of every number. Only when the first number fails, with nothing done yet, is the
    // failure the request's own answer.
    let mut results = Vec::with_capacity(assignments.len());
    for assignment in assignments {
        let number = assignment.number.clone();
        let outcome = run_saga(
            state,
            provider.as_ref(),
            caller,
            tenant_id,
            reservation_id,
            &reservation.justification,
            assignment,
            request_id,
        )
        .await;
        match outcome {
            Ok(result) => results.push(result),
            Err(err) if results.is_empty() => return Err(err),
            Err(err) => {
                err.log();
                results.push(failed_result(state, &number, &err).await);
            }
        }
    }
    Ok(results)
}

/// The answer for a number whose saga ended in an error: the state Inward shows for it now
/// (or `unknown` when even that cannot be read; recovery then settles it).
async fn failed_result(state: &AppState, number: &E164, err: &AppError) -> NumberResult {
    let shown: Option<String> = sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
        .bind(number.as_str())
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten();
    NumberResult {
        number: number.as_str().to_string(),
        ok: false,
        state: shown.unwrap_or_else(|| "unknown".into()),
        target: None,
        notice: None,
        error: Some(err.public_message()),
    }
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(name = "provision", skip_all, fields(number = %assignment.number, reservation = %reservation_id))]
async fn run_saga(
    state: &AppState,
    provider: &dyn Provider,
    caller: &Principal,
    tenant_id: Uuid,
    reservation_id: Uuid,
    justification: &Option<String>,
    assignment: Assignment,
    request_id: Option<&str>,
) -> AppResult<NumberResult> {
    let e164 = assignment.number.as_str().to_string();
    let attempt_id = Uuid::new_v4();
    let target_kind = match &assignment.target {
        Resolved::Existing(t) => t.kind,
        Resolved::NewExtension(_) => TargetKind::Extension,
    };

    // Step 1: claim the number for this saga.
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query(
        "SELECT n.lifecycle, n.state FROM numbers n JOIN holds h ON h.e164 = n.e164 AND h.ended_at IS NULL
         WHERE n.e164 = $1 AND n.reservation_id = $2 AND h.expires_at > now() FOR UPDATE OF n",
    )
    .bind(&e164)
    .bind(reservation_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::Gone { code: "hold_expired", message: format!("the hold on {e164} has ended") })?;
    let from: NumberState = row
        .try_get::<String, _>("lifecycle")?
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
    let us_state: Option<String> = row.try_get("state")?;
    crate::numbers::lifecycle::start_provisioning(&mut tx, &e164, reservation_id, from).await?;
    let owner = Uuid::new_v4();
    let lease_seconds = state.config.sagas.lease_seconds;
    sqlx::query(
        "INSERT INTO provisioning_attempts
             (id, reservation_id, e164, tenant_id, target_type, step, lease_owner, lease_expires_at)
         VALUES ($1, $2, $3, $4, $5, 'started', $6, now() + make_interval(secs => $7))",
    )
    .bind(attempt_id)
    .bind(reservation_id)
    .bind(&e164)
    .bind(tenant_id)
    .bind(target_kind.as_str())
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
    crash_point("provision.after_intent");

    // Step 2: the target. Step 3: the assignment on the platform.
    let mut created: Option<Target> = None;
    let outcome: Result<(Target, Activation), ProviderError> = async {
        let target = match &assignment.target {
            Resolved::Existing(target) => target.clone(),
            Resolved::NewExtension(name) => {
                let target = provider.create_extension(tenant_id, name).await?;
                created = Some(target.clone());
                target
            }
        };
        step(
            state,
            &lease,
            "target_ready",
            Some(&target.id),
            created.is_some(),
        )
        .await;
        let activation = provider
            .assign(
                tenant_id,
                NumberRef {
                    e164: &assignment.number,
                    state: us_state.as_deref(),
                },
                &target,
                assignment.display_name.as_deref(),
            )
            .await?;
        step(
            state,
            &lease,
            "assigned",
            Some(&target.id),
            created.is_some(),
        )
        .await;
        crash_point("provision.after_platform_call");
        Ok((target, activation))
    }
    .await;

    let audit_base = |status: Outcome| {
        Entry::new(Action::Provision, status)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(&e164)
            .justification(justification.as_deref())
    };

    match outcome {
        Ok((target, activation)) => {
            let event = match activation {
                Activation::Immediate => Event::ProvisionedImmediately,
                Activation::Delayed => Event::ProvisionedPendingActivation,
            };
            let committed: AppResult<Option<NumberState>> = async {
                let mut tx = state.pool.begin().await?;
                // The fence: the attempt is still this saga's, and the number still this
                // reservation's, or recovery has decided this provisioning already.
                let ours = sqlx::query(&format!(
                    "UPDATE provisioning_attempts SET step = 'completed', lease_expires_at = NULL, updated_at = now()
                     WHERE id = $1 AND lease_owner = $2 AND step IN {open}", open = Saga::Provisioning.open_steps()
                ))
                .bind(attempt_id)
                .bind(lease.owner)
                .execute(&mut *tx)
                .await?;
                if ours.rows_affected() != 1 {
                    return Ok(None);
                }
                let Some(to) = crate::numbers::lifecycle::provisioned(
                    &mut tx,
                    &e164,
                    reservation_id,
                    event,
                    &target,
                    assignment.display_name.as_deref(),
                )
                .await?
                else {
                    return Ok(None);
                };
                sqlx::query("UPDATE holds SET ended_at = now(), end_reason = 'provisioned' WHERE reservation_id = $1 AND e164 = $2 AND ended_at IS NULL")
                    .bind(reservation_id)
                    .bind(&e164)
                    .execute(&mut *tx)
                    .await?;
                let entry = audit_base(Outcome::Success)
                    .target(target.kind.as_str(), Some(&target.id))
                    .details(json!({ "reservation_id": reservation_id, "target_name": target.name, "state": to.as_str(), "created_target": created.is_some() }));
                audit::repo::record(&mut tx, &entry).await?;
                repo::finish_if_done(&mut tx, reservation_id).await?;
                tx.commit().await?;
                Ok(Some(to))
            }
            .await;
            match committed {
                Ok(None) => {
                    drop(lease);
                    let message = "this provisioning was taken over by recovery while it waited \
                                   (its lease ran out) and has been undone: reserve and provision again";
                    undo_fenced(
                        state,
                        provider,
                        tenant_id,
                        &assignment.number,
                        created.as_ref(),
                    )
                    .await?;
                    audit::repo::record(
                        &mut *state.pool.acquire().await?,
                        &audit_base(Outcome::Failure)
                            .target(target_kind.as_str(), Some(&target.id))
                            .error(message)
                            .details(json!({ "reservation_id": reservation_id, "fenced": true })),
                    )
                    .await?;
                    Err(AppError::conflict(
                        "provisioning_taken_over",
                        format!("{e164}: {message}"),
                        json!({ "number": e164 }),
                    ))
                }
                Ok(Some(to)) => {
                    if created.is_some() {
                        state.forget_targets(tenant_id);
                    }
                    super::holds::release_at_provider(state, 100).await.ok();
                    Ok(NumberResult {
                        number: e164,
                        ok: true,
                        state: to.as_str().to_string(),
                        notice: (to == NumberState::Pending).then(|| {
                            provider
                                .activation_notice(us_state.as_deref())
                                .unwrap_or_else(|| "Activation can take up to 24 hours.".into())
                        }),
                        target: Some(target),
                        error: None,
                    })
                }
                Err(err) => {
                    // The platform has the number but we could not record it: undo on the platform.
                    let message = format!(
                        "recording the provisioning failed: {}",
                        err.public_message()
                    );
                    compensate(
                        state,
                        provider,
                        tenant_id,
                        reservation_id,
                        &lease,
                        &assignment.number,
                        true,
                        created.as_ref(),
                        &message,
                    )
                    .await?;
                    audit::repo::record(
                        &mut *state.pool.acquire().await?,
                        &audit_base(Outcome::Failure)
                            .target(target_kind.as_str(), Some(&target.id))
                            .error(&message),
                    )
                    .await?;
                    Err(err)
                }
            }
        }
        Err(err) => {
            let message = err.to_string();
            // A timeout or a 5xx may have been applied with its answer lost: unassigning is
            // idempotent, so undo it rather than assume it did not happen. A refusal (a
            // conflict, say) did not happen, and the number may be someone else's there.
            compensate(
                state,
                provider,
                tenant_id,
                reservation_id,
                &lease,
                &assignment.number,
                err.may_have_applied(),
                created.as_ref(),
                &message,
            )
            .await?;
            let mut entry = audit_base(Outcome::Failure)
                .target(
                    target_kind.as_str(),
                    created.as_ref().map(|t| t.id.as_str()),
                )
                .error(&message);
            entry = entry.details(json!({ "reservation_id": reservation_id, "provider": err.provider, "correlation_id": err.correlation_id, "raw_body": err.raw_body }));
            audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
            Ok(NumberResult {
                number: e164,
                ok: false,
                state: NumberState::Reserved.as_str().to_string(),
                target: None,
                notice: None,
                error: Some(message),
            })
        }
    }
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
#[allow(clippy::too_many_arguments)]
async fn compensate(
    state: &AppState,
    provider: &dyn Provider,
    tenant_id: Uuid,
    reservation_id: Uuid,
    lease: &Lease,
    number: &E164,
    assigned: bool,
    created: Option<&Target>,
    reason: &str,
) -> AppResult<()> {
    if assigned && let Err(err) = provider.unassign(tenant_id, number).await {
        tracing::error!(%number, error = %err, "compensation: unassign failed; recovery job will retry");
        return Ok(());
    }
    if let Some(target) = created
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
    .bind(reason)
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
    provider: &dyn Provider,
    tenant_id: Uuid,
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
type StalledAttempt = (Uuid, Uuid, String, Uuid, bool, Option<String>, String);

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
        let provider = state.provider_for(tenant_id).await?;
        let created = match (target_created, target_id) {
            (true, Some(id)) => Some(Target {
                kind: TargetKind::Extension,
                id,
                name: String::new(),
            }),
            _ => None,
        };
        // Unassign is idempotent, so a saga that died before assigning is undone safely too.
        compensate(
            state,
            provider.as_ref(),
            tenant_id,
            reservation_id,
            &lease,
            &number,
            true,
            created.as_ref(),
            "saga interrupted; compensated by recovery",
        )
        .await?;
        recovered += 1;
    }
    Ok(recovered)
}
