//! The lease through which a provisioning saga owns its attempt row.
//!
//! A saga that waits on a platform (a slow answer, the client-side throttle, a lock) keeps
//! renewing its lease from a task of its own; a saga whose process is paused or dead stops
//! renewing, and once the lease has expired, recovery takes the attempt by writing its own
//! owner token. Every commit a saga makes is fenced on its token, so a paused saga that
//! resumes after recovery cannot record an outcome recovery has already decided.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

/// The steps of an attempt that is still open; recovery and the fences only touch these.
pub const OPEN_STEPS: &str = "('started', 'target_ready', 'assigned')";

pub struct Lease {
    pub attempt_id: Uuid,
    pub owner: Uuid,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Starts renewing the lease `owner` holds on the attempt, every third of its length.
    pub fn keep(pool: PgPool, attempt_id: Uuid, owner: Uuid, seconds: i64) -> Lease {
        let period = Duration::from_millis((seconds.max(1) as u64) * 1000 / 3);
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let renewed = sqlx::query(&format!(
                    "UPDATE provisioning_attempts
                     SET lease_expires_at = now() + make_interval(secs => $3)
                     WHERE id = $1 AND lease_owner = $2 AND step IN {OPEN_STEPS}"
                ))
                .bind(attempt_id)
                .bind(owner)
                .bind(seconds as f64)
                .execute(&pool)
                .await;
                match renewed {
                    // Taken over or closed: the fence at commit tells the saga.
                    Ok(done) if done.rows_affected() == 0 => return,
                    Ok(_) => {}
                    // The lease may lapse meanwhile; the fence at commit decides, not this.
                    Err(err) => {
                        tracing::warn!(%attempt_id, error = %err, "could not renew a saga's lease")
                    }
                }
            }
        });
        Lease {
            attempt_id,
            owner,
            renewer,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}
