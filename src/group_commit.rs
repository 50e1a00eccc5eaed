//! Group commit for small writes that many requests make at once. Most of the database's
//! work for a one-row write is not the row but the statement around it: the round trip,
//! the snapshot, the commit. Items therefore go into a queue; a few writer tasks each take
//! whatever has queued (up to a batch) and write it with one statement, answering every
//! item on its own. An item alone in the queue is written at once: nothing waits for
//! company, so a quiet server answers as fast as it would without the queue.
//!
//! Users: the reservation itself (`reservations::batch`), the platform's references on the
//! holds, and the sandbox's own reservations.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, mpsc, oneshot};

/// Items waiting beyond this make `submit` wait for room.
const QUEUE: usize = 4_096;

type Write<T, R> =
    Arc<dyn Fn(Vec<T>) -> Pin<Box<dyn Future<Output = Vec<R>> + Send>> + Send + Sync>;

struct Waiting<T, R> {
    item: T,
    answer: oneshot::Sender<R>,
}

type Queue<T, R> = Arc<Mutex<mpsc::Receiver<Waiting<T, R>>>>;

/// Writes items of type `T` in batches; `write` answers a batch with one `R` per item, in
/// the batch's order.
pub struct GroupCommit<T, R> {
    /// The `writer` label of its `group_commit_batch_size` metric.
    name: &'static str,
    writers: usize,
    max_batch: usize,
    /// Off (`tuning.group_commit`): each submission is written by its caller, alone.
    batching: bool,
    write: Write<T, R>,
    /// The writers start with the first item, on the runtime that serves requests.
    queue: Arc<OnceLock<mpsc::Sender<Waiting<T, R>>>>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        GroupCommit {
            name: self.name,
            writers: self.writers,
            max_batch: self.max_batch,
            batching: self.batching,
            write: self.write.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// `writers` batches may be written at the same time: one would serialize every item
    /// behind the last commit, many would bring back the per-statement cost. `write` gets
    /// its own clone of `context` (a pool, say) with each batch.
    pub fn new<C, F, Fut>(
        name: &'static str,
        writers: usize,
        max_batch: usize,
        context: C,
        write: F,
    ) -> Self
    where
        C: Clone + Send + Sync + 'static,
        F: Fn(C, Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        GroupCommit {
            name,
            writers: writers.max(1),
            max_batch: max_batch.max(1),
            batching: true,
            write: Arc::new(move |batch| Box::pin(write(context.clone(), batch))),
            queue: Arc::default(),
        }
    }

    /// Whether submissions wait for company; without, each is written by its caller at once.
    pub fn batching(mut self, on: bool) -> Self {
        self.batching = on;
        self
    }

    /// The item's answer once its batch is written; `None` only when the writer stopped
    /// before answering (the runtime is shutting down), so whether it was written is
    /// unknown, as with a dropped connection.
    pub async fn submit(&self, item: T) -> Option<R> {
        self.submit_all(vec![item]).await.pop().flatten()
    }

    /// Several items of one request, queued one after another so that they usually share
    /// a statement; each answered as by `submit`, in order.
    pub async fn submit_all(&self, items: Vec<T>) -> Vec<Option<R>> {
        if !self.batching {
            return self
                .write_alone(items)
                .await
                .into_iter()
                .map(Some)
                .collect();
        }
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            let receiver: Queue<T, R> = Arc::new(Mutex::new(receiver));
            for _ in 0..self.writers {
                // One writer serves the requests of every tenant.
                tokio::spawn(crate::db_scope::bypassing(
                    crate::db_scope::Bypass::BatchWriter,
                    write_forever(
                        self.name,
                        self.write.clone(),
                        receiver.clone(),
                        self.max_batch,
                    ),
                ));
            }
            sender
        });
        let mut answered = Vec::with_capacity(items.len());
        let mut alone = Vec::new();
        for item in items {
            let (answer, waiting) = oneshot::channel();
            match queue.send(Waiting { item, answer }).await {
                Ok(()) => answered.push(Some(waiting)),
                // The writers are gone: written alone, as without the queue.
                Err(mpsc::error::SendError(waiting)) => {
                    alone.push(waiting.item);
                    answered.push(None);
                }
            }
        }
        let mut written_alone = if alone.is_empty() {
            Vec::new()
        } else {
            self.write_alone(alone).await
        }
        .into_iter();
        let mut answers = Vec::with_capacity(answered.len());
        for waiting in answered {
            answers.push(match waiting {
                Some(waiting) => waiting.await.ok(),
                None => written_alone.next(),
            });
        }
        answers
    }
}

impl<T, R> GroupCommit<T, R> {
    /// Written at once, as a writer would write them (for any tenant).
    async fn write_alone(&self, items: Vec<T>) -> Vec<R> {
        crate::db_scope::bypassing(crate::db_scope::Bypass::BatchWriter, (self.write)(items)).await
    }
}

async fn write_forever<T, R>(
    name: &'static str,
    write: Write<T, R>,
    queue: Queue<T, R>,
    max_batch: usize,
) {
    loop {
        let mut batch = Vec::new();
        {
            // One writer collects at a time; the others are writing meanwhile.
            let mut receiver = queue.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(waiting) => batch.push(waiting),
                    Err(_) => break,
                }
            }
        }
        crate::metrics::group_commit_batch(name, batch.len());
        let (items, answers): (Vec<T>, Vec<_>) =
            batch.into_iter().map(|w| (w.item, w.answer)).unzip();
        let results = write(items).await;
        for (answer, result) in answers.into_iter().zip(results) {
            let _ = answer.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_item_gets_its_own_answer_and_waiting_items_share_a_write() {
        let writes = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        // The first write waits at the gate, so the rest queue up behind it.
        let doubler = GroupCommit::new(
            "test",
            1,
            64,
            (writes.clone(), gate.clone()),
            |(counted, opened), batch: Vec<u32>| async move {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = opened.acquire().await;
                }
                batch.into_iter().map(|n| n * 2).collect()
            },
        );
        let first = tokio::spawn({
            let d = doubler.clone();
            async move { d.submit(0).await }
        });
        while writes.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (1..=10u32)
            .map(|n| {
                let d = doubler.clone();
                tokio::spawn(async move { d.submit(n).await })
            })
            .collect();
        // Let all ten reach the queue before the first write ends.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        assert_eq!(first.await.unwrap(), Some(0));
        for (n, task) in (1..=10u32).zip(rest) {
            assert_eq!(task.await.unwrap(), Some(n * 2));
        }
        assert_eq!(
            writes.load(Ordering::SeqCst),
            2,
            "the ten waiting items were written together"
        );
    }

    #[tokio::test]
    async fn items_submitted_together_share_a_write_and_keep_their_order() {
        let writes = Arc::new(AtomicUsize::new(0));
        let doubler = GroupCommit::new(
            "test",
            1,
            64,
            writes.clone(),
            |counted, batch: Vec<u32>| async move {
                counted.fetch_add(1, Ordering::SeqCst);
                batch.into_iter().map(|n| n * 2).collect()
            },
        );
        assert_eq!(
            doubler.submit_all(vec![1, 2, 3]).await,
            [Some(2), Some(4), Some(6)]
        );
        assert_eq!(writes.load(Ordering::SeqCst), 1);
        assert!(doubler.submit_all(Vec::new()).await.is_empty());
    }
}
