//! The parts of a pass that judge: an instance's health from what was observed, and the cause
//! each replacement is noted under for crash loops. Split from `pass` to keep it readable.

use std::collections::BTreeSet;

use sprout_model::event::Event;

use super::{PassInput, SeenInstance};
use crate::checks::InstanceChecks;
use crate::crashloop::{Cause, CrashLoops};
use crate::health::{InstanceHealth, ObservedState, ProbeRecord, judge_instance};
use crate::reconcile::{Plan, RetireReason, Step};

/// An instance's health: Pending while its launch runs, else judged from its containers and checks.
pub(super) fn judge(
    input: &PassInput,
    inst: &SeenInstance,
    checks: &InstanceChecks,
    unhealthy_threshold: u32,
    worker: bool,
) -> InstanceHealth {
    if input.launching.contains_key(&inst.id) {
        // Half created: not judged, counted as capacity to come.
        return InstanceHealth::Pending;
    }
    let Some(containers) = &inst.containers else {
        return InstanceHealth::Unhealthy(format!("runs version {:?}, which this server does not know", inst.version));
    };
    // Launches finish within a pass, so an essential container that was created but never
    // started belongs to a launch that was interrupted (the server was killed): replace it.
    if let Some(c) = containers.iter().find(|c| c.essential && c.state == Some(ObservedState::Created)) {
        return InstanceHealth::Unhealthy(format!(
            "essential container {} was created but never started (its launch was interrupted)",
            c.name
        ));
    }
    // A stopped warm instance is given its launch time from when it was started.
    let since = inst.started_at.map_or(inst.launched_at, |s| s.max(inst.launched_at));
    let age = (input.now.timestamp() - since).max(0) as u64;
    if worker {
        // No HTTP probe: running essential containers are a pass (exits, OOM kills, Docker
        // health checks and restart loops still condemn it above and in `judge_instance`).
        let record = ProbeRecord { passed_once: true, ..Default::default() };
        return judge_instance(containers, &record, age, input.launch_timeout_s, unhealthy_threshold);
    }
    judge_instance(containers, &checks.record, age, input.launch_timeout_s, unhealthy_threshold)
}

/// An unhealthy instance on a drained node stopped because the operator drained it: its
/// retirement is planned (`NodeDrained`), so it is neither an alert nor a crash-loop signal nor
/// a failed launch to back off from.
pub(super) fn moved_by_drain(plan: &mut Plan, on_drained_nodes: &BTreeSet<String>) {
    for step in &mut plan.steps {
        if let Step::Retire { id, reason } = step
            && matches!(reason, RetireReason::Unhealthy(_))
            && on_drained_nodes.contains(id.as_str())
        {
            *reason = RetireReason::NodeDrained;
        }
    }
}

/// Notes each replacement of an unhealthy instance with its cause. Returns the crash-loop events
/// to say and the instances whose replacement belongs to a loop already (the loop's event stands
/// for theirs, so they get no event of their own).
pub(super) fn note_replacements(
    input: &PassInput,
    plan: &Plan,
    loops: &mut CrashLoops,
) -> (Vec<Event>, BTreeSet<String>) {
    let mut events = Vec::new();
    let mut in_a_loop = BTreeSet::new();
    for (id, reason) in plan.retirements() {
        let RetireReason::Unhealthy(why) = reason else { continue };
        // An instance being launched is retired once its launch ends, and noted then.
        let Some(inst) = input.instances.iter().find(|i| i.id == id).filter(|_| !input.launching.contains_key(id))
        else {
            continue;
        };
        let cause = Cause::of(inst.containers.as_deref(), why);
        if loops.is_looping(&cause.key, input.now) {
            in_a_loop.insert(id.to_string());
        }
        events.extend(loops.note(&inst.key, cause, input.now));
    }
    (events, in_a_loop)
}
