//! Measures the control plane takes of an environment and must not forget across a restart
//! (migration 0014): its last measured wake, which sets how long an environment at zero holds
//! requests. Kept apart from the environment's record so that noting a measure never races a
//! user's write of the record (no revision to bump). Not here: how the wake is measured (the
//! pass, `sprout_plan::pass`) or used (`sprout_plan::scaling::wake`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

#[async_trait]
pub trait MeasureStore {
    /// The environment's last measured wake; None when none was noted (or it was deleted).
    async fn get_wake_time(&self, app: &str, env: &str) -> Result<Option<Duration>>;
    /// Notes the environment's latest wake, measured at `at`, replacing the one before.
    async fn set_wake_time(&self, app: &str, env: &str, wake: Duration, at: DateTime<Utc>) -> Result<()>;
}
