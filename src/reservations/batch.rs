//! Group commit for the common reservation. When many people reserve at once, most of the
//! database's work per hold is not the rows it writes but the statement around them: the
//! round trip, the snapshot, the commit and its WAL flush. Requests for `quick` therefore
//! go into a queue; a few writer tasks each take whatever has queued and decide it in one
//! statement and one commit (`quick::take_many`), every request still all or nothing on
//! its own. A request alone in the queue is written at once, so nothing waits for company.
//!
//! What does not change: a request is answered only after its reservation, holds and RESERVE
//! entries are committed, and the same statement with the same locks (numbers in E.164 order,
//! `holds_one_live_per_number`) decides it, so a batch cannot double-hold anything a single
//! request could not.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::quick::{self, Request};
use crate::error::{AppError, AppResult};

/// Writers deciding batches at the same time. One would serialize every reservation behind
/// the last commit; many would bring back the per-statement cost the batching saves.
const WRITERS: usize = 4;
/// Requests per statement at most.
const MAX_BATCH: usize = 64;
/// Requests waiting beyond this make `take` wait for room.
const QUEUE: usize = 4_096;

struct Waiting {
    request: Request,
    answer: oneshot::Sender<AppResult<bool>>,
}

type Queue = Arc<Mutex<mpsc::Receiver<Waiting>>>;

#[derive(Clone)]
pub struct HoldWriter {
    pool: PgPool,
    /// The writers start with the first request, on the runtime that serves requests.
    queue: Arc<OnceLock<mpsc::Sender<Waiting>>>,
}

impl HoldWriter {
    pub fn new(pool: PgPool) -> Self {
        HoldWriter {
            pool,
            queue: Arc::default(),
        }
    }

    /// As `quick::take_one`: true when the reservation exists, false when
    /// the full path must decide.
    pub async fn take(&self, request: Request) -> AppResult<bool> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            let receiver: Queue = Arc::new(Mutex::new(receiver));
            for _ in 0..WRITERS {
                tokio::spawn(write_forever(self.pool.clone(), receiver.clone()));
            }
            sender
        });
        let (answer, answered) = oneshot::channel();
        match queue.send(Waiting { request, answer }).await {
            Ok(()) => answered.await.unwrap_or_else(|_| {
                // Only when the runtime is shutting down; whether it committed is unknown,
                // as with a dropped connection.
                Err(AppError::Internal(anyhow::anyhow!(
                    "the hold writer stopped before answering"
                )))
            }),
            Err(mpsc::error::SendError(waiting)) => {
                quick::take_one(&self.pool, &waiting.request).await
            }
        }
    }
}

async fn write_forever(pool: PgPool, queue: Queue) {
    loop {
        let mut batch = Vec::new();
        {
            // One writer collects at a time; the others are writing meanwhile.
            let mut receiver = queue.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(waiting) => batch.push(waiting),
                    Err(_) => break,
                }
            }
        }
        while !batch.is_empty() {
            let (now, later) = apart(batch);
            write(&pool, now).await;
            batch = later;
        }
    }
}

/// Splits off the requests that share a number with an earlier one of the batch: a row is
/// changed once per statement, so they go into the next statement, which then finds the
/// number taken (or free again) as it would one request later.
fn apart(batch: Vec<Waiting>) -> (Vec<Waiting>, Vec<Waiting>) {
    let mut seen = HashSet::new();
    let (mut now, mut later) = (Vec::with_capacity(batch.len()), Vec::new());
    for waiting in batch {
        if waiting
            .request
            .wanted
            .iter()
            .any(|e164| seen.contains(e164.as_str()))
        {
            later.push(waiting);
        } else {
            seen.extend(waiting.request.wanted.iter().cloned());
            now.push(waiting);
        }
    }
    (now, later)
}

async fn write(pool: &PgPool, batch: Vec<Waiting>) {
    let (requests, answers): (Vec<Request>, Vec<_>) =
        batch.into_iter().map(|w| (w.request, w.answer)).unzip();
    match quick::take_many(pool, &requests).await {
        Ok(done) => {
            for (answer, done) in answers.into_iter().zip(done) {
                let _ = answer.send(Ok(done));
            }
        }
        Err(err) if requests.len() > 1 => {
            // One request's failure must not become the others': each alone, as it would
            // have run without company.
            tracing::warn!(error = %err, requests = requests.len(), "a batch of holds failed; deciding each alone");
            for (request, answer) in requests.iter().zip(answers) {
                let _ = answer.send(quick::take_one(pool, request).await);
            }
        }
        Err(err) => {
            if let Some(answer) = answers.into_iter().next() {
                let _ = answer.send(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::TenantProfile;
    use chrono::Utc;
    use uuid::Uuid;

    fn waiting(numbers: &[&str]) -> Waiting {
        let (answer, _) = oneshot::channel();
        Waiting {
            request: Request {
                tenant: TenantProfile {
                    id: Uuid::nil(),
                    name: "t".into(),
                    parent_id: None,
                    allowed_countries: vec!["US".into()],
                },
                user_id: Uuid::nil(),
                wanted: numbers.iter().map(|n| n.to_string()).collect(),
                reservation_id: Uuid::new_v4(),
                expires_at: Utc::now(),
                justification: None,
                request_id: None,
                details: serde_json::Value::Null,
            },
            answer,
        }
    }

    fn wanted(batch: &[Waiting]) -> Vec<Vec<String>> {
        batch.iter().map(|w| w.request.wanted.clone()).collect()
    }

    #[test]
    fn requests_sharing_a_number_go_to_separate_statements() {
        let batch = vec![
            waiting(&["+15125550001", "+15125550002"]),
            waiting(&["+15125550003"]),
            waiting(&["+15125550002"]),
            waiting(&["+15125550004", "+15125550001"]),
            waiting(&["+15125550005"]),
        ];
        let (now, later) = apart(batch);
        assert_eq!(
            wanted(&now),
            [
                vec!["+15125550001", "+15125550002"],
                vec!["+15125550003"],
                vec!["+15125550005"]
            ]
        );
        assert_eq!(
            wanted(&later),
            [vec!["+15125550002"], vec!["+15125550004", "+15125550001"]]
        );
        let (now, later) = apart(later);
        assert_eq!(
            now.len(),
            2,
            "the deferred two share nothing with each other"
        );
        assert!(later.is_empty());
    }
}
