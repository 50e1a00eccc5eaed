//! Aging after release: for a reseller-chosen number of days after a tenant releases a
//! number, only that tenant may take it back; nobody else is offered it.

use crate::domain::TenantId;
use chrono::{DateTime, Duration, Utc};

/// The longest aging period a reseller may set.
pub const MAX_DAYS: i32 = 365;
/// The FCC's minimum before a disconnected number is reassigned (FCC 18-177): the default,
/// and the least a reseller may set without acknowledging it is shorter.
pub const USUAL_DAYS: i32 = 45;

/// A reseller's aging period: 0 (off) to 365 days, 45 unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgingPeriod(i32);

impl AgingPeriod {
    /// A period shorter than the regulatory minimum needs `acknowledged`: the reseller says it
    /// knows a disconnected number may then reach a new holder sooner than the FCC allows.
    pub fn parse(days: i64, acknowledged: bool) -> Result<AgingPeriod, String> {
        if !(0..=MAX_DAYS as i64).contains(&days) {
            return Err(format!(
                "the aging period is 0 (off) to {MAX_DAYS} days; {USUAL_DAYS} is the usual minimum for disconnected numbers"
            ));
        }
        if days < USUAL_DAYS as i64 && !acknowledged {
            return Err(format!(
                "under {USUAL_DAYS} days needs your acknowledgement: the FCC requires disconnected numbers to age at least {USUAL_DAYS} days before they are reassigned (FCC 18-177)"
            ));
        }
        Ok(AgingPeriod(days as i32))
    }

    /// Whether it is shorter than the regulatory minimum (and so was acknowledged).
    pub fn short(self) -> bool {
        self.0 < USUAL_DAYS
    }

    pub fn days(self) -> i32 {
        self.0
    }

    /// When a number released at `released_at` is offered to everyone again; `None` when
    /// aging is off.
    pub fn available_at(self, released_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.0 > 0).then(|| released_at + Duration::days(self.0 as i64))
    }
}

/// May `tenant` be offered a number that `released_by` released, aging until `aging_until`?
pub fn offered_to(
    tenant: TenantId,
    released_by: Option<TenantId>,
    aging_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match aging_until {
        Some(until) if until > now => released_by == Some(tenant),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_period_is_bounded_and_under_45_days_is_acknowledged() {
        assert_eq!(AgingPeriod::parse(0, true).unwrap().days(), 0);
        assert!(
            AgingPeriod::parse(0, false)
                .unwrap_err()
                .contains("FCC 18-177")
        );
        assert!(AgingPeriod::parse(44, false).is_err());
        assert!(AgingPeriod::parse(44, true).unwrap().short());
        assert_eq!(AgingPeriod::parse(45, false).unwrap().days(), 45);
        assert!(!AgingPeriod::parse(45, false).unwrap().short());
        assert!(
            AgingPeriod::parse(366, true)
                .unwrap_err()
                .contains("0 (off) to 365")
        );
        assert!(AgingPeriod::parse(-1, true).is_err());
        let released: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            AgingPeriod::parse(0, true).unwrap().available_at(released),
            None
        );
        assert_eq!(
            AgingPeriod::parse(45, false)
                .unwrap()
                .available_at(released),
            Some("2026-02-15T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn only_the_releasing_tenant_gets_an_aging_number_back() {
        let (a, b) = (TenantId(Uuid::from_u128(1)), TenantId(Uuid::from_u128(2)));
        let now: DateTime<Utc> = "2026-01-10T00:00:00Z".parse().unwrap();
        let later = Some(now + Duration::days(1));
        assert!(offered_to(a, Some(a), later, now));
        assert!(!offered_to(b, Some(a), later, now));
        assert!(
            offered_to(b, Some(a), Some(now), now),
            "aging ends at its deadline"
        );
        assert!(offered_to(b, Some(a), None, now), "no aging");
        assert!(offered_to(b, None, None, now));
    }
}
