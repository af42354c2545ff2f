//! The stopped warm pool's decisions, pure: which instances wait stopped, which of them to start
//! so the environment runs its desired count, which launches create their instance stopped, and
//! which instance a scale-in takes (a running one before a stopped one).
//!
//! A stopped warm instance is one whose every container was created and never started: its
//! network, volumes and containers exist, so starting it skips image resolution and container
//! creation. One with a container missing (removed by hand) or exited is not one: the pass judges
//! it like any instance, and replaces it.
//!
//! Not here: the running warm pool (`rotation` keeps it out of service), starting and creating
//! (the controller).

use std::collections::BTreeSet;

use crate::health::{ContainerObservation, InstanceHealth, ObservedState};
use crate::reconcile::{InstanceObservation, Plan, RetireReason, Step};

/// Every container of the instance's definition exists and was never started.
pub fn is_stopped(containers: Option<&[ContainerObservation]>) -> bool {
    containers.is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.state == Some(ObservedState::Created)))
}

/// What the stopped warm pool's decisions look at.
#[derive(Debug, Clone)]
pub struct WarmInput<'a> {
    /// Instances the environment should run and serve from (the warm pool not counted).
    pub desired_instances: u32,
    /// The deploy key (version and properties) instances should run.
    pub desired_key: &'a str,
    /// Every instance, judged, with launches in flight.
    pub observations: &'a [InstanceObservation],
    /// Stopped warm instances.
    pub stopped: &'a BTreeSet<String>,
    /// Launches in flight that create their instance stopped.
    pub stopping: &'a BTreeSet<String>,
    /// Instances the plan retires.
    pub leaving: &'a BTreeSet<&'a str>,
    /// Launches the plan orders.
    pub launches: usize,
}

/// The stopped warm pool's part of a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmDecision {
    /// Stopped warm instances to start now.
    pub start: Vec<String>,
    /// How many of the plan's launches (the last ones) create their instance stopped.
    pub stopped_launches: usize,
}

/// Running capacity of the desired key short of the desired count is made up first by starting
/// stopped warm instances, then by launches that start; the other launches fill the pool.
pub fn decide_warm(input: &WarmInput) -> WarmDecision {
    let live = |o: &&InstanceObservation| {
        o.version == input.desired_key && !input.leaving.contains(o.id.as_str()) && !o.health.is_unhealthy()
    };
    let running = input
        .observations
        .iter()
        .filter(live)
        .filter(|o| !input.stopped.contains(&o.id) && !input.stopping.contains(&o.id))
        .count();
    let mut short = (input.desired_instances as usize).saturating_sub(running);
    let mut waiting: Vec<&InstanceObservation> =
        input.observations.iter().filter(live).filter(|o| input.stopped.contains(&o.id)).collect();
    // The oldest first: it has waited longest, and the newest stays for the next wake.
    waiting.sort_by_key(|o| (o.launched_at, o.id.clone()));
    let start: Vec<String> = waiting.iter().take(short).map(|o| o.id.clone()).collect();
    short -= start.len();
    WarmDecision { start, stopped_launches: input.launches.saturating_sub(short) }
}

/// While running capacity comes up (a stopped instance started this pass, or one started or
/// launched earlier still waiting for its first passing check), the pool's refills wait: they
/// would compete with the wake for the engine (creating four containers while starting four), and
/// the wake is what a held request waits for. How many of the plan's launches (the last ones,
/// the stopped ones) to drop this pass; the next pass after the wake orders them again.
pub fn defer_refill_while_waking(
    decision: &mut WarmDecision,
    observations: &[InstanceObservation],
    stopping: &BTreeSet<String>,
) -> usize {
    let coming_up = !decision.start.is_empty()
        || observations.iter().any(|o| o.health == InstanceHealth::Pending && !stopping.contains(&o.id));
    if !coming_up {
        return 0;
    }
    std::mem::take(&mut decision.stopped_launches)
}

/// A scale-in that would retire a stopped warm instance while more instances run than the
/// desired count retires a running one instead (the newest, a pending one first), so the pool
/// stays stopped and the running capacity shrinks as asked.
pub fn prefer_running_on_scale_in(
    plan: &mut Plan,
    observations: &[InstanceObservation],
    stopped: &BTreeSet<String>,
    desired_instances: u32,
) {
    let retired: BTreeSet<String> = plan.retirements().map(|(id, _)| id.to_string()).collect();
    let mut running: Vec<&InstanceObservation> = observations
        .iter()
        .filter(|o| !stopped.contains(&o.id) && !retired.contains(&o.id) && !o.health.is_unhealthy())
        .collect();
    running.sort_by_key(|o| (o.health == InstanceHealth::Healthy, std::cmp::Reverse(o.launched_at)));
    let mut running = running.into_iter();
    let mut left = running.len();
    for step in plan.steps.iter_mut() {
        let Step::Retire { id, reason: RetireReason::ScaleIn } = step else { continue };
        if !stopped.contains(id.as_str()) || left <= desired_instances as usize {
            continue;
        }
        let Some(instead) = running.next() else { break };
        *id = instead.id.clone();
        left -= 1;
    }
}

/// With a stopped warm pool and nothing else planned, running instances beyond the desired count
/// (one left running by a scale-in to the pool, say `sprout scale ENV 0 --warm-pool 1`, or a pool
/// that was running before its state became stopped) are retired: the next pass refills the
/// pool with an instance created stopped, so the pool costs no CPU as its state promises. The
/// ones serving stay first, then the oldest.
pub fn retire_running_beyond_desired(
    plan: &mut Plan,
    observations: &[InstanceObservation],
    stopped: &BTreeSet<String>,
    serving: &BTreeSet<String>,
    (desired_key, desired_instances): (&str, u32),
) {
    if !plan.steps.is_empty() {
        return;
    }
    let mut running: Vec<&InstanceObservation> = observations
        .iter()
        .filter(|o| o.version == desired_key && o.health == InstanceHealth::Healthy && !stopped.contains(&o.id))
        .collect();
    running.sort_by_key(|o| (!serving.contains(&o.id), o.launched_at, o.id.clone()));
    for o in running.into_iter().skip(desired_instances as usize) {
        plan.steps.push(Step::Retire { id: o.id.clone(), reason: RetireReason::ScaleIn });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::InstanceHealth::{Healthy, Pending, Unhealthy};

    fn obs(id: &str, version: &str, health: InstanceHealth, at: i64) -> InstanceObservation {
        InstanceObservation { id: id.into(), version: version.into(), health, launched_at: at }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn created(name: &str, state: Option<ObservedState>) -> ContainerObservation {
        ContainerObservation { name: name.into(), essential: true, state, memory_mib: None }
    }

    #[test]
    fn stopped_means_every_container_created_and_none_missing() {
        let c = Some(ObservedState::Created);
        assert!(is_stopped(Some(&[created("web", c), created("app", c)])));
        assert!(!is_stopped(Some(&[created("web", c), created("app", None)])), "one removed by hand");
        assert!(!is_stopped(Some(&[created("web", c), created("app", Some(ObservedState::Running))])));
        assert!(!is_stopped(Some(&[])));
        assert!(!is_stopped(None), "a version this server does not know");
    }

    #[test]
    fn a_wake_starts_a_stopped_instance_and_refills_the_pool_stopped() {
        let o = [obs("s", "v1", Healthy, 1), obs("new", "v1", Pending, 5)];
        let (stopped, stopping, leaving) = (set(&["s"]), set(&[]), BTreeSet::new());
        let input = WarmInput {
            desired_instances: 1,
            desired_key: "v1",
            observations: &o[..1],
            stopped: &stopped,
            stopping: &stopping,
            leaving: &leaving,
            launches: 1,
        };
        assert_eq!(decide_warm(&input), WarmDecision { start: vec!["s".into()], stopped_launches: 1 });
        // At zero, nothing starts and the pool's launch is created stopped.
        let none = WarmInput { desired_instances: 0, stopped: &set(&[]), observations: &[], ..input.clone() };
        assert_eq!(decide_warm(&none), WarmDecision { start: vec![], stopped_launches: 1 });
        // Once started (running, pending its check), nothing more starts.
        let started = WarmInput { observations: &o[..1], stopped: &set(&[]), launches: 0, ..input.clone() };
        assert_eq!(decide_warm(&started), WarmDecision::default());
    }

    #[test]
    fn without_a_stopped_instance_the_launches_that_make_up_the_count_start() {
        let o = [obs("old", "v0", Healthy, 1), obs("bad", "v1", Unhealthy("x".into()), 2)];
        let (stopped, stopping, leaving) = (set(&[]), set(&[]), BTreeSet::new());
        // A deploy: the old version's running instance does not count, the unhealthy one neither.
        let input = WarmInput {
            desired_instances: 2,
            desired_key: "v1",
            observations: &o,
            stopped: &stopped,
            stopping: &stopping,
            leaving: &leaving,
            launches: 3,
        };
        assert_eq!(decide_warm(&input), WarmDecision { start: vec![], stopped_launches: 1 });
        // A stopped instance of the old version is not started for the new one.
        let old_stopped = set(&["old"]);
        assert_eq!(decide_warm(&WarmInput { stopped: &old_stopped, ..input }).start, Vec::<String>::new());
    }

    #[test]
    fn scale_in_retires_a_running_instance_before_a_stopped_one() {
        let o = [obs("run", "v1", Healthy, 1), obs("warm", "v1", Healthy, 9)];
        let mut plan =
            Plan { steps: vec![Step::Retire { id: "warm".into(), reason: RetireReason::ScaleIn }], ready: false };
        prefer_running_on_scale_in(&mut plan, &o, &set(&["warm"]), 0);
        assert_eq!(plan.steps, vec![Step::Retire { id: "run".into(), reason: RetireReason::ScaleIn }]);
        // At the desired count already, a stopped one beyond the pool is what goes.
        let mut plan =
            Plan { steps: vec![Step::Retire { id: "warm".into(), reason: RetireReason::ScaleIn }], ready: false };
        prefer_running_on_scale_in(&mut plan, &o, &set(&["warm"]), 1);
        assert_eq!(plan.steps, vec![Step::Retire { id: "warm".into(), reason: RetireReason::ScaleIn }]);
    }

    #[test]
    fn a_running_instance_left_in_a_stopped_pool_is_retired_for_a_stopped_one() {
        let o = [obs("old", "v1", Healthy, 1), obs("new", "v1", Healthy, 5), obs("s", "v1", Healthy, 7)];
        let (stopped, none) = (set(&["s"]), set(&[]));
        // Scaled to 1 with a pool of 1, two running: the one not serving goes, the stopped stays.
        let mut plan = Plan::default();
        retire_running_beyond_desired(&mut plan, &o, &stopped, &set(&["new"]), ("v1", 1));
        assert_eq!(plan.steps, vec![Step::Retire { id: "old".into(), reason: RetireReason::ScaleIn }]);
        // Scaled to 0: every running one goes.
        let mut plan = Plan::default();
        retire_running_beyond_desired(&mut plan, &o, &stopped, &none, ("v1", 0));
        assert_eq!(plan.retirements().count(), 2);
        // Pending ones (a wake under way), other versions (a deploy's business) and a plan with
        // steps of its own are left alone.
        let waking = [obs("w", "v1", Pending, 9), obs("v0", "v0", Healthy, 1)];
        let mut plan = Plan::default();
        retire_running_beyond_desired(&mut plan, &waking, &none, &none, ("v1", 0));
        assert!(plan.steps.is_empty());
        let launch = Step::Launch { version: "v1".into() };
        let mut plan = Plan { steps: vec![launch.clone()], ready: false };
        retire_running_beyond_desired(&mut plan, &o, &stopped, &none, ("v1", 0));
        assert_eq!(plan.steps, vec![launch]);
    }

    #[test]
    fn refills_wait_until_the_woken_capacity_is_up() {
        let none = set(&[]);
        let mut waking = WarmDecision { start: vec!["s".into()], stopped_launches: 1 };
        assert_eq!(defer_refill_while_waking(&mut waking, &[], &none), 1);
        assert_eq!(waking, WarmDecision { start: vec!["s".into()], stopped_launches: 0 });
        // The started instance waits for its first check: still waiting.
        let pending = [obs("s", "v1", Pending, 1)];
        let mut refill = WarmDecision { start: vec![], stopped_launches: 1 };
        assert_eq!(defer_refill_while_waking(&mut refill, &pending, &none), 1);
        // Pending only because it is itself being created stopped: nothing waits for it.
        let mut refill = WarmDecision { start: vec![], stopped_launches: 1 };
        assert_eq!(defer_refill_while_waking(&mut refill, &pending, &set(&["s"])), 0);
        assert_eq!(refill.stopped_launches, 1);
        // In service: the pool refills.
        let up = [obs("s", "v1", Healthy, 1)];
        let mut refill = WarmDecision { start: vec![], stopped_launches: 1 };
        assert_eq!(defer_refill_while_waking(&mut refill, &up, &none), 0);
    }
}
