//! The reconcile planner: which instances to launch and which to retire so an environment runs
//! `desired` healthy instances of its version.
//!
//! Replacement is make-before-break: instances of an older version keep serving until as many
//! instances of the new version are healthy as the environment wants, then all retire at once.
//! A version that never becomes healthy therefore never takes capacity away; the deploy deadline
//! (the server's business) rolls it back. Deployment policies (batches, Rolling, Immutable) are
//! `deploy::plan_deploy`, which hands over to this planner once no other version runs.

use serde::Serialize;

use crate::health::InstanceHealth;

/// What the environment should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSpec {
    pub version: String,
    pub desired: u32,
    /// Terminating: every instance goes.
    pub terminating: bool,
    /// False while launches back off after failures: the plan launches nothing.
    pub may_launch: bool,
}

/// One instance as observed and judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceObservation {
    pub id: String,
    pub version: String,
    pub health: InstanceHealth,
    /// Unix seconds when it was launched; newer instances go first on scale-in.
    pub launched_at: i64,
}

/// Why an instance leaves. Every reason but `Unhealthy` is planned: it raises no alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail")]
pub enum RetireReason {
    Unhealthy(String),
    /// Replaced by instances of a newer version.
    Replaced,
    ScaleIn,
    Terminate,
    /// Its node was drained (a cluster engine): the operator moved it, so it is replaced
    /// elsewhere without an alert, though it stopped before its replacement came.
    NodeDrained,
}

impl RetireReason {
    pub fn describe(&self) -> String {
        match self {
            RetireReason::Unhealthy(why) => format!("unhealthy: {why}"),
            RetireReason::Replaced => "replaced by the deployed version".into(),
            RetireReason::ScaleIn => "scale-in".into(),
            RetireReason::Terminate => "environment terminating".into(),
            RetireReason::NodeDrained => "its node was drained".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step")]
pub enum Step {
    Launch { version: String },
    Retire { id: String, reason: RetireReason },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// After this plan, nothing is in flight: every instance runs the version and is healthy,
    /// and there are exactly `desired` of them.
    pub ready: bool,
}

impl Plan {
    pub fn launches(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::Launch { .. })).count()
    }
    pub fn retirements(&self) -> impl Iterator<Item = (&str, &RetireReason)> {
        self.steps.iter().filter_map(|s| match s {
            Step::Retire { id, reason } => Some((id.as_str(), reason)),
            Step::Launch { .. } => None,
        })
    }
}

/// Plan one environment. Pure: same inputs, same plan.
pub fn plan_environment(spec: &EnvironmentSpec, observed: &[InstanceObservation]) -> Plan {
    let mut steps = Vec::new();
    if spec.terminating {
        for i in observed {
            steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::Terminate });
        }
        return Plan { steps, ready: false };
    }

    let mut current: Vec<&InstanceObservation> = Vec::new();
    let mut old: Vec<&InstanceObservation> = Vec::new();
    for i in observed {
        match &i.health {
            InstanceHealth::Unhealthy(why) => {
                steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::Unhealthy(why.clone()) })
            }
            _ if i.version == spec.version => current.push(i),
            _ => old.push(i),
        }
    }
    let unhealthy = steps.len();

    let desired = spec.desired as usize;
    if current.len() > desired {
        // Pending instances first (they serve nothing), then the newest.
        current.sort_by_key(|i| (i.health == InstanceHealth::Healthy, std::cmp::Reverse(i.launched_at)));
        for i in current.drain(..current.len() - desired) {
            steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::ScaleIn });
        }
    } else if spec.may_launch {
        for _ in current.len()..desired {
            steps.push(Step::Launch { version: spec.version.clone() });
        }
    }

    let healthy_current = current.iter().filter(|i| i.health == InstanceHealth::Healthy).count();
    let retire_old = healthy_current >= desired;
    if retire_old {
        for i in &old {
            steps.push(Step::Retire { id: i.id.clone(), reason: RetireReason::Replaced });
        }
    }
    let ready = unhealthy == 0 && old.is_empty() && current.len() == desired && healthy_current == desired;
    Plan { steps, ready }
}

#[cfg(test)]
mod tests;
