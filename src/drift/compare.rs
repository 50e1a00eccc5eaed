//! The one comparison, number by number, of what Inward shows for a tenant with what the
//! tenant's platform routes. Reconciliation stores its answer for the Drift page, and
//! `inward check-consistency` (the fault tests' judge) prints it.
//!
//! The rule: a number Inward shows `active` or `pending` for the tenant is routed by its
//! platform to the target Inward names, and that target exists; every other number is routed
//! nowhere by it. Numbers in flight (`provisioning`) are not judged: their saga owns them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::Target;
#[cfg(test)]
use crate::domain::TargetKind;
use crate::domain::TenantId;
use crate::numbers::repo::Shown;
use crate::providers::Routed;

/// How Inward and the platform disagree about one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// The platform routes it; Inward shows it held, in stock or another tenant's.
    RoutedNotActive,
    /// Inward shows it active; the platform routes it nowhere.
    Unrouted,
    /// Both route it, to different targets.
    DifferentTarget,
    /// Inward's target no longer exists on the platform (an orphan).
    TargetGone,
    /// The platform routes a number Inward does not know.
    Unknown,
}

impl DriftClass {
    pub const ALL: [DriftClass; 5] = [
        DriftClass::RoutedNotActive,
        DriftClass::Unrouted,
        DriftClass::DifferentTarget,
        DriftClass::TargetGone,
        DriftClass::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::RoutedNotActive => "routed_not_active",
            DriftClass::Unrouted => "unrouted",
            DriftClass::DifferentTarget => "different_target",
            DriftClass::TargetGone => "target_gone",
            DriftClass::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DriftClass::RoutedNotActive => "Routed on the platform, not active in Inward",
            DriftClass::Unrouted => "Active in Inward, routed nowhere",
            DriftClass::DifferentTarget => "Routed to a different target",
            DriftClass::TargetGone => "Target gone",
            DriftClass::Unknown => "Unknown to Inward",
        }
    }
}

impl std::str::FromStr for DriftClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DriftClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown drift class “{s}”"))
    }
}

/// One number on which Inward and the platform disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub number: String,
    pub class: DriftClass,
    /// What Inward shows, for people.
    pub inward: String,
    /// What the platform does, for people.
    pub platform: String,
    pub inward_target: Option<Target>,
    pub platform_target: Option<Target>,
}

fn routes(state: &str) -> bool {
    matches!(state, "active" | "pending")
}

fn shown_target(n: &Shown) -> Option<Target> {
    Some(Target {
        kind: n.target_type.as_deref()?.parse().ok()?,
        id: n.target_id.clone()?,
        name: n.target_name.clone().unwrap_or_default(),
    })
}

fn described(shown: &Shown, tenant: TenantId) -> String {
    if shown.tenant_id.is_some_and(|t| t != tenant) {
        return format!("{} (another tenant's)", shown.lifecycle);
    }
    match shown_target(shown) {
        Some(t) if routes(&shown.lifecycle) || shown.lifecycle == "orphaned" => format!(
            "{}, routed to {} {} ({})",
            shown.lifecycle,
            t.kind.as_str(),
            t.name,
            t.id
        ),
        _ => shown.lifecycle.clone(),
    }
}

/// Compares what Inward shows with what the tenant's platform routes. `gone` answers
/// whether one of Inward's targets no longer exists on the platform.
pub fn compare(
    tenant: TenantId,
    shown: &[Shown],
    routed: &[Routed],
    gone: impl Fn(&Target) -> bool,
) -> Vec<Drift> {
    let by_number: BTreeMap<&str, &Routed> = routed.iter().map(|r| (r.e164.as_str(), r)).collect();
    let platform_text = |r: Option<&Routed>| {
        r.map_or_else(
            || "routed nowhere".to_string(),
            |r| format!("routed to {}", r.described),
        )
    };
    let mut out = Vec::new();
    for number in shown.iter().filter(|n| n.lifecycle != "provisioning") {
        let on_platform = by_number.get(number.e164.as_str()).copied();
        let ours = number.tenant_id == Some(tenant);
        let target = shown_target(number);
        let class = match (ours, number.lifecycle.as_str(), &target, on_platform) {
            (true, "orphaned", _, _) => Some(DriftClass::TargetGone),
            (true, state, Some(t), _) if routes(state) && gone(t) => Some(DriftClass::TargetGone),
            (true, state, _, None) if routes(state) => Some(DriftClass::Unrouted),
            (true, state, Some(t), Some(r)) if routes(state) => {
                (!r.reaches(t.kind, &t.id)).then_some(DriftClass::DifferentTarget)
            }
            (_, _, _, Some(_)) => Some(DriftClass::RoutedNotActive),
            _ => None,
        };
        if let Some(class) = class {
            out.push(Drift {
                number: number.e164.clone(),
                class,
                inward: described(number, tenant),
                platform: platform_text(on_platform),
                inward_target: target.filter(|_| ours),
                platform_target: on_platform.and_then(|r| r.targets.first().cloned()),
            });
        }
    }
    let known: std::collections::BTreeSet<&str> = shown.iter().map(|n| n.e164.as_str()).collect();
    for r in routed.iter().filter(|r| !known.contains(r.e164.as_str())) {
        out.push(Drift {
            number: r.e164.clone(),
            class: DriftClass::Unknown,
            inward: "not in Inward".into(),
            platform: platform_text(Some(r)),
            inward_target: None,
            platform_target: r.targets.first().cloned(),
        });
    }
    out.sort_by(|a, b| a.number.cmp(&b.number));
    out
}

/// Counts per class, every class present.
pub fn counts(drift: &[Drift]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> =
        DriftClass::ALL.iter().map(|c| (c.as_str(), 0)).collect();
    for d in drift {
        *counts.entry(d.class.as_str()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const T: TenantId = TenantId(Uuid::from_u128(1));
    const OTHER: TenantId = TenantId(Uuid::from_u128(2));

    fn shown(e164: &str, state: &str, tenant: Option<TenantId>, target: Option<&str>) -> Shown {
        Shown {
            e164: e164.into(),
            lifecycle: state.into(),
            tenant_id: tenant,
            target_type: target.map(|_| "queue".into()),
            target_id: target.map(str::to_string),
            target_name: target.map(|t| format!("Queue {t}")),
        }
    }

    fn routed(e164: &str, target: &str) -> Routed {
        Routed {
            e164: e164.into(),
            described: format!("queue {target}"),
            targets: vec![Target {
                kind: TargetKind::Queue,
                id: target.into(),
                name: format!("Queue {target}"),
            }],
        }
    }

    fn classes(found: &[Drift]) -> Vec<(&str, DriftClass)> {
        found.iter().map(|d| (d.number.as_str(), d.class)).collect()
    }

    #[test]
    fn agreement_is_no_difference() {
        let shown = [
            shown("+13175550001", "active", Some(T), Some("q1")),
            shown("+13175550002", "available", None, None),
            shown("+13175550003", "reserved", Some(T), None),
        ];
        let routed = [routed("+13175550001", "q1")];
        assert!(compare(T, &shown, &routed, |_| false).is_empty());
    }

    #[test]
    fn each_class_is_named() {
        let shown = [
            shown("+13175550001", "active", Some(T), Some("q1")),
            shown("+13175550002", "active", Some(T), Some("q1")),
            shown("+13175550003", "released", None, None),
            shown("+13175550004", "active", Some(OTHER), Some("q9")),
            shown("+13175550005", "pending", Some(T), Some("gone")),
            shown("+13175550006", "orphaned", Some(T), Some("q1")),
        ];
        let routed = [
            routed("+13175550002", "q2"),
            routed("+13175550003", "q1"),
            routed("+13175550004", "q1"),
            routed("+13175550005", "gone"),
            routed("+13175550099", "q1"),
        ];
        let found = compare(T, &shown, &routed, |t| t.id == "gone");
        assert_eq!(
            classes(&found),
            vec![
                ("+13175550001", DriftClass::Unrouted),
                ("+13175550002", DriftClass::DifferentTarget),
                ("+13175550003", DriftClass::RoutedNotActive),
                ("+13175550004", DriftClass::RoutedNotActive),
                ("+13175550005", DriftClass::TargetGone),
                ("+13175550006", DriftClass::TargetGone),
                ("+13175550099", DriftClass::Unknown),
            ]
        );
        let different = &found[1];
        assert_eq!(different.inward_target.as_ref().unwrap().id, "q1");
        assert_eq!(different.platform_target.as_ref().unwrap().id, "q2");
        // Another tenant's target is not shown as this tenant's.
        assert_eq!(found[3].inward_target, None);
        assert!(found[3].inward.contains("another tenant"));
        let counts = counts(&found);
        assert_eq!(counts["routed_not_active"], 2);
        assert_eq!(counts["unknown"], 1);
    }

    #[test]
    fn a_routing_reaches_any_of_its_targets() {
        let mut both = routed("+13175550001", "q1");
        both.targets.push(Target {
            kind: TargetKind::Ivr,
            id: "route-1".into(),
            name: "Sales".into(),
        });
        let mut as_ivr = shown("+13175550001", "active", Some(T), Some("route-1"));
        as_ivr.target_type = Some("ivr".into());
        assert!(compare(T, &[as_ivr.clone()], &[both.clone()], |_| false).is_empty());
        // The same id as another kind is a different target.
        as_ivr.target_type = Some("extension".into());
        assert_eq!(
            classes(&compare(T, &[as_ivr], &[both], |_| false)),
            vec![("+13175550001", DriftClass::DifferentTarget)]
        );
    }

    #[test]
    fn numbers_in_flight_are_not_judged() {
        let shown = [shown("+13175550001", "provisioning", Some(T), Some("q1"))];
        assert!(compare(T, &shown, &[routed("+13175550001", "q2")], |_| false).is_empty());
        assert!(compare(T, &shown, &[], |_| false).is_empty());
    }

    #[test]
    fn classes_read_back_from_their_names() {
        for class in DriftClass::ALL {
            assert_eq!(class.as_str().parse::<DriftClass>(), Ok(class));
        }
        assert!("drifted".parse::<DriftClass>().is_err());
    }
}
