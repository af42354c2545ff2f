//! Table tests and properties of the deploy planner: each policy walked through a deploy, and
//! the invariants (capacity floor, instance ceiling, idempotence, resumability) over random
//! observed states.

use proptest::prelude::*;

use super::*;
use InstanceHealth::{Healthy, Pending};

fn spec(desired: u32) -> EnvironmentSpec {
    EnvironmentSpec { version: "v2".into(), desired, terminating: false, may_launch: true }
}
fn deploy(policy: DeploymentPolicy, batch: u32) -> DeploySpec {
    DeploySpec { policy, batch, ignore_health_check: false }
}
fn inst(id: &str, version: &str, health: InstanceHealth, at: i64) -> InstanceObservation {
    InstanceObservation { id: id.into(), version: version.into(), health, launched_at: at }
}
fn olds(n: usize) -> Vec<InstanceObservation> {
    (0..n).map(|k| inst(&format!("o{k}"), "v1", Healthy, k as i64)).collect()
}

/// Apply a plan as the controller does: retired instances vanish, launches appear pending.
fn apply(observed: &[InstanceObservation], plan: &Plan, tag: &str) -> Vec<InstanceObservation> {
    let retired: Vec<&str> = plan.retirements().map(|(id, _)| id).collect();
    let mut out: Vec<_> = observed.iter().filter(|i| !retired.contains(&i.id.as_str())).cloned().collect();
    for (n, s) in plan.steps.iter().enumerate() {
        if let Step::Launch { version } = s {
            out.push(inst(&format!("{tag}{n}"), version, Pending, 1000));
        }
    }
    out
}
fn all_healthy(v: &mut [InstanceObservation]) {
    for i in v.iter_mut() {
        i.health = Healthy;
    }
}
fn healthy(v: &[InstanceObservation]) -> usize {
    v.iter().filter(|i| i.health == Healthy).count()
}

/// Drive a deploy to the end with every launch becoming healthy; return (launches, retirements)
/// per step and the lowest healthy count and highest total seen.
fn walk(d: &DeploySpec, desired: u32) -> (Vec<(usize, usize)>, usize, usize) {
    let mut obs = olds(desired as usize);
    let (mut trace, mut low, mut high) = (Vec::new(), usize::MAX, 0);
    for round in 0..20 {
        let (p, _) = plan_deploy(&spec(desired), d, &obs);
        if p.steps.is_empty() {
            assert!(obs.iter().all(|i| i.version == "v2"), "finished with old instances: {obs:?}");
            return (trace, low, high);
        }
        trace.push((p.launches(), p.retirements().count()));
        obs = apply(&obs, &p, &format!("r{round}-"));
        low = low.min(healthy(&obs));
        high = high.max(obs.len());
        all_healthy(&mut obs);
    }
    panic!("deploy did not finish: {trace:?}");
}

#[test]
fn rolling_with_additional_batch_launches_first_and_never_drops_capacity() {
    let (trace, low, high) = walk(&deploy(DeploymentPolicy::RollingWithAdditionalBatch, 1), 3);
    assert_eq!(trace, vec![(1, 0), (1, 1), (1, 1), (0, 1)]);
    assert_eq!((low, high), (3, 4));
}

#[test]
fn rolling_takes_a_batch_out_then_replaces_it() {
    let (trace, low, high) = walk(&deploy(DeploymentPolicy::Rolling, 2), 3);
    assert_eq!(trace, vec![(2, 2), (1, 1)]);
    assert_eq!((low, high), (1, 3));
}

#[test]
fn immutable_launches_a_full_set_then_retires_the_old_one() {
    let (trace, low, high) = walk(&deploy(DeploymentPolicy::Immutable, 1), 3);
    assert_eq!(trace, vec![(3, 0), (0, 3)]);
    assert_eq!((low, high), (3, 6));
}

#[test]
fn all_at_once_replaces_everything_but_a_single_instance_is_make_before_break() {
    let (trace, low, _) = walk(&deploy(DeploymentPolicy::AllAtOnce, 1), 3);
    assert_eq!(trace, vec![(3, 3)]);
    assert_eq!(low, 0);
    let (trace, low, _) = walk(&deploy(DeploymentPolicy::AllAtOnce, 1), 1);
    assert_eq!(trace, vec![(1, 0), (0, 1)]);
    assert_eq!(low, 1);
}

#[test]
fn a_batch_waits_for_health_unless_health_checks_are_ignored() {
    let obs = [olds(3), vec![inst("n", "v2", Pending, 5)]].concat();
    let (p, st) = plan_deploy(&spec(3), &deploy(DeploymentPolicy::RollingWithAdditionalBatch, 1), &obs);
    assert!(p.steps.is_empty(), "{p:?}");
    assert_eq!((st.new_pending, st.starts_batch), (1, false));
    let mut d = deploy(DeploymentPolicy::RollingWithAdditionalBatch, 1);
    d.ignore_health_check = true;
    let (p, st) = plan_deploy(&spec(3), &d, &obs);
    assert_eq!((p.launches(), p.retirements().count()), (1, 1));
    assert!(st.starts_batch);
}

#[test]
fn defaults_and_batch_sizes() {
    assert_eq!(DeploymentPolicy::default_for(1), DeploymentPolicy::AllAtOnce);
    assert_eq!(DeploymentPolicy::default_for(3), DeploymentPolicy::RollingWithAdditionalBatch);
    assert_eq!(DeploySpec::batch_from(30, true, 3), 1);
    assert_eq!(DeploySpec::batch_from(50, true, 3), 2);
    assert_eq!(DeploySpec::batch_from(5, false, 3), 3);
    assert_eq!(DeploySpec::batch_from(0, false, 3), 1);
    assert_eq!(deploy(DeploymentPolicy::Rolling, 2).batches(5), 3);
}

#[test]
fn without_other_versions_it_is_the_reconcile_plan() {
    let obs = [inst("a", "v2", Healthy, 1)];
    let (p, st) = plan_deploy(&spec(2), &deploy(DeploymentPolicy::Rolling, 1), &obs);
    assert_eq!(p, plan_environment(&spec(2), &obs));
    assert_eq!(st, DeployStatus::default());
}

#[test]
fn a_failed_new_instance_is_retired_and_old_ones_keep_serving() {
    let obs = [olds(2), vec![inst("n", "v2", InstanceHealth::Unhealthy("exited".into()), 5)]].concat();
    let mut s = spec(2);
    s.may_launch = false;
    let (p, _) = plan_deploy(&s, &deploy(DeploymentPolicy::Rolling, 1), &obs);
    let r: Vec<_> = p.retirements().map(|(id, _)| id).collect();
    assert_eq!(r, vec!["n"], "backing off: no old instance is taken out without a replacement");
    assert_eq!(p.launches(), 0);
}

fn policy() -> impl Strategy<Value = DeploymentPolicy> {
    prop_oneof![
        Just(DeploymentPolicy::AllAtOnce),
        Just(DeploymentPolicy::Rolling),
        Just(DeploymentPolicy::RollingWithAdditionalBatch),
        Just(DeploymentPolicy::Immutable)
    ]
}
fn health() -> impl Strategy<Value = InstanceHealth> {
    prop_oneof![Just(Healthy), Just(Healthy), Just(Pending), Just(InstanceHealth::Unhealthy("x".into()))]
}
fn observations() -> impl Strategy<Value = Vec<InstanceObservation>> {
    prop::collection::vec((prop_oneof![Just("v0"), Just("v1"), Just("v2")], health(), 0i64..100), 0..10)
        .prop_map(|v| v.into_iter().enumerate().map(|(n, (ver, h, at))| inst(&format!("i{n}"), ver, h, at)).collect())
}
fn live(v: &[InstanceObservation]) -> usize {
    v.iter().filter(|i| !i.health.is_unhealthy()).count()
}

proptest! {
    #[test]
    fn healthy_capacity_never_drops_below_the_policy_minimum(p in policy(), batch in 1u32..5, desired in 0u32..6, may in any::<bool>(), obs in observations()) {
        let d = deploy(p, batch);
        let mut s = spec(desired);
        s.may_launch = may;
        let (plan, _) = plan_deploy(&s, &d, &obs);
        let after = apply(&obs, &plan, "n");
        let floor = healthy(&obs).min(d.min_in_service(desired) as usize);
        prop_assert!(healthy(&after) >= floor, "{:?}: {} healthy after, floor {}: {:?}", p, healthy(&after), floor, plan);
    }

    #[test]
    fn instances_never_exceed_the_policy_maximum(p in policy(), batch in 1u32..5, desired in 0u32..6, obs in observations()) {
        let d = deploy(p, batch);
        let (plan, _) = plan_deploy(&spec(desired), &d, &obs);
        let after = apply(&obs, &plan, "n");
        let ceiling = live(&obs).max(d.max_total(desired) as usize);
        prop_assert!(after.len() <= ceiling, "{:?}: {} after, ceiling {}: {:?}", p, after.len(), ceiling, plan);
    }

    #[test]
    fn planning_again_after_applying_changes_nothing(p in policy(), batch in 1u32..5, desired in 0u32..6, may in any::<bool>(), obs in observations()) {
        let d = deploy(p, batch);
        let mut s = spec(desired);
        s.may_launch = may;
        let (p1, _) = plan_deploy(&s, &d, &obs);
        let after = apply(&obs, &p1, "n");
        let (p2, _) = plan_deploy(&s, &d, &after);
        prop_assert!(p2.steps.is_empty(), "{:?} then {:?}", p1, p2);
    }

    /// Resumable: whatever state a crash leaves, driving the planner from it (every launch
    /// becoming healthy) ends with exactly `desired` healthy instances of the version.
    #[test]
    fn every_state_resumes_to_the_end(p in policy(), batch in 1u32..5, desired in 0u32..6, obs in observations()) {
        let d = deploy(p, batch);
        let mut now = obs;
        for round in 0..30 {
            let (plan, _) = plan_deploy(&spec(desired), &d, &now);
            if plan.steps.is_empty() && plan.ready {
                break;
            }
            now = apply(&now, &plan, &format!("r{round}-"));
            all_healthy(&mut now);
        }
        prop_assert!(now.iter().all(|i| i.version == "v2" && i.health == Healthy), "{:?}", now);
        prop_assert_eq!(now.len(), desired as usize);
    }
}
