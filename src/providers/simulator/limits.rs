//! The platforms' documented rate limits, enforced as the platforms do: over a sliding
//! minute per bucket, a request past the limit is answered 429 with the `Retry-After` that
//! brings it back under. Genesys: about 300 requests a minute per client token. RingCX: 120
//! API requests a minute, and 5 token exchanges a minute. NICE publishes no figure for CXone,
//! so its simulator enforces none.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::Platform;

const WINDOW: Duration = Duration::from_secs(60);

/// Which bucket a request counts in and that bucket's limit per minute; `None` for requests
/// no published limit covers.
pub fn bucket(
    platform: Platform,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> Option<(String, usize)> {
    match platform {
        Platform::Genesys => {
            if path.starts_with("/api/v2/") {
                Some((format!("token {}", bearer.unwrap_or("-")), 300))
            } else {
                None
            }
        }
        Platform::Ringcx => {
            if method == "POST" && path == "/api/auth/login/rc/accesstoken" {
                Some(("token exchange".into(), 5))
            } else if path.starts_with("/voice/api/") {
                Some(("api".into(), 120))
            } else {
                None
            }
        }
        Platform::Cxone | Platform::Oidc => None,
    }
}

/// Requests seen per bucket over the last minute.
#[derive(Default)]
pub struct Windows {
    seen: HashMap<String, VecDeque<Instant>>,
}

impl Windows {
    /// Counts a request at `now`; when the bucket is full, the request is not counted and
    /// the answer is how long until a slot frees (whole seconds, at least one).
    pub fn admit(&mut self, bucket: &str, limit: usize, now: Instant) -> Result<(), u64> {
        let seen = self.seen.entry(bucket.to_string()).or_default();
        while seen
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            seen.pop_front();
        }
        if seen.len() >= limit {
            let oldest = seen.front().copied().unwrap_or(now);
            let free_in = WINDOW.saturating_sub(now.saturating_duration_since(oldest));
            return Err(free_in.as_secs_f64().ceil().max(1.0) as u64);
        }
        seen.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_ringcx_exchange_in_a_minute_waits_for_the_first_to_age_out() {
        let mut w = Windows::default();
        let start = Instant::now();
        let (bucket, limit) = super::bucket(
            Platform::Ringcx,
            "POST",
            "/api/auth/login/rc/accesstoken",
            None,
        )
        .unwrap();
        assert_eq!(limit, 5);
        for i in 0..5 {
            assert!(
                w.admit(&bucket, limit, start + Duration::from_secs(i))
                    .is_ok()
            );
        }
        assert_eq!(
            w.admit(&bucket, limit, start + Duration::from_secs(10)),
            Err(50)
        );
        assert!(
            w.admit(&bucket, limit, start + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn genesys_counts_per_token_and_leaves_the_login_alone() {
        let mut w = Windows::default();
        let now = Instant::now();
        let (a, limit) = bucket(Platform::Genesys, "GET", "/api/v2/users", Some("a")).unwrap();
        let (b, _) = bucket(Platform::Genesys, "GET", "/api/v2/users", Some("b")).unwrap();
        for _ in 0..limit {
            assert!(w.admit(&a, limit, now).is_ok());
        }
        assert_eq!(w.admit(&a, limit, now), Err(60));
        assert!(
            w.admit(&b, limit, now).is_ok(),
            "another token has its own minute"
        );
        assert_eq!(
            bucket(Platform::Genesys, "POST", "/oauth/token", None),
            None
        );
        assert_eq!(
            bucket(
                Platform::Cxone,
                "GET",
                "/inContactAPI/services/v33.0/skills",
                None
            ),
            None
        );
    }
}
