//! The inventory dashboards this instance drew in the last minute (`inventory::dashboard`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a drawn dashboard is shown before it is counted again.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// Dashboards drawn in the last minute on this instance, by scope, and the one count that
/// may run at a time (several admins opening the inventory at once share one count).
#[derive(Default)]
pub struct Drawn {
    done: Mutex<HashMap<String, (Instant, String)>>,
    counting: tokio::sync::Mutex<()>,
}

impl Drawn {
    /// Held while counting: several admins opening the inventory at once share one count.
    pub async fn one_count_at_a_time(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.counting.lock().await
    }

    pub fn fresh(&self, key: &str) -> Option<String> {
        let done = self.done.lock().ok()?;
        let (at, html) = done.get(key)?;
        (at.elapsed() < FRESH_FOR).then(|| html.clone())
    }

    /// Forgets every drawn dashboard, after a change made here that they count.
    pub fn forget(&self) {
        if let Ok(mut done) = self.done.lock() {
            done.clear();
        }
    }

    pub fn keep(&self, key: String, html: String) {
        if let Ok(mut done) = self.done.lock() {
            done.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
            done.insert(key, (Instant::now(), html));
        }
    }
}
