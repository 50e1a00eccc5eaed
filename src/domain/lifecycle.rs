//! The number lifecycle (DESIGN.md §2). `transition` is the only place that decides which
//! state change is legal; every repository write goes through it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberState {
    Available,
    Reserved,
    Provisioning,
    Active,
    Pending,
    Orphaned,
    Released,
    Deprovisioned,
    PortingIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Reserve,
    CancelHold,
    ExpireHold,
    StartProvisioning,
    ProvisionedImmediately,
    ProvisionedPendingActivation,
    ProvisioningFailed,
    ActivationCompleted,
    TargetDeleted,
    Rerouted,
    /// Reconciliation adopts the platform's routing: the target the platform routes to
    /// becomes Inward's.
    Adopted,
    /// The tenant moved to another platform: the number is routed to the namesake of its
    /// target there.
    Reapplied,
    GracePeriodElapsed,
    Release,
    FocDateReached,
    /// A reseller takes back an allocated number no tenant holds: it stays in inventory and
    /// is shown RELEASED.
    ReturnToInventory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a number that is {from} cannot be {verb}")]
pub struct IllegalTransition {
    pub from: NumberState,
    pub event: Event,
    verb: &'static str,
}

impl NumberState {
    pub const ALL: [NumberState; 9] = [
        NumberState::Available,
        NumberState::Reserved,
        NumberState::Provisioning,
        NumberState::Active,
        NumberState::Pending,
        NumberState::Orphaned,
        NumberState::Released,
        NumberState::Deprovisioned,
        NumberState::PortingIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NumberState::Available => "available",
            NumberState::Reserved => "reserved",
            NumberState::Provisioning => "provisioning",
            NumberState::Active => "active",
            NumberState::Pending => "pending",
            NumberState::Orphaned => "orphaned",
            NumberState::Released => "released",
            NumberState::Deprovisioned => "deprovisioned",
            NumberState::PortingIn => "porting_in",
        }
    }

    /// States in which a number is back in inventory and may be offered to a tenant.
    pub fn is_reservable(self) -> bool {
        transition(self, Event::Reserve).is_ok()
    }
}

impl Event {
    pub const ALL: [Event; 16] = [
        Event::Reserve,
        Event::CancelHold,
        Event::ExpireHold,
        Event::StartProvisioning,
        Event::ProvisionedImmediately,
        Event::ProvisionedPendingActivation,
        Event::ProvisioningFailed,
        Event::ActivationCompleted,
        Event::TargetDeleted,
        Event::Rerouted,
        Event::Adopted,
        Event::Reapplied,
        Event::GracePeriodElapsed,
        Event::Release,
        Event::FocDateReached,
        Event::ReturnToInventory,
    ];

    fn verb(self) -> &'static str {
        match self {
            Event::Reserve => "reserved",
            Event::CancelHold => "un-held",
            Event::ExpireHold => "expired",
            Event::StartProvisioning => "provisioned",
            Event::ProvisionedImmediately | Event::ProvisionedPendingActivation => {
                "marked provisioned"
            }
            Event::ProvisioningFailed => "rolled back from provisioning",
            Event::ActivationCompleted => "activated",
            Event::TargetDeleted => "orphaned",
            Event::Rerouted => "re-routed",
            Event::Adopted => "given the platform's routing",
            Event::Reapplied => "routed again on a new platform",
            Event::GracePeriodElapsed => "deprovisioned",
            Event::Release => "released",
            Event::FocDateReached => "ported in",
            Event::ReturnToInventory => "returned to inventory",
        }
    }
}

pub fn transition(from: NumberState, event: Event) -> Result<NumberState, IllegalTransition> {
    use Event as E;
    use NumberState as S;
    let to = match (from, event) {
        (S::Available | S::Released | S::Deprovisioned, E::Reserve) => S::Reserved,
        (S::Reserved, E::CancelHold | E::ExpireHold) => S::Available,
        (S::Reserved, E::StartProvisioning) => S::Provisioning,
        (S::Provisioning, E::ProvisionedImmediately) => S::Active,
        (S::Provisioning, E::ProvisionedPendingActivation) => S::Pending,
        // A failed saga step is compensated and the hold stays usable for a retry.
        (S::Provisioning, E::ProvisioningFailed) => S::Reserved,
        (S::Pending, E::ActivationCompleted) => S::Active,
        (S::Active | S::Pending, E::TargetDeleted) => S::Orphaned,
        (S::Active | S::Orphaned, E::Rerouted) => S::Active,
        (S::Active | S::Pending | S::Orphaned, E::Adopted | E::Reapplied) => S::Active,
        (S::Orphaned, E::GracePeriodElapsed) => S::Deprovisioned,
        (S::Active | S::Pending | S::Orphaned, E::Release) => S::Released,
        (S::PortingIn, E::FocDateReached) => S::Active,
        (S::Available | S::Released | S::Deprovisioned, E::ReturnToInventory) => S::Released,
        _ => {
            return Err(IllegalTransition {
                from,
                event,
                verb: event.verb(),
            });
        }
    };
    Ok(to)
}

impl fmt::Display for NumberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NumberState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NumberState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown number state “{s}”"))
    }
}

/// Lets rows decode their `lifecycle` column straight into the enum.
impl TryFrom<String> for NumberState {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event as E;
    use NumberState as S;

    const LEGAL: &[(NumberState, Event, NumberState)] = &[
        (S::Available, E::Reserve, S::Reserved),
        (S::Released, E::Reserve, S::Reserved),
        (S::Deprovisioned, E::Reserve, S::Reserved),
        (S::Reserved, E::CancelHold, S::Available),
        (S::Reserved, E::ExpireHold, S::Available),
        (S::Reserved, E::StartProvisioning, S::Provisioning),
        (S::Provisioning, E::ProvisionedImmediately, S::Active),
        (S::Provisioning, E::ProvisionedPendingActivation, S::Pending),
        (S::Provisioning, E::ProvisioningFailed, S::Reserved),
        (S::Pending, E::ActivationCompleted, S::Active),
        (S::Active, E::TargetDeleted, S::Orphaned),
        (S::Pending, E::TargetDeleted, S::Orphaned),
        (S::Orphaned, E::Rerouted, S::Active),
        (S::Active, E::Rerouted, S::Active),
        (S::Active, E::Adopted, S::Active),
        (S::Pending, E::Adopted, S::Active),
        (S::Orphaned, E::Adopted, S::Active),
        (S::Active, E::Reapplied, S::Active),
        (S::Pending, E::Reapplied, S::Active),
        (S::Orphaned, E::Reapplied, S::Active),
        (S::Orphaned, E::GracePeriodElapsed, S::Deprovisioned),
        (S::Active, E::Release, S::Released),
        (S::Pending, E::Release, S::Released),
        (S::Orphaned, E::Release, S::Released),
        (S::PortingIn, E::FocDateReached, S::Active),
        (S::Available, E::ReturnToInventory, S::Released),
        (S::Released, E::ReturnToInventory, S::Released),
        (S::Deprovisioned, E::ReturnToInventory, S::Released),
    ];

    #[test]
    fn every_state_event_pair_is_legal_exactly_when_listed() {
        for from in NumberState::ALL {
            for event in Event::ALL {
                let expected = LEGAL
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|t| t.2);
                match (transition(from, event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} + {event:?}"),
                    (Err(err), None) => {
                        assert_eq!(err.from, from);
                        assert!(
                            err.to_string()
                                .starts_with(&format!("a number that is {from}"))
                        );
                    }
                    (got, want) => panic!("{from:?} + {event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn nothing_becomes_active_without_passing_through_provisioning_or_porting() {
        for from in NumberState::ALL {
            for event in Event::ALL {
                if transition(from, event) == Ok(S::Active) {
                    assert!(matches!(
                        from,
                        S::Provisioning | S::Active | S::Pending | S::Orphaned | S::PortingIn
                    ));
                }
            }
        }
    }

    #[test]
    fn state_names_round_trip() {
        for state in NumberState::ALL {
            assert_eq!(state.as_str().parse::<NumberState>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        assert!("taken".parse::<NumberState>().is_err());
    }

    #[test]
    fn an_active_number_cannot_be_reserved_again() {
        let err = transition(S::Active, E::Reserve).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a number that is active cannot be reserved"
        );
        assert!(!S::Active.is_reservable());
        assert!(S::Released.is_reservable());
    }
}
