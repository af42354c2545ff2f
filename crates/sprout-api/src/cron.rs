//! Periodic jobs over the API: `GET /apps/{app}/environments/{env}/cron`, the deployed version's
//! `cron.yaml` jobs with their next runs and the last run's result (`sprout cron list ENV`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::cron::CronRun;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronListView {
    /// The deployed version the jobs come from.
    pub version: String,
    /// The file's time zone; None when the version has no `cron.yaml`.
    pub timezone: Option<String>,
    pub jobs: Vec<CronJobView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronJobView {
    pub name: String,
    pub url: String,
    pub schedule: String,
    /// The next few scheduled instants.
    pub next: Vec<DateTime<Utc>>,
    /// The last instant claimed and how it went; None before the job was first seen.
    pub last: Option<CronRun>,
    /// When a failed run is tried again (before its next run).
    pub retry_at: Option<DateTime<Utc>>,
}
