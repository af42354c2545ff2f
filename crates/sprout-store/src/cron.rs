//! Periodic jobs' runs (`sprout_model::cron::CronRun`, migration 0011): the last scheduled instant
//! claimed per environment and job, claimed with a compare-and-set on the instant so one instant
//! is sent at most once, whatever restarts or second writers do.

use async_trait::async_trait;

use crate::Result;
pub use sprout_model::cron::{CronRun, CronRunState};

#[async_trait]
pub trait CronStore {
    /// The environment's runs, by job name.
    async fn list_cron_runs(&self, app: &str, env: &str) -> Result<Vec<CronRun>>;
    /// Writes `run` when its job has none yet, or (unless `only_if_new`) when the stored instant
    /// is older than `run.instant`. True when written: the instant is this caller's to send.
    async fn claim_cron_run(&self, run: &CronRun, only_if_new: bool) -> Result<bool>;
    /// Records how a try of the claimed instant went (state, attempts, outcome, instance,
    /// updated_at), if the stored instant is still `run.instant`.
    async fn update_cron_run(&self, run: &CronRun) -> Result<()>;
}
