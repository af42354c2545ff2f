//! Table tests and properties of the reconcile planner.

use proptest::prelude::*;

use super::*;

fn spec(version: &str, desired: u32) -> EnvironmentSpec {
    EnvironmentSpec { version: version.into(), desired, terminating: false, may_launch: true }
}
fn inst(id: &str, version: &str, health: InstanceHealth, at: i64) -> InstanceObservation {
    InstanceObservation { id: id.into(), version: version.into(), health, launched_at: at }
}
use InstanceHealth::{Healthy, Pending};

#[test]
fn empty_environment_launches_desired() {
    let p = plan_environment(&spec("v1", 2), &[]);
    assert_eq!(p.launches(), 2);
    assert!(!p.ready);
}

#[test]
fn steady_state_is_ready_and_empty() {
    let obs = [inst("a", "v1", Healthy, 1), inst("b", "v1", Healthy, 2)];
    let p = plan_environment(&spec("v1", 2), &obs);
    assert!(p.steps.is_empty());
    assert!(p.ready);
}

#[test]
fn unhealthy_instance_is_retired_and_replaced() {
    let obs = [inst("a", "v1", Healthy, 1), inst("b", "v1", InstanceHealth::Unhealthy("exited".into()), 2)];
    let p = plan_environment(&spec("v1", 2), &obs);
    assert_eq!(p.launches(), 1);
    let r: Vec<_> = p.retirements().collect();
    assert_eq!(r, vec![("b", &RetireReason::Unhealthy("exited".into()))]);
    assert!(!p.ready);
}

#[test]
fn deploy_keeps_old_until_new_are_healthy() {
    let old = [inst("a", "v1", Healthy, 1), inst("b", "v1", Healthy, 2)];
    let p = plan_environment(&spec("v2", 2), &old);
    assert_eq!(p.launches(), 2);
    assert_eq!(p.retirements().count(), 0, "old instances serve until the new ones are healthy");

    let mid = [old[0].clone(), old[1].clone(), inst("c", "v2", Healthy, 3), inst("d", "v2", Pending, 3)];
    let p = plan_environment(&spec("v2", 2), &mid);
    assert!(p.steps.is_empty());

    let done = [old[0].clone(), old[1].clone(), inst("c", "v2", Healthy, 3), inst("d", "v2", Healthy, 3)];
    let p = plan_environment(&spec("v2", 2), &done);
    let r: Vec<_> = p.retirements().map(|(id, _)| id).collect();
    assert_eq!(r, vec!["a", "b"]);
    assert_eq!(p.launches(), 0);
}

#[test]
fn scale_in_retires_pending_then_newest() {
    let obs = [inst("a", "v1", Healthy, 1), inst("b", "v1", Healthy, 5), inst("c", "v1", Pending, 2)];
    let p = plan_environment(&spec("v1", 1), &obs);
    let r: Vec<_> = p.retirements().map(|(id, _)| id).collect();
    assert_eq!(r, vec!["c", "b"]);
}

#[test]
fn terminating_retires_everything() {
    let obs = [inst("a", "v1", Healthy, 1), inst("b", "v0", Pending, 2)];
    let mut s = spec("v1", 2);
    s.terminating = true;
    let p = plan_environment(&s, &obs);
    assert_eq!(p.retirements().count(), 2);
    assert!(p.retirements().all(|(_, r)| *r == RetireReason::Terminate));
}

#[test]
fn backoff_launches_nothing() {
    let mut s = spec("v1", 3);
    s.may_launch = false;
    assert_eq!(plan_environment(&s, &[]).launches(), 0);
}

fn health() -> impl Strategy<Value = InstanceHealth> {
    prop_oneof![Just(Healthy), Just(Pending), Just(InstanceHealth::Unhealthy("x".into()))]
}

fn observations() -> impl Strategy<Value = Vec<InstanceObservation>> {
    prop::collection::vec((prop_oneof![Just("v1"), Just("v2")], health(), 0i64..100), 0..8)
        .prop_map(|v| v.into_iter().enumerate().map(|(n, (ver, h, at))| inst(&format!("i{n}"), ver, h, at)).collect())
}

/// Apply a plan the way the controller does: retired instances vanish, launches appear pending.
fn apply(observed: &[InstanceObservation], plan: &Plan) -> Vec<InstanceObservation> {
    let retired: Vec<&str> = plan.retirements().map(|(id, _)| id).collect();
    let mut out: Vec<_> = observed.iter().filter(|i| !retired.contains(&i.id.as_str())).cloned().collect();
    for (n, s) in plan.steps.iter().enumerate() {
        if let Step::Launch { version } = s {
            out.push(inst(&format!("new{n}"), version, Pending, 1000));
        }
    }
    out
}

proptest! {
    #[test]
    fn planning_again_after_applying_changes_nothing(desired in 0u32..5, obs in observations()) {
        let s = spec("v2", desired);
        let p1 = plan_environment(&s, &obs);
        let after = apply(&obs, &p1);
        let p2 = plan_environment(&s, &after);
        // Nothing new to launch or retire until health changes.
        prop_assert_eq!(p2.launches(), 0, "{:?} then {:?}", p1, p2);
        prop_assert_eq!(p2.retirements().count(), 0);
    }

    #[test]
    fn healthy_serving_capacity_never_drops_below_what_was_there_or_desired(desired in 0u32..5, obs in observations()) {
        let s = spec("v2", desired);
        let p = plan_environment(&s, &obs);
        let after = apply(&obs, &p);
        let healthy = |v: &[InstanceObservation]| v.iter().filter(|i| i.health == Healthy).count();
        prop_assert!(healthy(&after) >= healthy(&obs).min(desired as usize));
    }

    #[test]
    fn never_more_than_desired_of_the_target_version(desired in 0u32..5, obs in observations()) {
        let s = spec("v2", desired);
        let after = apply(&obs, &plan_environment(&s, &obs));
        let target = after.iter().filter(|i| i.version == "v2" && !i.health.is_unhealthy()).count();
        prop_assert_eq!(target, desired as usize);
    }
}
