//! Short-lived in-memory caches that stay coherent across instances. Every request used to
//! look up its caller (session or token → user → organization) and its tenant's platform
//! connection before doing its own work; with both cached, a search is one query.
//!
//! Coherence comes from PostgreSQL: triggers (migration 0008) `NOTIFY inward_invalidate`
//! with a topic on any change that could make an entry wrong, and each instance LISTENs and
//! bumps that topic's generation, which retires every entry read before it. Nothing is cached
//! while the listening connection is down, and entries read before it came back are retired,
//! so a missed notification cannot keep a stale entry alive. The TTL bounds staleness in the
//! one remaining window: a change committed while a request was between its read and its
//! insert is caught by the generation taken before the read.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;

const CHANNEL: &str = "inward_invalidate";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Sessions, API tokens, users and organizations.
    Callers,
    /// Tenants' platform connections.
    Connections,
}

impl Topic {
    const ALL: [Topic; 2] = [Topic::Callers, Topic::Connections];

    fn index(self) -> usize {
        self as usize
    }

    /// The trigger's payload; an unknown one retires everything.
    fn parse(payload: &str) -> Option<Topic> {
        match payload {
            "callers" => Some(Topic::Callers),
            "connections" => Some(Topic::Connections),
            _ => None,
        }
    }
}

struct Listening {
    pool: PgPool,
    started: OnceLock<()>,
    up: AtomicBool,
    generations: [AtomicU64; Topic::ALL.len()],
}

/// This instance's view of the notifications; cheap to clone.
#[derive(Clone)]
pub struct Invalidation(Arc<Listening>);

impl Invalidation {
    pub fn new(pool: PgPool) -> Self {
        Invalidation(Arc::new(Listening {
            pool,
            started: OnceLock::new(),
            up: AtomicBool::new(false),
            generations: Default::default(),
        }))
    }

    /// Retires this instance's entries of `topic` at once, after a change made here (the
    /// notification reaches the other instances, and this one again, a moment later).
    pub fn retire_here(&self, topic: Topic) {
        self.0.retire(Some(topic));
    }

    /// The topic's generation, or None while not listening (then nothing may be cached).
    /// The first call starts the listener on the current runtime.
    fn generation(&self, topic: Topic) -> Option<u64> {
        self.0.started.get_or_init(|| {
            tokio::spawn(listen(self.0.clone()));
        });
        self.0
            .up
            .load(Ordering::Acquire)
            .then(|| self.0.generations[topic.index()].load(Ordering::Acquire))
    }
}

impl Listening {
    fn retire(&self, topic: Option<Topic>) {
        for t in Topic::ALL {
            if topic.is_none_or(|only| only == t) {
                self.generations[t.index()].fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

async fn listen(state: Arc<Listening>) {
    loop {
        let connected: sqlx::Result<PgListener> = async {
            let mut listener = PgListener::connect_with(&state.pool).await?;
            listener.listen(CHANNEL).await?;
            Ok(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cache invalidation: cannot listen; caching is off");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Entries read while nobody listened may have missed a notification.
        state.retire(None);
        state.up.store(true, Ordering::Release);
        // `Ok(None)` or an error: the connection is gone (sqlx would reconnect silently on
        // the next call, hiding that notifications were missed meanwhile).
        while let Ok(Some(notification)) = listener.try_recv().await {
            state.retire(Topic::parse(notification.payload()));
        }
        state.up.store(false, Ordering::Release);
        state.retire(None);
        tracing::warn!("cache invalidation: listening connection lost; reconnecting");
    }
}

/// A map whose entries live until their topic changes or `ttl` passes, whichever is first.
/// Holds at most `capacity` entries; a full cache is emptied rather than grown.
pub struct Cache<K, V> {
    topic: Topic,
    ttl: Duration,
    capacity: usize,
    invalidation: Invalidation,
    entries: Mutex<HashMap<K, (u64, Instant, V)>>,
}

/// Taken before reading what will be cached (see the module comment).
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<u64>);

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub fn new(invalidation: Invalidation, topic: Topic, ttl: Duration, capacity: usize) -> Self {
        Cache {
            topic,
            ttl,
            capacity,
            invalidation,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let generation = self.invalidation.generation(self.topic)?;
        let entries = self.entries.lock().ok()?;
        let (at_generation, at, value) = entries.get(key)?;
        (*at_generation == generation && at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.invalidation.generation(self.topic))
    }

    pub fn insert(&self, ticket: Ticket, key: K, value: V) {
        let Ticket(Some(generation)) = ticket else {
            return;
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, (generation, Instant::now(), value));
        }
    }

    pub fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_topic_and_anything_else_retires_all() {
        assert_eq!(Topic::parse("callers"), Some(Topic::Callers));
        assert_eq!(Topic::parse("connections"), Some(Topic::Connections));
        assert_eq!(Topic::parse("everything"), None);
    }
}
