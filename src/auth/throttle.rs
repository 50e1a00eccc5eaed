//! Sign-in throttling per email address (the `login_throttle` table): guessing a password
//! gets five tries, then a lock that doubles with each further failure, on every instance.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

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
    fn the_address_is_counted_whatever_its_case() {
        assert_eq!(digest(" Agent@Globex.test "), digest("agent@globex.test"));
    }
}
