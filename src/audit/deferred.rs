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
use tokio::sync::{mpsc, oneshot};

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
    queue: Arc<OnceLock<mpsc::Sender<Queued>>>,
}

// Nearly every message is an entry; boxing them would cost an allocation per search to
// save space on the rare flush.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Entry(Entry),
    /// Answered once everything queued before it is written (a graceful shutdown).
    Flush(oneshot::Sender<()>),
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
            // Entries of many tenants are written together.
            tokio::spawn(crate::db_scope::bypassing(
                crate::db_scope::Bypass::BatchWriter,
                write_forever(self.pool.clone(), receiver),
            ));
            sender
        });
        if let Err(mpsc::error::SendError(Queued::Entry(entry))) =
            queue.send(Queued::Entry(entry)).await
        {
            // The writer is gone (its runtime is shutting down): write this one directly.
            if let Err(err) = write(&self.pool, &[entry]).await {
                tracing::error!(error = %err, "could not write a deferred audit entry");
            }
        }
    }

    /// Writes the entry now, in the caller's request (`tuning.deferred_search_audit` off).
    pub async fn record_now(&self, entry: &Entry) -> sqlx::Result<()> {
        let mut conn = self.pool.acquire().await?;
        super::repo::record_searches(&mut conn, std::slice::from_ref(entry)).await
    }

    /// Waits until every entry recorded so far is written (or given up).
    pub async fn flush(&self) {
        let Some(queue) = self.queue.get() else {
            return; // nothing was ever recorded
        };
        let (done, written) = oneshot::channel();
        if queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_forever(pool: PgPool, mut receiver: mpsc::Receiver<Queued>) {
    let mut queued = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while receiver.recv_many(&mut queued, BATCH).await > 0 {
        for item in queued.drain(..) {
            match item {
                Queued::Entry(entry) => batch.push(entry),
                Queued::Flush(done) => flushes.push(done),
            }
        }
        let mut delay = Duration::from_millis(50);
        // A database that is briefly away (failover, restart) costs a few retries, not
        // entries; one that stays away is logged, and the batch given up.
        for attempt in 1..=5 {
            if batch.is_empty() {
                break;
            }
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
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write(pool: &PgPool, entries: &[Entry]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    super::repo::record_searches(&mut tx, entries).await?;
    tx.commit().await
}
