//! Reconciliation, DID by DID: for each connected tenant, every number its platform routes
//! is read and compared with Inward (`compare`), the differences are kept for the Drift page
//! and `GET /api/v1/drift`, and each run is recorded with its counts. A target that is gone
//! is the orphan workflow's business: reconciliation flags the number orphaned, and the
//! orphan job deprovisions it after the grace period. Owns `drift` and `reconcile_runs`.

pub mod actions;
pub mod compare;
pub mod orphan;
pub mod repo;
pub mod routes;
pub mod web;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;

use crate::domain::TenantId;
use crate::domain::{Target, TargetKind};
use crate::error::AppResult;
use crate::state::AppState;
pub use compare::{Drift, DriftClass};

/// What one run found for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub tenant_id: TenantId,
    /// Numbers compared: those Inward routes for the tenant and those the platform routes.
    pub compared: usize,
    pub counts: BTreeMap<&'static str, usize>,
    /// Numbers Inward routes for the tenant, each with its target looked up.
    pub routed_in_inward: usize,
    /// Numbers this run flagged orphaned (their target is gone).
    pub orphaned: usize,
    pub duration_ms: u64,
}

/// What one comparison found.
pub struct Comparison {
    pub drift: Vec<Drift>,
    /// Numbers compared: those Inward shows routed for the tenant and those the platform routes.
    pub compared: usize,
    pub routed_in_inward: usize,
}

/// Reads the tenant's platform and compares it with Inward.
pub async fn compare_tenant(state: &AppState, tenant: TenantId) -> AppResult<Comparison> {
    let provider = state.platform_for(tenant).await?;
    let routed = provider.routed_numbers(tenant).await?;
    let named: Vec<String> = routed.iter().map(|r| r.e164.clone()).collect();
    let shown = crate::numbers::repo::shown_for_check(&state.pool, tenant, &named).await?;
    // Each of Inward's targets is looked up once, however many numbers it carries.
    let mut targets: HashMap<(TargetKind, String), Target> = HashMap::new();
    let routed_in_inward: Vec<_> = shown
        .iter()
        .filter(|n| {
            n.tenant_id == Some(tenant) && matches!(n.lifecycle.as_str(), "active" | "pending")
        })
        .collect();
    for n in &routed_in_inward {
        if let (Some(kind), Some(id)) = (&n.target_type, &n.target_id)
            && let Ok(kind) = kind.parse()
        {
            targets.entry((kind, id.clone())).or_insert(Target {
                kind,
                id: id.clone(),
                name: n.target_name.clone().unwrap_or_default(),
            });
        }
    }
    let mut gone = HashSet::new();
    for (key, target) in targets {
        if !provider.target_exists(tenant, &target).await? {
            gone.insert(key);
        }
    }
    let drift = compare::compare(tenant, &shown, &routed, |t| {
        gone.contains(&(t.kind, t.id.clone()))
    });
    let compared: BTreeSet<&str> = shown
        .iter()
        .map(|n| n.e164.as_str())
        .chain(named.iter().map(String::as_str))
        .collect();
    Ok(Comparison {
        drift,
        compared: compared.len(),
        routed_in_inward: routed_in_inward.len(),
    })
}

/// One run for one tenant: compares, keeps the differences, flags the numbers whose target
/// is gone, and records the run (with the error, when the platform could not be read).
pub async fn reconcile_tenant(state: &AppState, tenant: TenantId) -> AppResult<RunReport> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let Comparison {
        drift,
        compared,
        routed_in_inward,
    } = match compare_tenant(state, tenant).await {
        Ok(found) => found,
        Err(err) => {
            let message = err.public_message();
            repo::record_run(
                &state.pool,
                tenant,
                started_at,
                0,
                &BTreeMap::new(),
                Some(&message),
            )
            .await?;
            crate::metrics::reconcile_run(false, clock.elapsed().as_secs_f64(), &BTreeMap::new());
            return Err(err);
        }
    };
    repo::replace(&state.pool, tenant, &drift).await?;
    let mut orphaned = 0;
    for d in drift.iter().filter(|d| d.class == DriftClass::TargetGone) {
        if let Some(target) = &d.inward_target
            && orphan::flag_orphan(state, tenant, &d.number, target).await?
        {
            orphaned += 1;
        }
    }
    let counts = compare::counts(&drift);
    repo::record_run(&state.pool, tenant, started_at, compared, &counts, None).await?;
    crate::metrics::reconcile_run(true, clock.elapsed().as_secs_f64(), &counts);
    Ok(RunReport {
        tenant_id: tenant,
        compared,
        counts,
        routed_in_inward,
        orphaned,
        duration_ms: clock.elapsed().as_millis() as u64,
    })
}

/// Every tenant with a platform connection or a routed number, one after another. A tenant
/// whose platform cannot be read is logged and skipped; the others still run.
pub async fn reconcile_all(state: &AppState) -> AppResult<Vec<RunReport>> {
    let mut reports = Vec::new();
    // Tenants with a connection of their own, and any with a routed number (the sandbox
    // needs no connection).
    let mut tenants: BTreeSet<TenantId> =
        crate::connections::repo::connected_tenants(&state.pool, false)
            .await?
            .into_iter()
            .collect();
    tenants.extend(crate::numbers::repo::tenants_with_routed(&state.pool).await?);
    for tenant in tenants {
        match reconcile_tenant(state, tenant).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                tracing::warn!(%tenant, error = %err, "reconciliation could not read the platform; retrying next run")
            }
        }
    }
    Ok(reports)
}

/// The reconciliation job: one instance runs it per `reconcile.interval_seconds`.
pub async fn run_if_due(state: &AppState) -> AppResult<Option<Vec<RunReport>>> {
    if !crate::job_runs::claim(
        &state.pool,
        "reconcile",
        state.config.reconcile.interval_seconds,
    )
    .await?
    {
        return Ok(None);
    }
    Ok(Some(reconcile_all(state).await?))
}
