//! Periodic jobs as the store keeps them: per environment and job of the deployed version's
//! `cron.yaml`, the last scheduled instant claimed and how its run went. The instant is claimed
//! (written) before the job is sent, so a job never runs twice for one instant, even across a
//! restart. Pure data; parsing `cron.yaml` and deciding what is due is `sprout_plan::cron`, sending
//! is the server's cron controller.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a job's last claimed instant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CronRunState {
    /// The job was first seen at `instant`: instants up to it are not run (nothing fired yet).
    Baseline,
    /// Claimed and being sent. Found so after a restart, its outcome is unknown: not sent again.
    Sending,
    Succeeded,
    /// Failed; tried again with back-off until its next run comes.
    Failed,
}

impl CronRunState {
    pub fn as_str(self) -> &'static str {
        match self {
            CronRunState::Baseline => "baseline",
            CronRunState::Sending => "sending",
            CronRunState::Succeeded => "succeeded",
            CronRunState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "baseline" => CronRunState::Baseline,
            "sending" => CronRunState::Sending,
            "succeeded" => CronRunState::Succeeded,
            "failed" => CronRunState::Failed,
            _ => return None,
        })
    }
}

/// One job's last claimed instant and its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronRun {
    pub app: String,
    pub env: String,
    pub job: String,
    /// The scheduled instant (whole seconds).
    pub instant: DateTime<Utc>,
    pub state: CronRunState,
    /// Tries of this instant so far.
    pub attempts: u32,
    /// The last try's outcome in words ("returned 200", "connect to ...: refused").
    pub outcome: String,
    /// The instance the last try went to; empty when none was in service.
    pub instance: String,
    /// When the last try ended (or the instant was claimed).
    pub updated_at: DateTime<Utc>,
}
