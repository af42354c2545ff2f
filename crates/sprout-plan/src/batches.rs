//! A deploy's batches as the environment records them: the environment's deploy options as the
//! deploy planner takes them (`deploy_spec`), and the batch progress kept in the environment's
//! `deploy_state` (so events name batches across restarts) with an event per batch.
//!
//! Pure: it changes the record and names the events; the controller writes the record and says
//! the events once the write has landed. Not here: what to launch or retire (`deploy`), the
//! deadline and rollback (`progress`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::environment::EnvironmentRecord;
use sprout_model::event::Event;
use sprout_model::options::{BatchSizeType, DeploymentPolicy};

use crate::deploy::{DeploySpec, DeployStatus};
use crate::reconcile::Plan;
use crate::release::ReleaseRun;

/// What `deploy_state` holds while a deploy runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployState {
    pub from_version: Option<String>,
    pub to_version: String,
    pub policy: DeploymentPolicy,
    /// The batch in flight (1-based); 0 before the first batch starts.
    pub batch: u32,
    pub batches: u32,
    pub batch_healthy: bool,
    pub started_at: DateTime<Utc>,
    /// The deploy's release task, run before its first batch (`release`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRun>,
}

impl DeployState {
    pub fn read(env: &EnvironmentRecord) -> Option<DeployState> {
        env.deploy_state.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A deploy of `env`'s version starting at `now`, from `from_version`, before any batch.
    pub fn begin(env: &EnvironmentRecord, from_version: Option<String>, now: DateTime<Utc>) -> DeployState {
        let spec = deploy_spec(env);
        DeployState {
            from_version,
            to_version: env.version_label.clone(),
            policy: spec.policy,
            batch: 0,
            batches: spec.batches(env.desired_instances),
            batch_healthy: false,
            started_at: now,
            release: None,
        }
    }
}

/// The environment's deploy options as the planner takes them.
pub fn deploy_spec(env: &EnvironmentRecord) -> DeploySpec {
    let o = &env.options.deploy;
    let policy = o.policy.unwrap_or_else(|| DeploymentPolicy::default_for(env.desired_instances));
    let batch =
        DeploySpec::batch_from(o.batch_size, o.batch_size_type == BatchSizeType::Percentage, env.desired_instances);
    DeploySpec { policy, batch, ignore_health_check: o.ignore_health_check }
}

/// Moves the recorded batch progress on (a batch started or became healthy) and names the
/// events. Changes `env.deploy_state` only when progress changed, so a steady environment costs
/// no write.
pub fn advance_batches(
    env: &mut EnvironmentRecord,
    plan: &Plan,
    status: &DeployStatus,
    now: DateTime<Utc>,
) -> Vec<Event> {
    if status.old == 0 {
        return Vec::new();
    }
    let mut state = match DeployState::read(env) {
        Some(s) if s.to_version == env.version_label => s,
        previous => {
            DeployState::begin(env, previous.map(|p| p.to_version).or_else(|| env.last_good_version.clone()), now)
        }
    };
    let before = state.clone();
    let mut events = Vec::new();
    if state.batch > 0 && !state.batch_healthy && status.new_pending == 0 && status.new_ready > 0 {
        state.batch_healthy = true;
        events.push(Event::DeployBatchHealthy { batch: state.batch, of: state.batches.max(state.batch) });
    }
    if status.starts_batch {
        state.batch += 1;
        state.batch_healthy = false;
        let retiring = plan.retirements().map(|(id, _)| id.to_string()).collect();
        let of = state.batches.max(state.batch);
        events.push(Event::DeployBatchStarted { batch: state.batch, of, retiring, launching: plan.launches() });
    }
    if state != before || env.deploy_state.is_none() {
        env.deploy_state = Some(serde_json::to_value(&state).expect("deploy state serializes"));
    }
    events
}
