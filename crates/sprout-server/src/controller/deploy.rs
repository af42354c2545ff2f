//! The deploy side of an environment's controller: turns the environment's deploy options into
//! a `DeploySpec`, plans through the pure deploy planner, and records batch progress in the
//! environment's `deploy_state` (so events name batches across restarts) with an event per
//! batch. Rollback and abort are deploys too: they change the environment's version and this
//! module carries them out batch by batch.
//!
//! Not here: what to launch or retire (`sprout_plan::deploy`), acting on it (`env.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::options::{BatchSizeType, DeploymentPolicy};
use sprout_plan::{DeploySpec, DeployStatus, EnvironmentSpec, InstanceObservation, Plan, plan_deploy};
use sprout_store::{EnvironmentRecord, StoreError};

use crate::context::Ctx;
use crate::events::Event;

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
}

impl DeployState {
    pub fn read(env: &EnvironmentRecord) -> Option<DeployState> {
        env.deploy_state.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
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

/// Plan the environment: the deploy planner while instances of other versions run.
pub fn plan(env: &EnvironmentRecord, spec: &EnvironmentSpec, observed: &[InstanceObservation]) -> (Plan, DeployStatus) {
    plan_deploy(spec, &deploy_spec(env), observed)
}

/// Record batch progress and emit batch events. Writes the environment only when progress
/// changed (a batch started or became healthy), so a steady environment costs no write.
pub async fn record_progress(
    ctx: &Ctx,
    env: &mut EnvironmentRecord,
    plan: &Plan,
    status: &DeployStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if status.old == 0 {
        return Ok(());
    }
    let spec = deploy_spec(env);
    let mut state = match DeployState::read(env) {
        Some(s) if s.to_version == env.version_label => s,
        previous => DeployState {
            from_version: previous.map(|p| p.to_version).or_else(|| env.last_good_version.clone()),
            to_version: env.version_label.clone(),
            policy: spec.policy,
            batch: 0,
            batches: spec.batches(env.desired_instances),
            batch_healthy: false,
            started_at: now,
        },
    };
    let before = state.clone();
    let (app, name) = (env.app.clone(), env.name.clone());
    // Announced only once the progress is recorded: a write refused as stale (another writer
    // came first) leaves nothing said, and the next pass decides again on a fresh read.
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
        env.updated_at = now;
        ctx.store.update_environment(env).await?;
    }
    for event in events {
        ctx.emit(&app, Some(&name), event).await;
    }
    Ok(())
}
