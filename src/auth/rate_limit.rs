//! API rate limits. Each user may make so many requests a minute to `/api/`, by role, with a
//! burst of a few seconds' worth at once: a generic cell rate (governor's GCRA) per user,
//! counted on each instance, so behind N instances a user gets up to N times the limit. All
//! of a user's API tokens and browser sessions share the one allowance: minting tokens or
//! signing in again does not multiply it. Every API answer says where the caller stands
//! (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`); one past the limit is
//! answered 429 with `Retry-After`, without running.

use std::num::NonZeroU32;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::throttle::{Forgetting, whole_seconds};
use crate::config::RateLimitsConfig;
use crate::domain::UserId;
use crate::domain::policy::Role;

type Limiter =
    RateLimiter<UserId, DefaultKeyedStateStore<UserId>, DefaultClock, StateInformationMiddleware>;

/// One role's limiter and the burst its quota allows.
struct RoleLimit {
    limiter: Limiter,
    burst: u32,
}

/// Where a role's limit sits in `ApiLimits::by_role`.
fn slot(role: Role) -> usize {
    match role {
        Role::Operator => 0,
        Role::ResellerAdmin => 1,
        Role::TenantAdmin => 2,
        Role::TenantUser => 3,
    }
}

pub struct ApiLimits {
    /// One limit per role, at its `slot`; `None` where the role is unlimited.
    by_role: [Option<RoleLimit>; 4],
    clock: DefaultClock,
    forgetting: Forgetting,
}

/// What the limit says of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The caller's role has no limit.
    Unlimited,
    /// Let through; `remaining` more may follow at once, and the allowance is whole again
    /// in `reset` seconds.
    Admitted {
        limit: u32,
        remaining: u32,
        reset: u64,
    },
    /// Refused: the next request is let through in `retry_after` seconds, the whole
    /// allowance in `reset`.
    Refused {
        limit: u32,
        retry_after: u64,
        reset: u64,
    },
}

impl ApiLimits {
    pub fn new(config: &RateLimitsConfig) -> Self {
        let mut by_role: [Option<RoleLimit>; 4] = Default::default();
        for role in [
            Role::Operator,
            Role::ResellerAdmin,
            Role::TenantAdmin,
            Role::TenantUser,
        ] {
            by_role[slot(role)] =
                quota(config.per_minute(role), config.burst_seconds).map(|quota| RoleLimit {
                    limiter: RateLimiter::keyed(quota).with_middleware(),
                    burst: quota.burst_size().get(),
                });
        }
        ApiLimits {
            by_role,
            clock: DefaultClock::default(),
            forgetting: Forgetting::new(),
        }
    }

    /// Counts one request of `user`, made as `role`.
    pub fn check(&self, role: Role, user: UserId) -> Verdict {
        let Some(RoleLimit { limiter, burst }) = &self.by_role[slot(role)] else {
            return Verdict::Unlimited;
        };
        let limit = *burst;
        if self.forgetting.due(limiter.len()) {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&user) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = snapshot.quota().replenish_interval() * (limit - remaining);
                Verdict::Admitted {
                    limit,
                    remaining,
                    reset: whole_seconds(refill),
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let rest = not_until.quota().replenish_interval() * (limit - 1);
                Verdict::Refused {
                    limit,
                    retry_after: whole_seconds(wait).max(1),
                    reset: whole_seconds(wait + rest).max(1),
                }
            }
        }
    }
}

/// The quota of `per_minute` requests with `burst_seconds` of them at once; none for 0.
fn quota(per_minute: u32, burst_seconds: u32) -> Option<Quota> {
    let per_minute = NonZeroU32::new(per_minute)?;
    let burst = (u64::from(per_minute.get()) * u64::from(burst_seconds.max(1))).div_ceil(60);
    let burst =
        NonZeroU32::new(u32::try_from(burst).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    Some(super::throttle::quota(per_minute, burst))
}

/// The `RateLimit-*` headers of an answer (and `Retry-After` on a refusal).
pub fn headers(verdict: &Verdict) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: u64| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    };
    match *verdict {
        Verdict::Unlimited => {}
        Verdict::Admitted {
            limit,
            remaining,
            reset,
        } => {
            put("ratelimit-limit", limit.into());
            put("ratelimit-remaining", remaining.into());
            put("ratelimit-reset", reset);
        }
        Verdict::Refused {
            limit,
            retry_after,
            reset,
        } => {
            put("ratelimit-limit", limit.into());
            put("ratelimit-remaining", 0);
            put("ratelimit-reset", reset);
            put("retry-after", retry_after);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn limits(per_minute: u32, burst_seconds: u32) -> ApiLimits {
        ApiLimits::new(&RateLimitsConfig {
            operator_per_minute: 0,
            reseller_admin_per_minute: per_minute,
            tenant_admin_per_minute: per_minute,
            tenant_user_per_minute: per_minute,
            burst_seconds,
        })
    }

    #[test]
    fn a_user_gets_the_burst_then_is_refused_with_a_wait() {
        // One a minute, 300 s of it at once: nothing comes back while the test runs.
        let limits = limits(1, 300);
        let token = user(1);
        for expected_remaining in (0..5).rev() {
            match limits.check(Role::TenantUser, token) {
                Verdict::Admitted {
                    limit, remaining, ..
                } => {
                    assert_eq!(limit, 5);
                    assert_eq!(remaining, expected_remaining);
                }
                other => panic!("within the burst: {other:?}"),
            }
        }
        match limits.check(Role::TenantUser, token) {
            Verdict::Refused {
                limit,
                retry_after,
                reset,
            } => {
                assert_eq!(limit, 5);
                assert!(
                    (1..=60).contains(&retry_after),
                    "one a minute: {retry_after}"
                );
                assert!(
                    (241..=300).contains(&reset),
                    "all five back in five minutes: {reset}"
                );
            }
            other => panic!("past the burst: {other:?}"),
        }
    }

    #[test]
    fn users_and_roles_are_counted_apart() {
        let limits = limits(1, 60);
        assert!(matches!(
            limits.check(Role::TenantUser, user(1)),
            Verdict::Admitted { .. }
        ));
        assert!(matches!(
            limits.check(Role::TenantUser, user(1)),
            Verdict::Refused { .. }
        ));
        assert!(matches!(
            limits.check(Role::TenantUser, user(2)),
            Verdict::Admitted { .. }
        ));
        assert!(matches!(
            limits.check(Role::TenantAdmin, user(1)),
            Verdict::Admitted { .. }
        ));
        assert_eq!(limits.check(Role::Operator, user(1)), Verdict::Unlimited);
    }

    #[test]
    fn the_reset_is_the_time_to_refill_what_was_used() {
        // Six a minute (one every 10 s), 100 s of it at once.
        let limits = limits(6, 100);
        let mut last = None;
        for _ in 0..4 {
            last = Some(limits.check(Role::TenantAdmin, user(3)));
        }
        match last {
            Some(Verdict::Admitted {
                remaining, reset, ..
            }) => {
                assert_eq!(remaining, 6);
                assert!(
                    (30..=40).contains(&reset),
                    "four used, one back every 10 s: {reset}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_burst_is_a_few_seconds_worth_and_never_zero() {
        let burst = |per_minute, seconds| quota(per_minute, seconds).map(|q| q.burst_size().get());
        assert_eq!(burst(600, 10), Some(100));
        assert_eq!(burst(1, 10), Some(1));
        assert_eq!(burst(6000, 0), Some(100));
        assert_eq!(burst(0, 10), None);
    }

    #[test]
    fn a_refusal_carries_retry_after_and_no_remaining() {
        let h = headers(&Verdict::Refused {
            limit: 100,
            retry_after: 3,
            reset: 12,
        });
        assert_eq!(h["retry-after"], "3");
        assert_eq!(h["ratelimit-remaining"], "0");
        assert_eq!(h["ratelimit-limit"], "100");
        assert_eq!(h["ratelimit-reset"], "12");
        assert!(headers(&Verdict::Unlimited).is_empty());
    }
}
