//! Sign-in throttling, two ways. Per email address (the `login_throttle` table): guessing a
//! password gets five tries, then a lock that doubles with each further failure, on every
//! instance. Per client address (`AddressLimit`, in memory on each instance): one address
//! spraying guesses over many accounts gets `server.sign_in_burst_per_address` tries at once,
//! then `server.sign_ins_per_address_per_minute`.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Sign-in attempts per client address: a generic cell rate (governor's GCRA), keyed by
/// address, IPv6 by its /64 (one subscriber's whole network).
pub struct AddressLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    forgetting: Forgetting,
}

impl AddressLimit {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        AddressLimit {
            limiter: RateLimiter::keyed(quota(per_minute, burst)),
            clock: DefaultClock::default(),
            forgetting: Forgetting::new(),
        }
    }

    /// Counts an attempt from `address`; the whole seconds to wait when it is one too many.
    pub fn attempt(&self, address: IpAddr) -> Option<u64> {
        if self.forgetting.due(self.limiter.len()) {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&limiter_key(address))
            .err()
            .map(|not_until| whole_seconds(not_until.wait_time_from(self.clock.now())))
    }
}

/// `per_minute` a minute, `burst` of them at once.
pub(super) fn quota(per_minute: NonZeroU32, burst: NonZeroU32) -> Quota {
    let period = Duration::from_secs(60) / per_minute.get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(per_minute))
        .allow_burst(burst)
}

/// A wait as the whole seconds a client is told (`Retry-After`), rounded up.
pub(super) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// When a keyed limiter forgets its idle keys. Forgetting walks them all, so it happens only
/// past 10,000 keys and at most every 10 s, however many keys a flood brings.
pub(super) struct Forgetting(std::sync::Mutex<std::time::Instant>);

impl Forgetting {
    const REMEMBERED: usize = 10_000;
    const EVERY: Duration = Duration::from_secs(10);

    pub(super) fn new() -> Self {
        Forgetting(std::sync::Mutex::new(std::time::Instant::now()))
    }

    /// Whether a limiter holding `keys` should forget its idle ones now (and is counted as
    /// having done so).
    pub(super) fn due(&self, keys: usize) -> bool {
        if keys <= Self::REMEMBERED {
            return false;
        }
        match self.0.try_lock() {
            Ok(mut last) if last.elapsed() > Self::EVERY => {
                *last = std::time::Instant::now();
                true
            }
            _ => false,
        }
    }
}

/// The key an address is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by
/// its /64.
pub fn limiter_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client's address: the last one in `header` when the operator names one (the address
/// its proxy appended to `X-Forwarded-For`; the earlier ones are the client's word), else
/// the connection's peer.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, header: &str) -> Option<IpAddr> {
    if header.is_empty() {
        return peer;
    }
    headers
        .get_all(header)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| parse_address(last.trim()))
        .or(peer)
}

/// An address as proxies write it: bare, or with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// Failures allowed before the first lock.
const FREE_FAILURES: i32 = 5;
const FIRST_LOCK_SECONDS: i64 = 60;
const LONGEST_LOCK_SECONDS: i64 = 900;

/// How long an address is locked after its `failures`-th failure, if at all.
pub fn lock_seconds(failures: i32) -> Option<i64> {
    let over = failures - FREE_FAILURES;
    (over >= 0).then(|| {
        FIRST_LOCK_SECONDS
            .saturating_mul(1i64 << over.min(20))
            .min(LONGEST_LOCK_SECONDS)
    })
}

fn digest(email: &str) -> Vec<u8> {
    Sha256::digest(email.trim().to_lowercase().as_bytes()).to_vec()
}

/// Seconds the address stays locked, when it is.
pub async fn locked_for(pool: &PgPool, email: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT ceil(extract(epoch FROM locked_until - now()))::bigint FROM login_throttle
         WHERE email_digest = $1 AND locked_until > now()",
    )
    .bind(digest(email))
    .fetch_optional(pool)
    .await
}

pub async fn record_failure(pool: &PgPool, email: &str) -> sqlx::Result<()> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO login_throttle (email_digest, failures) VALUES ($1, 1)
         ON CONFLICT (email_digest) DO UPDATE SET failures = login_throttle.failures + 1, updated_at = now()
         RETURNING failures",
    )
    .bind(digest(email))
    .fetch_one(pool)
    .await?;
    if let Some(seconds) = lock_seconds(failures) {
        sqlx::query(
            "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2) WHERE email_digest = $1",
        )
        .bind(digest(email))
        .bind(seconds as f64)
        .execute(pool)
        .await?;
    }
    Ok(())
}

pub async fn clear(pool: &PgPool, email: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE email_digest = $1")
        .bind(digest(email))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_tries_then_a_lock_that_doubles_up_to_fifteen_minutes() {
        assert_eq!((1..=4).filter_map(lock_seconds).count(), 0);
        let locks: Vec<i64> = (5..=12).filter_map(lock_seconds).collect();
        assert_eq!(locks, [60, 120, 240, 480, 900, 900, 900, 900]);
        assert_eq!(lock_seconds(i32::MAX), Some(900));
    }

    #[test]
    fn an_address_gets_its_burst_then_waits() {
        let limit = AddressLimit::new(6, 2);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limit.attempt(one), None);
        assert_eq!(limit.attempt(one), None);
        let wait = limit.attempt(one).expect("the third is one too many");
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(
            limit.attempt("192.0.2.2".parse().unwrap()),
            None,
            "another address"
        );
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(limiter_key(a), limiter_key(b));
        assert_ne!(
            limiter_key(a),
            limiter_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            limiter_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_proxy_header_is_read_only_when_named_and_its_last_entry_counts() {
        let peer: Option<IpAddr> = Some("10.0.0.5".parse().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 198.51.100.7".parse().unwrap());
        assert_eq!(client_address(peer, &headers, ""), peer);
        assert_eq!(
            client_address(peer, &headers, "x-forwarded-for"),
            Some("198.51.100.7".parse().unwrap())
        );
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, [2001:db8::7]:4711".parse().unwrap(),
        );
        assert_eq!(
            client_address(peer, &headers, "x-forwarded-for"),
            Some("2001:db8::7".parse().unwrap())
        );
        headers.insert("x-forwarded-for", "198.51.100.7:4711".parse().unwrap());
        assert_eq!(
            client_address(peer, &headers, "x-forwarded-for"),
            Some("198.51.100.7".parse().unwrap())
        );
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_address(peer, &headers, "x-forwarded-for"), peer);
    }

    #[test]
    fn the_address_is_counted_whatever_its_case() {
        assert_eq!(digest(" Agent@Globex.test "), digest("agent@globex.test"));
    }
}
