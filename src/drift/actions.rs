//! What a tenant admin can do about a difference: apply Inward's routing to the platform,
//! adopt the platform's routing into Inward, or release the number. Each acts on the
//! difference as the last run recorded it, re-checks what it depends on first, and removes
//! the row once done.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::compare::{Drift, DriftClass};
use super::repo::{self, StoredDrift};
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::domain::{E164, NumberState};
use crate::error::{AppError, AppResult};
use crate::numbers::lifecycle;
use crate::numbers::repo::TenantNumber;
use crate::providers::Platform;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Make the platform do what Inward shows.
    Apply,
    /// Make Inward show what the platform does.
    Adopt,
    /// Unroute the number on the platform and release it in Inward.
    Release,
}

impl DriftAction {
    pub const ALL: [DriftAction; 3] =
        [DriftAction::Apply, DriftAction::Adopt, DriftAction::Release];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftAction::Apply => "apply",
            DriftAction::Adopt => "adopt",
            DriftAction::Release => "release",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DriftAction::Apply => "Apply Inward's routing to the platform",
            DriftAction::Adopt => "Adopt the platform's routing",
            DriftAction::Release => "Release",
        }
    }
}

impl std::str::FromStr for DriftAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DriftAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action “{s}”: use apply, adopt or release"))
    }
}

/// The actions that make sense for a difference of `class`. Adopting needs a target on the
/// platform Inward can route to; releasing needs the number to be the tenant's in Inward.
/// A number Inward shows held, in stock or another tenant's is never adopted: it goes through
/// search and provisioning like any other.
pub fn offered(class: DriftClass, platform_has_target: bool) -> Vec<DriftAction> {
    use DriftAction::*;
    let mut actions = match class {
        DriftClass::RoutedNotActive => vec![Apply],
        DriftClass::Unrouted => vec![Apply, Release],
        DriftClass::DifferentTarget => vec![Apply, Adopt, Release],
        DriftClass::TargetGone => vec![Adopt, Release],
        DriftClass::Unknown => vec![Apply, Adopt],
    };
    if !platform_has_target {
        actions.retain(|a| *a != Adopt);
    }
    actions
}

pub fn offered_for(d: &StoredDrift) -> Vec<DriftAction> {
    offered(d.drift.class, d.drift.platform_target.is_some())
}

fn changed(number: &E164) -> AppError {
    AppError::conflict(
        "state_changed",
        format!("{number} changed since the last check; run the check again"),
        json!(null),
    )
}

/// Does `action` on the recorded difference for `number`; says what was done.
pub async fn act(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    action: DriftAction,
    request_id: Option<&str>,
) -> AppResult<String> {
    let tenant = caller.tenant_admin()?;
    let stored = repo::find(&state.pool, tenant, number.as_str())
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("a difference for {number} (run the check again)"))
        })?;
    ensure_offered(&stored, action, number)?;
    let drift = stored.drift;
    if crate::numbers::reroute::in_progress(&state.pool, number.as_str()).await? {
        return Err(crate::numbers::reroute::busy(number));
    }
    let provider = state.platform_for(tenant).await?;
    let current =
        crate::numbers::repo::find(&mut *state.pool.acquire().await?, tenant, number.as_str())
            .await?;
    let from: Option<NumberState> = current.as_ref().map(|n| n.state);
    let done = match (action, drift.class) {
        (DriftAction::Release, _) => {
            crate::numbers::release::release(state, caller, number, request_id).await?;
            "released".to_string()
        }
        (DriftAction::Apply, DriftClass::RoutedNotActive | DriftClass::Unknown) => {
            unroute_on_platform(provider.as_ref(), tenant, number, from).await?
        }
        (DriftAction::Apply, _) => {
            route_as_inward(provider.as_ref(), tenant, number, current.as_ref(), &drift).await?
        }
        (DriftAction::Adopt, _) => {
            adopt_platform_routing(state, provider.as_ref(), tenant, number, from, &drift).await?
        }
    };
    let entry = Entry::new(Action::Reconcile, Outcome::Success)
        .by(Some(tenant), Some(caller.user_id), request_id)
        .number(number.as_str())
        .details(json!({
            "action": action,
            "class": drift.class,
            "inward": drift.inward,
            "platform": drift.platform,
            "done": done,
        }));
    audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
    repo::resolved(&state.pool, tenant, number.as_str()).await?;
    Ok(done)
}

/// The action must be one the recorded difference offers.
fn ensure_offered(stored: &StoredDrift, action: DriftAction, number: &E164) -> AppResult<()> {
    let offered = offered_for(stored);
    if offered.contains(&action) {
        return Ok(());
    }
    Err(AppError::conflict(
        "action_not_offered",
        format!(
            "“{}” is not offered for {number} ({}); offered: {}",
            action.label(),
            stored.drift.class.label().to_lowercase(),
            offered
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!({ "offered": offered }),
    ))
}

/// Inward routes it nowhere: neither should the platform, unless the number became this
/// tenant's routed number since the check.
async fn unroute_on_platform(
    provider: &dyn Platform,
    tenant: TenantId,
    number: &E164,
    from: Option<NumberState>,
) -> AppResult<String> {
    if from.is_some_and(|s| {
        matches!(
            s,
            NumberState::Active | NumberState::Pending | NumberState::Provisioning
        )
    }) {
        return Err(changed(number));
    }
    provider.unassign(tenant, number).await?;
    Ok("unrouted on the platform".to_string())
}

/// The platform routes it elsewhere: route it where Inward says, if Inward still says so.
async fn route_as_inward(
    provider: &dyn Platform,
    tenant: TenantId,
    number: &E164,
    current: Option<&TenantNumber>,
    drift: &Drift,
) -> AppResult<String> {
    let (Some(n), Some(target)) = (current, drift.inward_target.as_ref()) else {
        return Err(changed(number));
    };
    let from = Some(n.state);
    if !matches!(from, Some(NumberState::Active | NumberState::Pending))
        || n.target_id.as_deref() != Some(target.id.as_str())
    {
        return Err(changed(number));
    }
    provider.unassign(tenant, number).await?;
    let number_ref = crate::providers::NumberRef {
        e164: number,
        state: n.us_state.as_deref(),
    };
    provider
        .assign(tenant, number_ref, target, n.display_name.as_deref())
        .await?;
    Ok(format!(
        "routed to {} {} on the platform",
        target.kind.as_str(),
        target.name
    ))
}

/// Inward takes the platform's routing as it is now, not as the check saw it.
async fn adopt_platform_routing(
    state: &AppState,
    provider: &dyn Platform,
    tenant: TenantId,
    number: &E164,
    from: Option<NumberState>,
    drift: &Drift,
) -> AppResult<String> {
    let Some(target) = drift.platform_target.as_ref() else {
        return Err(changed(number));
    };
    if provider.activation(number).await?.is_none()
        || !provider.target_exists(tenant, target).await?
    {
        return Err(changed(number));
    }
    let mut tx = state.pool.begin().await?;
    let adopted = match from {
        None => lifecycle::adopted_unknown(&mut tx, number, tenant, target).await?,
        Some(from) => {
            lifecycle::retargeted(
                &mut tx,
                number.as_str(),
                tenant,
                from,
                crate::domain::Event::Adopted,
                target,
            )
            .await?
        }
    };
    if !adopted {
        return Err(changed(number));
    }
    tx.commit().await?;
    Ok(format!(
        "now routed to {} {} in Inward",
        target.kind.as_str(),
        target.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_offers_what_can_resolve_it() {
        use DriftAction::*;
        assert_eq!(offered(DriftClass::RoutedNotActive, true), vec![Apply]);
        assert_eq!(offered(DriftClass::Unrouted, false), vec![Apply, Release]);
        assert_eq!(
            offered(DriftClass::DifferentTarget, true),
            vec![Apply, Adopt, Release]
        );
        assert_eq!(
            offered(DriftClass::DifferentTarget, false),
            vec![Apply, Release]
        );
        assert_eq!(offered(DriftClass::TargetGone, false), vec![Release]);
        assert_eq!(offered(DriftClass::Unknown, true), vec![Apply, Adopt]);
        assert_eq!(offered(DriftClass::Unknown, false), vec![Apply]);
    }

    #[test]
    fn actions_read_back_from_their_names() {
        for action in DriftAction::ALL {
            assert_eq!(action.as_str().parse::<DriftAction>(), Ok(action));
        }
        assert!("fix".parse::<DriftAction>().is_err());
    }
}
