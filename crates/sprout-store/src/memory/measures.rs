//! The in-memory store's environment measures, as SQLite keeps them (migration 0014).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{MemoryStore, key};
use crate::Result;

#[async_trait::async_trait]
impl crate::MeasureStore for MemoryStore {
    async fn get_wake_time(&self, app: &str, env: &str) -> Result<Option<Duration>> {
        self.with(|d| Ok(d.wake_times.get(&key(app, env)).copied()))
    }

    async fn set_wake_time(&self, app: &str, env: &str, wake: Duration, _at: DateTime<Utc>) -> Result<()> {
        // Milliseconds, as SQLite keeps it.
        let wake = Duration::from_millis(u64::try_from(wake.as_millis()).unwrap_or(u64::MAX));
        self.with(|d| {
            d.wake_times.insert(key(app, env), wake);
            Ok(())
        })
    }
}
