//! Allocation to a tenant, release back to the reseller's inventory, and delete. Each is one
//! set-based statement whose audit entries are written by the same statement (a CTE), with a
//! dry run that answers the confirmation summary.
//!
//! One file over 500 lines: the three bulk actions share the selection, its audit CTE and the
//! in-use rule, which must stay the same for all three.

use std::sync::LazyLock;

use serde_json::{Value, json};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::Scope;
use super::conditions::Filter;
use super::conditions::push_conditions;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::{E164, Event, NumberState, policy::Principal, transition};
use crate::error::{AppError, AppResult};
use crate::numbers::offer;
use crate::state::AppState;

/// Which numbers an allocation or release is about.
#[derive(Debug, Clone)]
pub enum Selection {
    Numbers(Vec<E164>),
    Filter(Filter),
}

fn push_selection(q: &mut QueryBuilder<'_, Postgres>, org: Uuid, selection: &Selection) {
    match selection {
        Selection::Numbers(numbers) => {
            let list: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
            q.push("n.inventory_org_id = ")
                .push_bind(org)
                .push(" AND n.e164 = ANY(")
                .push_bind(list)
                .push(")");
        }
        Selection::Filter(filter) => push_conditions(q, Scope::Inventory(org), filter),
    }
}

/// Listed numbers that are not in the caller's inventory: answered as "not found".
async fn missing(state: &AppState, org: Uuid, selection: &Selection) -> AppResult<Vec<String>> {
    let Selection::Numbers(numbers) = selection else {
        return Ok(Vec::new());
    };
    let list: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
    Ok(sqlx::query_scalar(
        "SELECT w FROM unnest($1::text[]) AS w WHERE NOT EXISTS
            (SELECT 1 FROM numbers n WHERE n.e164 = w AND n.inventory_org_id = $2) ORDER BY w",
    )
    .bind(&list)
    .bind(org)
    .fetch_all(&state.pool)
    .await?)
}

static IN_USE: LazyLock<String> = LazyLock::new(|| offer::in_use_sql("n"));

pub async fn allocate(
    state: &AppState,
    caller: &Principal,
    selection: &Selection,
    tenant_id: TenantId,
    dry_run: bool,
    request_id: Option<&str>,
) -> AppResult<Value> {
    let org = caller.inventory_owner()?;
    let tenant: Option<(TenantId, String)> = sqlx::query_as(
        "SELECT id, name FROM organizations WHERE id = $1 AND kind = 'tenant' AND ($2 OR parent_id = $3)",
    )
    .bind(tenant_id)
    .bind(caller.is_operator())
    .bind(org)
    .fetch_optional(&state.pool)
    .await?;
    let (tenant_id, tenant_name) = tenant.ok_or_else(|| AppError::NotFound("tenant".into()))?;
    let missing = missing(state, org, selection).await?;
    if !missing.is_empty() {
        return Err(AppError::NotFound(format!(
            "{} (not in your inventory)",
            missing.join(", ")
        )));
    }
    let mut q = QueryBuilder::new(
        "SELECT count(*) AS matched,
                count(*) FILTER (WHERE n.allocated_tenant_id IS NOT DISTINCT FROM ",
    );
    q.push_bind(tenant_id)
        .push(") AS already, count(*) FILTER (WHERE ")
        .push(IN_USE.as_str())
        .push(" AND n.tenant_id IS DISTINCT FROM ")
        .push_bind(tenant_id)
        .push(") AS in_use, (array_agg(n.e164 ORDER BY n.e164) FILTER (WHERE ")
        .push(IN_USE.as_str())
        .push(" AND n.tenant_id IS DISTINCT FROM ")
        .push_bind(tenant_id)
        .push("))[1:20] AS in_use_numbers FROM numbers n WHERE ");
    push_selection(&mut q, org, selection);
    let (matched, already, in_use, in_use_numbers): (i64, i64, i64, Option<Vec<String>>) =
        q.build_query_as().fetch_one(&state.pool).await?;
    let to_allocate = matched - already - in_use;
    let summary = json!({
        "tenant": { "id": tenant_id, "name": tenant_name }, "dry_run": dry_run, "matched": matched,
        "to_allocate": to_allocate.max(0), "already_allocated": already, "in_use_by_another_tenant": in_use,
        "in_use_numbers": in_use_numbers.unwrap_or_default(),
    });
    if dry_run {
        return Ok(summary);
    }
    if in_use > 0 && matches!(selection, Selection::Numbers(_)) {
        return Err(AppError::conflict(
            "numbers_in_use",
            "some numbers are in use by another tenant: it must release them first",
            summary,
        ));
    }
    let mut u = QueryBuilder::new("WITH changed AS (UPDATE numbers n SET allocated_tenant_id = ");
    u.push_bind(tenant_id).push(" WHERE ");
    push_selection(&mut u, org, selection);
    u.push(" AND n.allocated_tenant_id IS DISTINCT FROM ")
        .push_bind(tenant_id)
        .push(" AND (NOT ")
        .push(IN_USE.as_str())
        .push(" OR n.tenant_id = ")
        .push_bind(tenant_id)
        .push(") RETURNING n.e164, n.lifecycle)");
    push_audit(
        &mut u,
        Action::Allocate,
        Some(tenant_id),
        caller,
        request_id,
    );
    let done = u.build().execute(&state.pool).await?.rows_affected();
    let mut summary = summary;
    summary["allocated"] = json!(done);
    Ok(summary)
}

/// Appends the INSERT of one audit entry per changed row (the CTE `changed`).
fn push_audit(
    q: &mut QueryBuilder<'_, Postgres>,
    action: Action,
    tenant: Option<TenantId>,
    caller: &Principal,
    request_id: Option<&str>,
) {
    q.push(
        " INSERT INTO audit_log (tenant_id, user_id, phone_number, action, status, request_id, details, org_id)
          SELECT ",
    );
    match tenant {
        Some(t) => q.push_bind(t).push("::uuid"),
        None => q.push("changed.tenant"),
    };
    q.push(", ")
        .push_bind(caller.user_id)
        .push(", changed.e164, ")
        .push_bind(action.as_str())
        .push(", 'SUCCESS', ")
        .push_bind(request_id.map(str::to_string))
        .push(", jsonb_build_object('org_id', ")
        .push_bind(caller.org_id.to_string())
        .push(", 'lifecycle', changed.lifecycle), ")
        .push_bind(caller.org_id)
        .push(" FROM changed");
}

/// The lifecycle moves of "release back to inventory", as `transition` decides them:
/// (from, to) for every state it accepts `ReturnToInventory` in.
fn return_moves() -> (Vec<String>, Vec<String>) {
    NumberState::ALL
        .into_iter()
        .filter_map(|from| {
            transition(from, Event::ReturnToInventory)
                .ok()
                .map(|to| (from.as_str().to_string(), to.as_str().to_string()))
        })
        .unzip()
}

/// Returns allocated numbers no tenant holds to the reseller's inventory. The new state is
/// `transition(from, ReturnToInventory)` and the write is conditional on that old state, so a
/// number that moved meanwhile (say, into provisioning) is left alone; listed numbers in a
/// state the move is illegal from are refused with 409 `illegal_transition`.
pub async fn release(
    state: &AppState,
    caller: &Principal,
    selection: &Selection,
    dry_run: bool,
    request_id: Option<&str>,
) -> AppResult<Value> {
    let org = caller.inventory_owner()?;
    let missing = missing(state, org, selection).await?;
    if !missing.is_empty() {
        return Err(AppError::NotFound(format!(
            "{} (not in your inventory)",
            missing.join(", ")
        )));
    }
    let (from_states, to_states) = return_moves();
    let mut q = QueryBuilder::new(
        "SELECT count(*), count(*) FILTER (WHERE n.allocated_tenant_id IS NOT NULL AND n.tenant_id IS NULL AND n.lifecycle = ANY(",
    );
    q.push_bind(from_states.clone())
        .push(")), count(*) FILTER (WHERE ")
        .push(IN_USE.as_str())
        .push("), (array_agg(n.e164 || ' ' || n.lifecycle ORDER BY n.e164) FILTER (WHERE n.lifecycle <> ALL(")
        .push_bind(from_states.clone())
        .push(")))[1:20] FROM numbers n WHERE ");
    push_selection(&mut q, org, selection);
    let (matched, to_release, in_use, illegal): (i64, i64, i64, Option<Vec<String>>) =
        q.build_query_as().fetch_one(&state.pool).await?;
    let illegal = illegal.unwrap_or_default();
    let summary = json!({
        "dry_run": dry_run, "matched": matched, "to_release": to_release, "in_use": in_use,
        "not_allocated": matched - to_release - in_use,
        "illegal_state_numbers": illegal,
    });
    if dry_run {
        return Ok(summary);
    }
    if matches!(selection, Selection::Numbers(_)) {
        if let Some((number, from)) = illegal.first().and_then(|s| s.split_once(' ')) {
            let from: NumberState = from
                .parse()
                .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
            if let Err(err) = transition(from, Event::ReturnToInventory) {
                return Err(AppError::conflict(
                    "illegal_transition",
                    format!(
                        "{number}: {err}; only numbers no tenant holds (available, released or deprovisioned) can be released back to inventory"
                    ),
                    summary,
                ));
            }
        }
        if in_use > 0 {
            return Err(AppError::conflict(
                "numbers_in_use",
                "some numbers are in use by their tenant: the tenant must release them first",
                summary,
            ));
        }
    }
    let mut u = QueryBuilder::new("WITH moves AS (SELECT * FROM unnest(");
    u.push_bind(from_states)
        .push("::text[], ")
        .push_bind(to_states)
        .push(
            "::text[]) AS m(from_state, to_state)),
         changed AS (UPDATE numbers n SET allocated_tenant_id = NULL, lifecycle = moves.to_state,
                 state_changed_at = now()
         FROM numbers old, moves WHERE old.e164 = n.e164 AND n.lifecycle = moves.from_state AND ",
        );
    push_selection(&mut u, org, selection);
    u.push(" AND n.allocated_tenant_id IS NOT NULL AND n.tenant_id IS NULL")
        .push(" RETURNING n.e164, old.allocated_tenant_id AS tenant, n.lifecycle)")
        // The tenant's users, trunks and SMS go with the allocation: the next tenant starts
        // with the number unassigned.
        .push(", unassigned AS (DELETE FROM number_assignments a USING changed c WHERE a.e164 = c.e164)");
    push_audit(&mut u, Action::Release, None, caller, request_id);
    let done = u.build().execute(&state.pool).await?.rows_affected();
    let mut summary = summary;
    summary["released"] = json!(done);
    Ok(summary)
}

/// uploaded_by_org_id, tenant_id, allocated_tenant_id, lifecycle, assigned to a user.
type DeleteCheck = (
    Option<Uuid>,
    Option<TenantId>,
    Option<TenantId>,
    String,
    bool,
);

/// Deletes an unassigned number, only by the organization that uploaded it.
pub async fn delete(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    request_id: Option<&str>,
) -> AppResult<()> {
    let scope = caller.inventory_view()?;
    let mut tx = state.pool.begin().await?;
    let mut q = QueryBuilder::new(
        "SELECT n.uploaded_by_org_id, n.tenant_id, n.allocated_tenant_id, n.lifecycle,
                EXISTS (SELECT 1 FROM number_assignments a WHERE a.e164 = n.e164)
         FROM numbers n WHERE n.e164 = ",
    );
    q.push_bind(number.as_str()).push(" AND ");
    push_conditions(&mut q, scope, &Filter::default());
    q.push(" FOR UPDATE OF n");
    let row: Option<DeleteCheck> = q.build_query_as().fetch_optional(&mut *tx).await?;
    let (uploaded_by, tenant, allocated, lifecycle, assigned_to_user) =
        row.ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    if uploaded_by != Some(caller.org_id) {
        return Err(AppError::Forbidden(format!(
            "{number} was not uploaded by your organization: only the organization that uploaded a number may delete it"
        )));
    }
    let allocated_elsewhere = allocated.is_some_and(|a| a.0 != caller.org_id);
    if allocated_elsewhere || assigned_to_user || !in_stock(&lifecycle, tenant)? {
        return Err(AppError::conflict(
            "number_assigned",
            format!(
                "{number} is assigned: only unassigned numbers can be deleted; release it first"
            ),
            json!({ "lifecycle": lifecycle, "tenant_id": tenant.or(allocated) }),
        ));
    }
    // Ended holds and saga rows reference the number; the audit log keeps its history.
    sqlx::query("DELETE FROM provisioning_attempts WHERE e164 = $1")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM holds WHERE e164 = $1 AND ended_at IS NOT NULL")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM numbers WHERE e164 = $1")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    let entry = Entry::new(Action::Delete, Outcome::Success)
        .by(
            (caller.org_kind == crate::domain::policy::OrgKind::Tenant)
                .then_some(TenantId(caller.org_id)),
            Some(caller.user_id),
            request_id,
        )
        .number(number.as_str())
        .org(caller.org_id)
        .details(json!({ "org_id": caller.org_id }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// New capabilities and carriers for one number; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CapabilityChange {
    pub voice: Option<bool>,
    pub sms: Option<bool>,
    pub fax: Option<bool>,
    pub mms: Option<bool>,
    /// 911 service for the number.
    pub e911: Option<bool>,
    pub voice_carrier: Option<String>,
    pub sms_carrier: Option<String>,
}

async fn carrier_id(
    tx: &mut sqlx::PgConnection,
    kind: &str,
    name: Option<&str>,
    orgs: &[Uuid],
) -> AppResult<Option<Uuid>> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM carriers WHERE kind = $1 AND (org_id IS NULL OR org_id = ANY($2))
           AND CASE WHEN $3::text IS NULL THEN is_default ELSE lower(name) = lower($3) END
         ORDER BY org_id NULLS LAST LIMIT 1",
    )
    .bind(kind)
    .bind(orgs)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    match (found, name) {
        (None, Some(name)) => Err(AppError::invalid_field(
            if kind == "voice" {
                "voice_carrier"
            } else {
                "sms_carrier"
            },
            format!("no {kind} carrier named “{name}”"),
        )),
        (found, _) => Ok(found),
    }
}

/// Changes capabilities and carriers while the number is not in use by a tenant or assigned to
/// a user; only the organization whose inventory it is.
pub async fn change_capabilities(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    change: &CapabilityChange,
    request_id: Option<&str>,
) -> AppResult<Value> {
    let org = caller.inventory_owner()?;
    let mut tx = state.pool.begin().await?;
    let row: Option<CapabilityRow> = sqlx::query_as(&format!(
        "SELECT n.voice, n.sms, n.fax, n.mms, coalesce(n.e911_capable, n.kind = 'local') AS e911,
                n.voice_carrier_id, n.sms_carrier_id,
                ({in_use} OR EXISTS (SELECT 1 FROM number_assignments a WHERE a.e164 = n.e164)) AS in_use
             FROM numbers n WHERE n.e164 = $1 AND n.inventory_org_id = $2 FOR UPDATE",
        in_use = offer::in_use_sql("n")
    ))
    .bind(number.as_str())
    .bind(org)
    .fetch_optional(&mut *tx)
    .await?;
    let now = row.ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    if now.in_use {
        return Err(AppError::conflict(
            "number_assigned",
            format!(
                "{number} is in use: capabilities and carriers change only while it is unassigned"
            ),
            Value::Null,
        ));
    }
    let mut orgs = vec![org];
    orgs.extend(caller.parent_org_id);
    let voice = change.voice.unwrap_or(now.voice);
    let sms = change.sms.unwrap_or(now.sms);
    let fax = change.fax.unwrap_or(now.fax);
    let mms = change.mms.unwrap_or(now.mms);
    let e911 = change.e911.unwrap_or(now.e911);
    let voice_carrier = match (&change.voice_carrier, voice) {
        (Some(name), _) => carrier_id(&mut tx, "voice", Some(name), &orgs).await?,
        (None, true) if now.voice_carrier_id.is_none() => {
            carrier_id(&mut tx, "voice", None, &orgs).await?
        }
        (None, _) => now.voice_carrier_id,
    };
    let sms_carrier = match (&change.sms_carrier, sms) {
        (Some(name), _) => carrier_id(&mut tx, "sms", Some(name), &orgs).await?,
        (None, true) if now.sms_carrier_id.is_none() => {
            carrier_id(&mut tx, "sms", None, &orgs).await?
        }
        (None, _) => now.sms_carrier_id,
    };
    sqlx::query(
        "UPDATE numbers SET voice = $2, sms = $3, fax = $4, voice_carrier_id = $5, sms_carrier_id = $6,
                            mms = $7, e911_capable = coalesce($8, e911_capable)
         WHERE e164 = $1",
    )
    .bind(number.as_str())
    .bind(voice)
    .bind(sms)
    .bind(fax)
    .bind(voice_carrier)
    .bind(sms_carrier)
    .bind(mms)
    // Left out, 911 keeps following the number's kind.
    .bind(change.e911)
    .execute(&mut *tx)
    .await?;
    let result = json!({
        "e164": number,
        "capabilities": { "voice": voice, "sms": sms, "fax": fax, "mms": mms, "e911": e911 },
        "voice_carrier_id": voice_carrier, "sms_carrier_id": sms_carrier,
    });
    let entry = Entry::new(Action::UpdateCapabilities, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .number(number.as_str())
        .details(result.clone());
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(result)
}

/// A number's capabilities and carriers as they are, and whether it is in use.
#[derive(sqlx::FromRow)]
struct CapabilityRow {
    voice: bool,
    sms: bool,
    fax: bool,
    mms: bool,
    e911: bool,
    voice_carrier_id: Option<Uuid>,
    sms_carrier_id: Option<Uuid>,
    in_use: bool,
}

/// The operator's permanent release of a number back to the carrier: irreversible, so the
/// caller must type the number again, and only while nobody uses or holds an allocation of it.
pub async fn permanent_release(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    confirm: &str,
    request_id: Option<&str>,
) -> AppResult<()> {
    if !caller.is_operator() {
        return Err(AppError::Forbidden(
            "only the platform operator may release a number permanently to the carrier".into(),
        ));
    }
    let typed = E164::parse(confirm).ok();
    if typed.as_ref() != Some(number) {
        return Err(AppError::invalid_field(
            "confirm",
            format!("type the number ({number}) to confirm the permanent release"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let row: Option<(Option<TenantId>, Option<TenantId>, String)> = sqlx::query_as(
        "SELECT tenant_id, allocated_tenant_id, lifecycle FROM numbers WHERE e164 = $1 FOR UPDATE",
    )
    .bind(number.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let (tenant, allocated, lifecycle) =
        row.ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    if allocated.is_some() || !in_stock(&lifecycle, tenant)? {
        return Err(AppError::conflict(
            "number_assigned",
            format!("{number} is assigned or in use: release it first"),
            json!({ "lifecycle": lifecycle }),
        ));
    }
    for sql in [
        "DELETE FROM provisioning_attempts WHERE e164 = $1",
        "DELETE FROM holds WHERE e164 = $1 AND ended_at IS NOT NULL",
        "DELETE FROM numbers WHERE e164 = $1",
    ] {
        sqlx::query(sql)
            .bind(number.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let entry = Entry::new(Action::PermanentRelease, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .number(number.as_str());
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// A reseller (or the operator) sets a tenant's "Allow external numbers".
pub async fn set_external_numbers(
    state: &AppState,
    caller: &Principal,
    tenant_id: TenantId,
    allow: bool,
) -> AppResult<()> {
    let org = caller.inventory_owner()?;
    let mut tx = state.pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE organizations SET allow_external_numbers = $3
         WHERE id = $1 AND kind = 'tenant' AND ($4 OR parent_id = $2)",
    )
    .bind(tenant_id)
    .bind(org)
    .bind(allow)
    .bind(caller.is_operator())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound("tenant".into()));
    }
    let entry = Entry::new(Action::Settings, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), None)
        .org(caller.org_id)
        .details(json!({ "allow_external_numbers": allow }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a stored lifecycle and holder are in stock (`numbers::offer`).
fn in_stock(lifecycle: &str, holder: Option<TenantId>) -> AppResult<bool> {
    let state: NumberState = lifecycle
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok(offer::in_stock(state, holder))
}
