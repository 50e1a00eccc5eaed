//! Where reads of the stock and of list pages go. With `database.read_url`, a streaming
//! replica answers searches and the number and inventory lists, which are most of what
//! people do, and the primary keeps the writes. A replica is a little behind the primary, so
//! a caller who changed something within `database.read_your_writes_seconds` reads from the
//! primary until then and sees their own change. Whatever decides something (a hold, a
//! provisioning, the full path's checks) reads the primary, so a stale replica can show a
//! number that is already taken, never hold it twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::domain::UserId;

/// The pools one caller's reads use.
#[derive(Clone, Copy)]
pub struct ReadPools<'a> {
    /// Searches whose plan is made each time (see `search::repo::pool_for`).
    pub main: &'a PgPool,
    /// Searches that keep their plan, with the scope `stock` (see `state::offer_pool`).
    pub offer: &'a PgPool,
    /// The number and inventory lists (see `state::search_pool`).
    pub lists: &'a PgPool,
    /// Their CSV downloads, which run long: on the primary, the main pool, so that a
    /// download does not hold one of the lists' few connections.
    pub downloads: &'a PgPool,
}

/// The replica's pools, set up as the primary's search pools are.
pub struct Replica {
    pub main: PgPool,
    pub offer: PgPool,
}

/// Who changed something lately, on this instance.
pub struct RecentWriters {
    window: Duration,
    last: Mutex<HashMap<UserId, Instant>>,
}

/// Writers remembered before the ones whose window has passed are forgotten.
const REMEMBERED: usize = 10_000;

impl RecentWriters {
    pub fn new(window: Duration) -> Self {
        RecentWriters {
            window,
            last: Mutex::default(),
        }
    }

    /// `user` has just changed something.
    pub fn wrote(&self, user: UserId) {
        self.wrote_at(user, Instant::now());
    }

    fn wrote_at(&self, user: UserId, now: Instant) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() >= REMEMBERED {
            last.retain(|_, at| now.duration_since(*at) < self.window);
        }
        last.insert(user, now);
    }

    /// Whether `user` changed something within the window.
    pub fn wrote_lately(&self, user: UserId) -> bool {
        self.wrote_lately_at(user, Instant::now())
    }

    fn wrote_lately_at(&self, user: UserId, now: Instant) -> bool {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(&user)
            .is_some_and(|at| now.duration_since(*at) < self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_writer_reads_the_primary_for_the_window_only() {
        let writers = RecentWriters::new(Duration::from_secs(5));
        let (ana, ben) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
        let start = Instant::now();
        writers.wrote_at(ana, start);
        assert!(writers.wrote_lately_at(ana, start + Duration::from_secs(4)));
        assert!(!writers.wrote_lately_at(ana, start + Duration::from_secs(5)));
        assert!(!writers.wrote_lately_at(ben, start));
        writers.wrote_at(ana, start + Duration::from_secs(5));
        assert!(writers.wrote_lately_at(ana, start + Duration::from_secs(9)));
    }

    #[test]
    fn writers_whose_window_passed_are_forgotten_when_many_are_remembered() {
        let writers = RecentWriters::new(Duration::from_secs(1));
        let start = Instant::now();
        for _ in 0..REMEMBERED {
            writers.wrote_at(UserId(Uuid::new_v4()), start);
        }
        let late = UserId(Uuid::new_v4());
        writers.wrote_at(late, start + Duration::from_secs(2));
        assert_eq!(writers.last.lock().unwrap().len(), 1);
        assert!(writers.wrote_lately_at(late, start + Duration::from_secs(2)));
    }
}
