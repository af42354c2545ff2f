//! The deploy planner: how instances of the environment's version replace instances of other
//! versions, batch by batch, under an Elastic Beanstalk deployment policy.
//!
//! Level-triggered: every decision is a function of the observed instances (version + health)
//! alone, so a restarted server resumes a deploy from whatever it finds. The recorded progress
//! (batch number) only names batches in events; it never changes what is launched or retired.
//!
//! - AllAtOnce: retire every old instance and launch the full new set (capacity drops, as in
//!   Elastic Beanstalk). With one instance that would mean an outage, so a single instance is
//!   replaced make-before-break instead (launch, wait healthy, retire).
//! - Rolling: take one batch of old instances out and launch its replacements; the next batch
//!   starts when they are healthy. Capacity drops by at most one batch.
//! - RollingWithAdditionalBatch: launch a batch first; each time new instances become healthy,
//!   as many old ones retire and the next batch launches. Capacity never drops below desired.
//! - Immutable: launch a full new set; retire the whole old set once all are healthy.
//!
//! Not here: the deadline and rollback (the controller's business: a rollback is a deploy of
//! the last good version through this same planner) and routing.

use crate::health::InstanceHealth;
use crate::reconcile::{EnvironmentSpec, InstanceObservation, Plan, RetireReason, Step, plan_environment};

/// Deployment policies, as Elastic Beanstalk names them: the model's one type.
pub use sprout_model::options::DeploymentPolicy;

/// How a deploy proceeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploySpec {
    pub policy: DeploymentPolicy,
    /// Instances per batch, already resolved from a percentage; clamped to 1..=desired.
    pub batch: u32,
    /// A batch is done once its instances run, without waiting for health checks.
    pub ignore_health_check: bool,
}

impl DeploySpec {
    /// Resolve a batch size given as a percentage (`percent` true) or a fixed count.
    pub fn batch_from(size: u32, percent: bool, desired: u32) -> u32 {
        let n = if percent { (desired * size.min(100)).div_ceil(100) } else { size };
        n.clamp(1, desired.max(1))
    }

    /// The batch size actually used for `desired` instances.
    pub fn batch_for(&self, desired: u32) -> u32 {
        self.batch.clamp(1, desired.max(1))
    }

    /// How many batches a deploy of `desired` instances takes under this policy.
    pub fn batches(&self, desired: u32) -> u32 {
        match self.policy {
            DeploymentPolicy::AllAtOnce | DeploymentPolicy::Immutable => 1,
            DeploymentPolicy::Rolling | DeploymentPolicy::RollingWithAdditionalBatch => {
                desired.max(1).div_ceil(self.batch_for(desired))
            }
        }
    }

    /// The fewest healthy in-service instances the policy allows during a deploy.
    pub fn min_in_service(&self, desired: u32) -> u32 {
        match self.effective(desired) {
            DeploymentPolicy::AllAtOnce => 0,
            DeploymentPolicy::Rolling => desired.saturating_sub(self.batch_for(desired)),
            DeploymentPolicy::RollingWithAdditionalBatch | DeploymentPolicy::Immutable => desired,
        }
    }

    /// The most instances the policy runs at once during a deploy.
    pub fn max_total(&self, desired: u32) -> u32 {
        match self.effective(desired) {
            DeploymentPolicy::AllAtOnce | DeploymentPolicy::Rolling => desired,
            DeploymentPolicy::RollingWithAdditionalBatch => desired + self.batch_for(desired),
            DeploymentPolicy::Immutable => desired * 2,
        }
    }

    /// AllAtOnce on a single instance would be an outage: replace it make-before-break.
    fn effective(&self, desired: u32) -> DeploymentPolicy {
        match self.policy {
            DeploymentPolicy::AllAtOnce if desired <= 1 => DeploymentPolicy::RollingWithAdditionalBatch,
            p => p,
        }
    }
}

/// Where a deploy stands, from the observed instances; returned beside the plan so the
/// controller can record progress and name batches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeployStatus {
    /// Instances of other versions still present: a deploy is in progress.
    pub old: usize,
    /// Instances of the target version that count as done (healthy, or running when health
    /// checks are ignored).
    pub new_ready: usize,
    /// Instances of the target version still starting.
    pub new_pending: usize,
    /// This plan starts a batch: it launches instances of the target version while none is
    /// starting.
    pub starts_batch: bool,
}

/// Plan one environment under a deployment policy. Without instances of other versions this is
/// exactly `plan_environment`. Pure: same inputs, same plan.
pub fn plan_deploy(
    spec: &EnvironmentSpec,
    deploy: &DeploySpec,
    observed: &[InstanceObservation],
) -> (Plan, DeployStatus) {
    let is_old = |i: &InstanceObservation| i.version != spec.version && !i.health.is_unhealthy();
    if spec.terminating || !observed.iter().any(is_old) {
        return (plan_environment(spec, observed), DeployStatus::default());
    }
    let desired = spec.desired as usize;
    let batch = deploy.batch_for(spec.desired) as usize;
    let counts_ready = |i: &InstanceObservation| {
        i.health == InstanceHealth::Healthy || (deploy.ignore_health_check && i.health == InstanceHealth::Pending)
    };

    let mut steps = Vec::new();
    let mut new: Vec<&InstanceObservation> = Vec::new();
    let mut old: Vec<&InstanceObservation> = Vec::new();
    for i in observed {
        match &i.health {
            InstanceHealth::Unhealthy(why) => {
                steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::Unhealthy(why.clone()) })
            }
            _ if i.version == spec.version => new.push(i),
            _ => old.push(i),
        }
    }
    if new.len() > desired {
        // Scaled in during the deploy: starting instances go first, then the newest.
        new.sort_by_key(|i| (i.health == InstanceHealth::Healthy, std::cmp::Reverse(i.launched_at), i.id.clone()));
        for i in new.drain(..new.len() - desired) {
            steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::ScaleIn });
        }
    }
    // Old instances leave in this order: starting ones (they serve nothing), then the oldest.
    old.sort_by_key(|i| (i.health == InstanceHealth::Healthy, i.launched_at, i.id.clone()));
    let new_ready = new.iter().filter(|i| counts_ready(i)).count();
    let new_pending = new.len() - new_ready;
    let idle = new_pending == 0 && spec.may_launch;

    let (retire, launch) = match deploy.effective(spec.desired) {
        DeploymentPolicy::AllAtOnce => {
            if spec.may_launch {
                (old.len(), desired - new.len())
            } else {
                (0, 0)
            }
        }
        DeploymentPolicy::Immutable => {
            // Old instances beyond `desired` (a scale-in meanwhile) need not wait for the new set.
            let retire = if new_ready >= desired { old.len() } else { old.len().saturating_sub(desired) };
            (retire, if spec.may_launch { desired - new.len() } else { 0 })
        }
        DeploymentPolicy::Rolling => {
            let total = old.len() + new.len();
            if idle {
                // Keep enough old instances that, with the ready new ones, `desired - batch` serve.
                let keep = (desired - batch.min(desired)).saturating_sub(new.len());
                let retire = old.len().saturating_sub(keep);
                (retire, (desired - new.len()).min(desired.saturating_sub(total - retire)))
            } else if spec.may_launch {
                // A batch is starting: only make up for instances lost meanwhile.
                (0, desired.saturating_sub(total))
            } else {
                (0, 0)
            }
        }
        DeploymentPolicy::RollingWithAdditionalBatch => {
            // Keep exactly as many old instances as the ready new ones leave wanting.
            let retire = old.len().min((new_ready + old.len()).saturating_sub(desired));
            let total = new.len() + old.len() - retire;
            let mut launch = 0;
            if spec.may_launch {
                launch = desired.saturating_sub(total);
                if idle {
                    launch = launch.max(batch.min((desired + batch).saturating_sub(total)));
                }
                launch = launch.min(desired - new.len());
            }
            (retire, launch)
        }
    };
    for i in &old[..retire] {
        steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::Replaced });
    }
    for _ in 0..launch {
        steps.push(Step::Launch { version: spec.version.clone() });
    }
    let status = DeployStatus { old: old.len(), new_ready, new_pending, starts_batch: launch > 0 && new_pending == 0 };
    (Plan { steps, ready: false }, status)
}

#[cfg(test)]
mod tests;
