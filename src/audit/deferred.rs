//! SEARCH entries, written behind the request. A search changes no number, and with 64
//! people searching at once, four round trips and a WAL record per search were most of its
//! cost. Entries go into a bounded channel; one writer task per process drains whatever has
//! queued and writes it as a single multi-row INSERT, so entries batch themselves under load
//! and are written at once when the server is quiet.
//!
//! What this trades: entries still queued when the process dies (at most the batch being
//! written, typically milliseconds of searches) are lost, as are the last commits before a
//! database crash (`synchronous_commit = off`). Lifecycle entries never come this way: they
//! commit in the transaction of the change they describe.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use super::Entry;

/// Entries waiting beyond this make `record` wait: the database sets the pace, and nothing
/// is dropped because a burst outran the writer.
const QUEUE: usize = 8_192;
/// Entries per INSERT.
const BATCH: usize = 1_000;

#[derive(Clone)]
pub struct DeferredAudit {
    pool: PgPool,
    /// The writer is started by the first entry, on the runtime that serves requests.
    queue: Arc<OnceLock<mpsc::Sender<Entry>>>,
}

impl DeferredAudit {
    pub fn new(pool: PgPool) -> Self {
        DeferredAudit {
            pool,
            queue: Arc::default(),
        }
    }

    pub async fn record(&self, entry: Entry) {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_forever(self.pool.clone(), receiver));
            sender
        });
        if let Err(mpsc::error::SendError(entry)) = queue.send(entry).await {
            // The writer is gone (its runtime is shutting down): write this one directly.
            if let Err(err) = write(&self.pool, &[entry]).await {
                tracing::error!(error = %err, "could not write a deferred audit entry");
            }
        }
    }
}

async fn write_forever(pool: PgPool, mut receiver: mpsc::Receiver<Entry>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let mut delay = Duration::from_millis(50);
        // A database that is briefly away (failover, restart) costs a few retries, not
        // entries; one that stays away is logged, and the batch given up.
        for attempt in 1..=5 {
            match write(&pool, &batch).await {
                Ok(()) => break,
                Err(err) if attempt == 5 => {
                    tracing::error!(error = %err, entries = batch.len(), "deferred audit entries lost");
                    crate::metrics::audit_entries_lost(batch.len());
                }
                Err(err) => {
                    tracing::warn!(error = %err, attempt, "deferred audit write failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
            }
        }
        batch.clear();
    }
}

async fn write(pool: &PgPool, entries: &[Entry]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    super::repo::record_many(&mut tx, entries).await?;
    tx.commit().await
}
