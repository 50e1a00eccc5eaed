//! Does the platform do what Inward shows? One comparison, number by number, of Inward's
//! numbers with what each tenant's platform routes: `inward check-consistency` prints it,
//! and the fault tests require it to find nothing after recovery.
//!
//! The rule: a number Inward shows `active` or `pending` for a tenant is routed by that
//! tenant's platform to the target Inward names; a number Inward shows in any other settled
//! state (offered, held, released) is routed nowhere by it. Numbers in flight
//! (`provisioning`) and `orphaned` ones (their target is gone; the orphan workflow owns
//! them) are not judged, nor are numbers Inward does not know.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::error::AppResult;
use crate::numbers::repo::Shown;
use crate::providers::Routed;
use crate::state::AppState;

/// One number on which Inward and the platform disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub number: String,
    pub inward: String,
    pub platform: String,
}

fn routes(state: &str) -> bool {
    matches!(state, "active" | "pending")
}

fn judged(state: &str) -> bool {
    !matches!(state, "provisioning" | "orphaned")
}

fn described(shown: &Shown, tenant: Uuid) -> String {
    let mut text = shown.lifecycle.clone();
    if shown.tenant_id.is_some_and(|t| t != tenant) {
        text.push_str(" (another tenant's)");
    } else if routes(&shown.lifecycle) {
        text.push_str(&format!(
            ", routed to {} {} ({})",
            shown.target_type.as_deref().unwrap_or("?"),
            shown.target_name.as_deref().unwrap_or("?"),
            shown.target_id.as_deref().unwrap_or("?"),
        ));
    }
    text
}

/// Compares what Inward shows with what the tenant's platform routes.
pub fn compare(tenant: Uuid, shown: &[Shown], routed: &[Routed]) -> Vec<Difference> {
    let routed: BTreeMap<&str, &str> = routed
        .iter()
        .map(|r| (r.e164.as_str(), r.target_id.as_str()))
        .collect();
    let mut differences = Vec::new();
    for number in shown.iter().filter(|n| judged(&n.lifecycle)) {
        let ours = routes(&number.lifecycle) && number.tenant_id == Some(tenant);
        let platform = routed.get(number.e164.as_str()).copied();
        let agree = match (ours, platform) {
            (true, Some(target)) => number.target_id.as_deref() == Some(target),
            (true, None) => false,
            (false, Some(_)) => false,
            (false, None) => true,
        };
        if !agree {
            differences.push(Difference {
                number: number.e164.clone(),
                inward: described(number, tenant),
                platform: platform.map_or_else(
                    || "routed nowhere".to_string(),
                    |target| format!("routed to {target}"),
                ),
            });
        }
    }
    differences
}

/// The check for one tenant: its differences and how many numbers were compared.
pub async fn check_tenant(state: &AppState, tenant: Uuid) -> AppResult<(Vec<Difference>, usize)> {
    let provider = state.provider_for(tenant).await?;
    match provider.routed_numbers(tenant).await? {
        Some(routed) => {
            let named: Vec<String> = routed.iter().map(|r| r.e164.clone()).collect();
            let shown = crate::numbers::repo::shown_for_check(&state.pool, tenant, &named).await?;
            Ok((compare(tenant, &shown, &routed), shown.len()))
        }
        // The platform cannot list what it routes: ask it about each number Inward routes.
        None => {
            let shown = crate::numbers::repo::shown_for_check(&state.pool, tenant, &[]).await?;
            let mut differences = Vec::new();
            for number in shown.iter().filter(|n| routes(&n.lifecycle)) {
                let e164 = crate::domain::E164::from_stored(&number.e164)
                    .map_err(|e| crate::error::AppError::Internal(e.into()))?;
                if provider.activation(&e164).await?.is_none() {
                    differences.push(Difference {
                        number: number.e164.clone(),
                        inward: described(number, tenant),
                        platform: "routed nowhere".into(),
                    });
                }
            }
            Ok((differences, shown.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(e164: &str, state: &str, tenant: Option<Uuid>, target: Option<&str>) -> Shown {
        Shown {
            e164: e164.into(),
            lifecycle: state.into(),
            tenant_id: tenant,
            target_type: target.map(|_| "queue".into()),
            target_id: target.map(str::to_string),
            target_name: target.map(|_| "Sales".into()),
        }
    }

    fn routed(e164: &str, target: &str) -> Routed {
        Routed {
            e164: e164.into(),
            target_id: target.into(),
        }
    }

    #[test]
    fn agreement_is_no_difference() {
        let t = Uuid::new_v4();
        let ours = [
            shown("+15125550001", "active", Some(t), Some("q1")),
            shown("+15125550002", "pending", Some(t), Some("q2")),
            shown("+15125550003", "available", None, None),
        ];
        let theirs = [routed("+15125550001", "q1"), routed("+15125550002", "q2")];
        assert!(compare(t, &ours, &theirs).is_empty());
    }

    #[test]
    fn each_kind_of_disagreement_is_named() {
        let t = Uuid::new_v4();
        let other = Uuid::new_v4();
        let ours = [
            shown("+15125550001", "active", Some(t), Some("q1")),
            shown("+15125550002", "active", Some(t), Some("q1")),
            shown("+15125550003", "available", None, None),
            shown("+15125550004", "reserved", Some(other), None),
            shown("+15125550005", "active", Some(other), Some("q9")),
        ];
        let theirs = [
            routed("+15125550002", "q2"),
            routed("+15125550003", "q1"),
            routed("+15125550004", "q1"),
            routed("+15125550005", "q1"),
        ];
        let found = compare(t, &ours, &theirs);
        let summary: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.number.as_str(), d.platform.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("+15125550001", "routed nowhere"),
                ("+15125550002", "routed to q2"),
                ("+15125550003", "routed to q1"),
                ("+15125550004", "routed to q1"),
                ("+15125550005", "routed to q1"),
            ]
        );
        assert!(found[0].inward.starts_with("active, routed to queue Sales"));
        assert_eq!(found[4].inward, "active (another tenant's)");
    }

    #[test]
    fn numbers_in_flight_or_orphaned_are_not_judged() {
        let t = Uuid::new_v4();
        let ours = [
            shown("+15125550001", "provisioning", Some(t), None),
            shown("+15125550002", "orphaned", Some(t), Some("q1")),
        ];
        let theirs = [routed("+15125550001", "q1")];
        assert!(compare(t, &ours, &theirs).is_empty());
    }
}
