//! The lease through which a saga owns its attempt row: a provisioning
//! (`provisioning_attempts`), a release (`release_attempts`) or a re-route (`reroute_attempts`).
//!
//! A saga that waits on a platform (a slow answer, the client-side throttle, a lock) keeps
//! renewing its lease from a task of its own; a saga whose process is paused or dead stops
//! renewing, and once the lease has expired, recovery takes the attempt by writing its own
//! owner token. Every commit a saga makes is fenced on its token, so a paused saga that
//! resumes after recovery cannot record an outcome recovery has already decided.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub enum Saga {
    Provisioning,
    Release,
    Reroute,
}

impl Saga {
    fn table(self) -> &'static str {
        match self {
            Saga::Provisioning => "provisioning_attempts",
            Saga::Release => "release_attempts",
            Saga::Reroute => "reroute_attempts",
        }
    }

    /// The steps of an attempt still open; recovery and the fences only touch these.
    pub fn open_steps(self) -> &'static str {
        match self {
            Saga::Provisioning => "('started', 'target_ready', 'assigned')",
            Saga::Release | Saga::Reroute => "('started')",
        }
    }
}

pub struct Lease {
    pub attempt_id: Uuid,
    pub owner: Uuid,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Starts renewing the lease `owner` holds on the attempt, every third of its length.
    pub fn keep(pool: PgPool, saga: Saga, attempt_id: Uuid, owner: Uuid, seconds: i64) -> Lease {
        let period = Duration::from_millis((seconds.max(1) as u64) * 1000 / 3);
        let renew = format!(
            "UPDATE {} SET lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND step IN {}",
            saga.table(),
            saga.open_steps()
        );
        let renewer = crate::db_scope::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let renewed = sqlx::query(&renew)
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

/// A test-only crash: `inward serve` started with `INWARD_TEST_CRASH_AT=<saga>.<step>`
/// aborts at that step, as a `kill -9` there would, so the tests can check what recovery
/// makes of each step. Unset, it does nothing.
pub fn crash_point(step: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("INWARD_TEST_CRASH_AT").ok());
    if at.as_deref() == Some(step) {
        eprintln!("INWARD_TEST_CRASH_AT={step}: aborting");
        std::process::abort();
    }
}
