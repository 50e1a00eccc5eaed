//! The inventory dashboards this instance drew in the last minute (`inventory::dashboard`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How long a drawn dashboard is shown before it is counted again.
const FRESH_FOR: Duration = Duration::from_secs(60);

struct Kept {
    at: Instant,
    drawn_at: DateTime<Utc>,
    html: String,
}

/// Dashboards drawn in the last minute on this instance, by scope, and the one count that
/// may run at a time (several admins opening the inventory at once share one count).
#[derive(Default)]
pub struct Drawn {
    done: Mutex<HashMap<String, Kept>>,
    counting: tokio::sync::Mutex<()>,
}

impl Drawn {
    /// Held while counting: several admins opening the inventory at once share one count.
    pub async fn one_count_at_a_time(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.counting.lock().await
    }

    /// The scope's dashboard if drawn within the minute.
    pub fn fresh(&self, key: &str) -> Option<String> {
        let done = self.done.lock().ok()?;
        let kept = done.get(key)?;
        (kept.at.elapsed() < FRESH_FOR).then(|| kept.html.clone())
    }

    /// The scope's dashboard if drawn after `since`: asked to count again, a request that
    /// waited for another count takes that one, so many asking at once share one count.
    pub fn drawn_since(&self, key: &str, since: Instant) -> Option<String> {
        let done = self.done.lock().ok()?;
        let kept = done.get(key)?;
        (kept.at > since).then(|| kept.html.clone())
    }

    /// Forgets the scope's dashboard if it was drawn before `changed` (a change made here
    /// that it counts), so that the next look counts again.
    pub fn forget_if_before(&self, key: &str, changed: DateTime<Utc>) {
        if let Ok(mut done) = self.done.lock()
            && done.get(key).is_some_and(|kept| kept.drawn_at < changed)
        {
            done.remove(key);
        }
    }

    pub fn keep(&self, key: String, html: String) {
        if let Ok(mut done) = self.done.lock() {
            done.retain(|_, kept| kept.at.elapsed() < FRESH_FOR);
            let kept = Kept {
                at: Instant::now(),
                drawn_at: Utc::now(),
                html,
            };
            done.insert(key, kept);
        }
    }
}

/// The key a caller's dashboard is kept under.
pub fn key(scope: crate::domain::policy::InventoryView) -> String {
    format!("{scope:?}")
}
