//! The inventory dashboards this instance drew in the last minute (`inventory::dashboard`).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

/// How long a drawn dashboard is shown before it is counted again.
const FRESH_FOR: TimeDelta = TimeDelta::seconds(60);

struct Kept {
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
        self.drawn_since(key, Utc::now() - FRESH_FOR)
    }

    /// The scope's dashboard if drawn after `since`: asked to count again, a request that
    /// waited for another count takes that one, so many asking at once share one count.
    pub fn drawn_since(&self, key: &str, since: DateTime<Utc>) -> Option<String> {
        let done = self.done.lock().ok()?;
        let kept = done.get(key)?;
        (kept.drawn_at > since).then(|| kept.html.clone())
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
            let now = Utc::now();
            done.retain(|_, kept| now - kept.drawn_at < FRESH_FOR);
            done.insert(
                key,
                Kept {
                    drawn_at: now,
                    html,
                },
            );
        }
    }
}

/// The key a caller's dashboard is kept under.
pub fn key(scope: crate::domain::policy::InventoryView) -> String {
    format!("{scope:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_dashboard_is_shared_until_a_change_made_after_it() {
        let drawn = Drawn::default();
        let before = Utc::now() - TimeDelta::milliseconds(1);
        drawn.keep("a".into(), "<svg>".into());
        assert_eq!(drawn.fresh("a").as_deref(), Some("<svg>"));
        assert_eq!(drawn.fresh("b"), None, "each scope its own");
        // Asked again before it was drawn: the waiting request takes this count.
        assert_eq!(drawn.drawn_since("a", before).as_deref(), Some("<svg>"));
        // Asked again after: it is counted anew.
        assert_eq!(
            drawn.drawn_since("a", Utc::now() + TimeDelta::seconds(1)),
            None
        );
        // A change made before the drawing is already in it; one after is not.
        drawn.forget_if_before("a", before);
        assert!(drawn.fresh("a").is_some());
        drawn.forget_if_before("a", Utc::now() + TimeDelta::seconds(1));
        assert_eq!(drawn.fresh("a"), None);
    }
}
