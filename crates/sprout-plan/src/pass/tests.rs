//! Table tests for one environment's pass: routing, retirement, back-off, deploy progress and
//! rollback, warm pool, termination and when to look again, with no engine and no clock.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::*;
use crate::checks::InstanceChecks;
use crate::enhanced::Traffic;
use crate::health::{ContainerObservation, ObservedState, ProbeRecord};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use sprout_model::options::HealthOptions;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn env(version: &str, desired: u32, status: EnvStatus) -> EnvironmentRecord {
    EnvironmentRecord {
        last_good_version: Some("v1".into()),
        status,
        revision: 1,
        ..EnvironmentRecord::launching("shop", "prod", version, desired, at(0))
    }
}

fn running(name: &str) -> ContainerObservation {
    ContainerObservation { name: name.into(), essential: true, state: Some(ObservedState::Running), memory_mib: None }
}

fn inst(id: &str, version: &str, port: u16) -> SeenInstance {
    SeenInstance {
        id: id.into(),
        version: version.into(),
        key: version.into(),
        launched_at: at(0).timestamp(),
        started_at: Some(at(0).timestamp()),
        containers: Some(vec![running("web")]),
        views: Vec::new(),
        address: Some(SocketAddr::from(([127, 0, 0, 1], port))),
        traffic: Traffic::default(),
    }
}

fn input<'a>(env: Option<&'a EnvironmentRecord>, instances: Vec<SeenInstance>) -> PassInput<'a> {
    PassInput {
        env,
        desired_key: env.map(|e| e.version_label.clone()).unwrap_or_default(),
        instances,
        launching: BTreeMap::new(),
        launch_failures: Vec::new(),
        retiring: 0,
        serving: BTreeSet::new(),
        traffic: Traffic::default(),
        engine_error: None,
        images_waiting: None,
        release_waiting: None,
        on_drained_nodes: BTreeSet::new(),
        previous: None,
        launch_timeout_s: 300,
        tick: Duration::from_secs(1),
        now: at(100),
    }
}

/// Memory in which these instances have passed their checks.
fn passed(ids: &[&str]) -> Memory {
    let mut m = Memory::default();
    for id in ids {
        let mut c = InstanceChecks::default();
        c.note_probe(Ok(()), &HealthOptions::default(), at(99));
        m.checks.insert(id.to_string(), c);
        m.announced.insert(id.to_string());
    }
    m
}

fn routed(plan: &PassPlan) -> Vec<String> {
    match &plan.route {
        Some(RouteChange::Set { upstreams, .. }) => upstreams.iter().map(|(id, _)| id.clone()).collect(),
        other => panic!("expected a route, got {other:?}"),
    }
}

#[test]
fn a_steady_environment_routes_everyone_and_writes_nothing() {
    let e = env("v1", 2, EnvStatus::Ready);
    let plan = plan_pass(&input(Some(&e), vec![inst("i-a", "v1", 1), inst("i-b", "v1", 2)]), &passed(&["i-a", "i-b"]));
    assert_eq!(routed(&plan), ["i-a", "i-b"]);
    assert_eq!((plan.write, plan.events.len(), plan.retire.len(), plan.launch.len()), (None, 0, 0, 0));
    assert_eq!(plan.next, Next::After(Duration::from_secs(1)));
    let snapshot = plan.snapshot.unwrap();
    assert_eq!(snapshot.status, HealthStatus::Ok);
    assert!(snapshot.instances.iter().all(|i| i.in_service));
}

#[test]
fn a_first_passing_check_puts_the_instance_in_service_once_and_resets_the_back_off() {
    let e = env("v1", 1, EnvStatus::Launching);
    let mut memory = passed(&["i-a"]);
    memory.announced.clear();
    memory.failures = 3;
    let plan = plan_pass(&input(Some(&e), vec![inst("i-a", "v1", 1)]), &memory);
    assert_eq!(routed(&plan), ["i-a"]);
    assert!(
        matches!(&plan.events[0], Event::InstanceInService { instance, address } if instance == "i-a" && address == "127.0.0.1:1")
    );
    assert!(matches!(plan.events.last(), Some(Event::EnvironmentReady { instances: 1, .. })));
    assert_eq!(plan.memory.failures, 0);
    let Some(Write::Update(written)) = &plan.write else { panic!("expected a write") };
    assert_eq!((written.status, written.last_good_version.as_deref()), (EnvStatus::Ready, Some("v1")));
    assert_eq!(written.updated_at, at(100));
    // The next pass, from the adopted memory and the written record, says nothing again.
    let again = plan_pass(&input(Some(written), vec![inst("i-a", "v1", 1)]), &plan.memory);
    assert_eq!((again.events.len(), again.write), (0, None));
}

#[test]
fn a_dead_essential_container_takes_the_instance_out_in_the_same_pass() {
    let e = env("v1", 2, EnvStatus::Ready);
    let mut dead = inst("i-b", "v1", 2);
    dead.containers = Some(vec![ContainerObservation {
        name: "web".into(),
        essential: true,
        state: Some(ObservedState::Exited { code: 137, oom: true }),
        memory_mib: None,
    }]);
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), dead]);
    i.serving = ["i-a".to_string(), "i-b".to_string()].into();
    let plan = plan_pass(&i, &passed(&["i-a", "i-b"]));
    assert_eq!(routed(&plan), ["i-a"]);
    assert_eq!(plan.retire.len(), 1);
    assert_eq!((plan.retire[0].id.as_str(), plan.retire[0].drain), ("i-b", false));
    assert!(matches!(&plan.events[0], Event::InstanceUnhealthy { reason, .. } if reason.contains("OOM")));
    assert_eq!(plan.launch, ["v1"], "replaced at once");
    assert!(!plan.memory.checks.contains_key("i-b") && !plan.memory.announced.contains("i-b"));
    assert_eq!(plan.memory.failures, 0, "it had served: not a failed launch");
}

#[test]
fn an_instance_stopped_by_a_drained_node_is_replaced_without_an_alert() {
    let e = env("v1", 2, EnvStatus::Ready);
    let mut stopped = inst("i-b", "v1", 2);
    stopped.containers = Some(vec![ContainerObservation {
        name: "web".into(),
        essential: true,
        state: Some(ObservedState::Exited { code: 0, oom: false }),
        memory_mib: None,
    }]);
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), stopped.clone()]);
    i.serving = ["i-a".to_string(), "i-b".to_string()].into();
    i.on_drained_nodes = ["i-b".to_string()].into();
    let plan = plan_pass(&i, &passed(&["i-a", "i-b"]));
    assert_eq!(routed(&plan), ["i-a"]);
    assert_eq!(plan.retire, [Retirement { id: "i-b".into(), reason: RetireReason::NodeDrained, drain: false }]);
    assert!(
        !plan.events.iter().any(|e| matches!(e, Event::InstanceUnhealthy { .. } | Event::CrashLoop { .. })),
        "{:?}",
        plan.events
    );
    assert_eq!(plan.launch, ["v1"], "replaced at once");
    let status = plan.snapshot.as_ref().unwrap().status;
    assert!(!matches!(status, HealthStatus::Degraded | HealthStatus::Severe), "no health alert: {status:?}");
    // The same instance on an active node is a loss nobody planned.
    i.on_drained_nodes.clear();
    let plan = plan_pass(&i, &passed(&["i-a", "i-b"]));
    assert!(matches!(&plan.events[0], Event::InstanceUnhealthy { instance, .. } if instance == "i-b"));
}

#[test]
fn an_instance_that_never_served_backs_off_launches() {
    let e = env("v1", 1, EnvStatus::Launching);
    let mut bad = inst("i-a", "v1", 1);
    bad.containers = Some(vec![ContainerObservation {
        name: "web".into(),
        essential: true,
        state: Some(ObservedState::Exited { code: 1, oom: false }),
        memory_mib: None,
    }]);
    let plan = plan_pass(&input(Some(&e), vec![bad]), &Memory::default());
    assert_eq!(plan.memory.failures, 1);
    assert_eq!(plan.memory.backoff_until, Some(at(102)));
    // Its replacement was planned with it; launches after that wait out the back-off.
    assert_eq!(plan.launch, ["v1"]);
}

fn launch_failed(events: &[Event]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::LaunchFailed { error, retry_in_s, .. } => Some((error.clone(), *retry_in_s)),
            _ => None,
        })
        .collect()
}

#[test]
fn launch_failures_are_said_with_their_back_off_and_nothing_launches_meanwhile() {
    let e = env("v1", 1, EnvStatus::Launching);
    let mut i = input(Some(&e), Vec::new());
    i.launch_failures = vec![("i-x".into(), "no such image".into()), ("i-y".into(), "no such image".into())];
    let plan = plan_pass(&i, &Memory::default());
    // Both back off; the second, the same failure again, is counted rather than said.
    assert_eq!(launch_failed(&plan.events), [("no such image".to_string(), 2)]);
    assert_eq!(plan.memory.backoff_until, Some(at(104)));
    assert_eq!(plan.launch_failures_noted, 2);
    assert!(plan.launch.is_empty());
    let mut later = input(Some(&e), Vec::new());
    later.now = at(105);
    assert_eq!(plan_pass(&later, &plan.memory).launch, ["v1"]);
}

#[test]
fn a_launch_failing_again_and_again_is_one_event_and_a_cause_until_an_instance_serves() {
    const FULL: &str = "the instance network pool 100.80.0.0/27 is full: all 2 subnets of /28 are in use";
    let e = env("v1", 2, EnvStatus::Ready);
    let mut memory = passed(&["i-a"]);
    let mut said = Vec::new();
    for (n, t) in [(1, 100), (2, 103), (3, 108)] {
        let mut i = input(Some(&e), vec![inst("i-a", "v1", 1)]);
        i.now = at(t);
        i.launch_failures = vec![(format!("i-{n}"), FULL.to_string())];
        let plan = plan_pass(&i, &memory);
        said.extend(launch_failed(&plan.events));
        memory = plan.memory;
        let snapshot = plan.snapshot.unwrap();
        let cause = snapshot.causes.iter().find(|c| c.starts_with("instances fail to launch")).unwrap();
        assert!(cause.contains(FULL), "{cause}");
        if n == 3 {
            assert!(cause.starts_with("instances fail to launch (3 times since"), "{cause}");
            assert_eq!(snapshot.status.worst(HealthStatus::Degraded), snapshot.status);
        }
    }
    assert_eq!(said, [(FULL.to_string(), 2)]);
    // A subnet came free: the next launch serves, and the run is said with its count.
    let mut fresh = inst("i-4", "v1", 2);
    fresh.launched_at = at(120).timestamp();
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), fresh]);
    i.now = at(130);
    memory.checks.insert("i-4".into(), passed(&["i-4"]).checks["i-4"].clone());
    let plan = plan_pass(&i, &memory);
    assert!(
        plan.events.contains(&Event::LaunchFailuresEnded { error: FULL.into(), failures: 3, over_s: 8 }),
        "{:?}",
        plan.events
    );
    assert!(!plan.snapshot.unwrap().causes.iter().any(|c| c.contains("fail to launch")));
}

#[test]
fn a_launching_instance_is_neither_judged_nor_retired_and_the_pass_waits_for_it() {
    let e = env("v1", 1, EnvStatus::Launching);
    let mut half = inst("i-a", "v1", 1);
    half.containers =
        Some(vec![ContainerObservation { name: "web".into(), essential: true, state: None, memory_mib: None }]);
    let mut i = input(Some(&e), vec![half]);
    i.launching.insert(
        "i-a".into(),
        LaunchInFlight { key: "v1".into(), launched_at: at(99).timestamp(), stopped: false, ordered_at: at(99) },
    );
    let plan = plan_pass(&i, &Memory::default());
    assert!(plan.retire.is_empty() && plan.launch.is_empty());
    assert!(routed(&plan).is_empty());
    assert_eq!(plan.next, Next::After(Duration::from_millis(500)));
}

#[test]
fn a_started_instance_waiting_for_its_first_check_is_looked_at_rapidly() {
    let e = env("v1", 1, EnvStatus::Launching);
    let plan = plan_pass(&input(Some(&e), vec![inst("i-a", "v1", 1)]), &Memory::default());
    assert!(routed(&plan).is_empty());
    assert_eq!(plan.next, Next::After(STARTING_PROBE_EVERY));
}

#[test]
fn a_deploy_starts_a_batch_and_records_it_in_one_write() {
    let mut e = env("v2", 2, EnvStatus::Updating);
    e.deploy_deadline = Some(at(600));
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), inst("i-b", "v1", 2)]);
    i.serving = ["i-a".to_string(), "i-b".to_string()].into();
    let plan = plan_pass(&i, &passed(&["i-a", "i-b"]));
    assert_eq!(routed(&plan), ["i-a", "i-b"], "the old version serves until the new is healthy");
    assert_eq!(plan.launch, ["v2"]);
    assert!(matches!(&plan.events[..], [Event::DeployBatchStarted { batch: 1, .. }]));
    let Some(Write::Update(written)) = &plan.write else { panic!("expected a write") };
    let state = crate::batches::DeployState::read(written).unwrap();
    assert_eq!((state.batch, state.to_version.as_str()), (1, "v2"));
}

#[test]
fn an_overrun_deploy_rolls_back_and_says_why() {
    let mut e = env("v2", 1, EnvStatus::Updating);
    e.deploy_deadline = Some(at(50));
    let mut failing = inst("i-new", "v2", 2);
    failing.launched_at = at(90).timestamp();
    let mut memory = passed(&["i-old"]);
    let mut c = InstanceChecks::default();
    c.note_probe(Err("GET / returned 500".into()), &HealthOptions::default(), at(99));
    memory.checks.insert("i-new".into(), c);
    let plan = plan_pass(&input(Some(&e), vec![inst("i-old", "v1", 1), failing]), &memory);
    let Some(Write::Update(written)) = &plan.write else { panic!("expected a write") };
    assert_eq!((written.version_label.as_str(), written.status), ("v1", EnvStatus::Updating));
    assert!(plan.events.iter().any(|e| matches!(e, Event::DeployFailed { rollback_to: Some(v), .. } if v == "v1")));
}

#[test]
fn a_warm_pool_waits_out_of_rotation() {
    let mut e = env("v1", 1, EnvStatus::Ready);
    e.options.scaling.warm_pool = 1;
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), inst("i-b", "v1", 2)]);
    i.serving = ["i-b".to_string()].into();
    let plan = plan_pass(&i, &passed(&["i-a", "i-b"]));
    assert_eq!(routed(&plan), ["i-b"], "the one serving keeps serving");
    let snapshot = plan.snapshot.unwrap();
    let warm = snapshot.instances.iter().find(|v| v.id == "i-a").unwrap();
    assert_eq!(warm.status, HealthStatus::Info);
    assert!(warm.causes[0].starts_with("warm pool"));
}

#[test]
fn a_terminated_environment_is_deleted_once_nothing_is_left_and_the_controller_ends() {
    let e = env("v1", 0, EnvStatus::Terminating);
    let plan = plan_pass(&input(Some(&e), Vec::new()), &Memory::default());
    assert_eq!((plan.write, plan.route, plan.next), (Some(Write::Delete), Some(RouteChange::Remove), Next::Done));
    assert_eq!(plan.events, [Event::EnvironmentTerminated]);
    let mut still_retiring = input(Some(&e), Vec::new());
    still_retiring.retiring = 1;
    assert!(plan_pass(&still_retiring, &Memory::default()).write.is_none());
}

#[test]
fn a_deleted_environment_retires_what_is_left_and_holds_nothing() {
    let plan = plan_pass(&input(None, vec![inst("i-a", "v1", 1)]), &passed(&["i-a"]));
    assert_eq!(plan.route, Some(RouteChange::Refuse));
    assert_eq!(plan.retire, [Retirement { id: "i-a".into(), reason: RetireReason::Terminate, drain: true }]);
    assert_eq!(plan.next, Next::After(TERMINATING_EVERY));
}

#[test]
fn an_unreachable_engine_is_said_once_looked_at_less_often_and_judges_nothing() {
    let e = env("v1", 1, EnvStatus::Ready);
    let healthy = input(Some(&e), vec![inst("i-a", "v1", 1)]);
    let before = plan_pass(&healthy, &passed(&["i-a"]));
    let previous = before.snapshot.clone().unwrap();
    let mut i = input(Some(&e), Vec::new());
    i.engine_error = Some("connection refused".into());
    i.previous = Some(&previous);
    let mut memory = before.memory.clone();
    let mut waits = Vec::new();
    let mut said = 0;
    let mut last = None;
    for _ in 0..6 {
        let plan = plan_pass(&i, &memory);
        said += plan.events.len();
        assert!(plan.route.is_none() && plan.retire.is_empty() && plan.launch.is_empty() && plan.write.is_none());
        waits.push(match plan.next {
            Next::After(d) => d.as_secs(),
            Next::Done => panic!("done"),
        });
        memory = plan.memory.clone();
        last = plan.snapshot;
    }
    assert_eq!(said, 1, "said once");
    assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
    let shown = last.unwrap();
    assert_eq!(shown.status, HealthStatus::Warning);
    assert_eq!(shown.causes.iter().filter(|c| c.starts_with("container engine unavailable")).count(), 1);
    assert_eq!(shown.instances, previous.instances, "instances keep their last verdicts");
    assert!(memory.checks.contains_key("i-a") && memory.announced.contains("i-a"), "nothing forgotten");
    // Back: the instance is adopted as it was, still in service.
    let back = plan_pass(&healthy, &memory);
    assert_eq!(routed(&back), ["i-a"]);
    assert!(back.retire.is_empty() && back.launch.is_empty());
    assert_eq!(back.memory.engine_retries, 0);
}

#[test]
fn an_unknown_version_is_replaced() {
    let e = env("v1", 1, EnvStatus::Ready);
    let mut stray = inst("i-a", "v0", 1);
    stray.containers = None;
    let plan = plan_pass(&input(Some(&e), vec![stray]), &Memory::default());
    assert!(
        matches!(&plan.retire[..], [Retirement { reason: RetireReason::Unhealthy(why), .. }] if why.contains("does not know"))
    );
}

proptest! {
    /// Planning again after applying a plan (its write, memory and route; launched instances
    /// come up healthy, retired ones go) settles: within a few passes a pass writes nothing,
    /// launches nothing and retires nothing.
    #[test]
    fn passes_settle(desired in 0u32..5, running in 0usize..6, warm in 0u32..3) {
        let mut e = env("v1", desired, EnvStatus::Ready);
        e.options.scaling.warm_pool = warm;
        let mut instances: Vec<SeenInstance> = (0..running).map(|n| inst(&format!("i-{n}"), "v1", 1000 + n as u16)).collect();
        let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
        let mut memory = passed(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        let mut serving = BTreeSet::new();
        let mut next_id = 100;
        for _ in 0..6 {
            let mut i = input(Some(&e), instances.clone());
            i.serving = serving.clone();
            let plan = plan_pass(&i, &memory);
            if let Some(Write::Update(w)) = &plan.write { e = (**w).clone(); }
            memory = plan.memory.clone();
            serving = routed(&plan).into_iter().collect();
            instances.retain(|i| !plan.retire.iter().any(|r| r.id == i.id));
            for _ in &plan.launch {
                next_id += 1;
                let id = format!("i-{next_id}");
                instances.push(inst(&id, "v1", next_id));
                let mut c = InstanceChecks::default();
                c.record = ProbeRecord { passed_once: true, consecutive_failures: 0, last_failure: None };
                memory.checks.insert(id, c);
            }
        }
        let mut i = input(Some(&e), instances.clone());
        i.serving = serving;
        let last = plan_pass(&i, &memory);
        prop_assert!(last.write.is_none() && last.launch.is_empty() && last.retire.is_empty());
        prop_assert_eq!(instances.len() as u32, desired + warm);
        prop_assert_eq!(routed(&last).len() as u32, desired);
    }
}

#[test]
fn a_crash_loop_holds_its_replacements_reads_degraded_and_ends_with_a_fixed_version() {
    let e = env("v1", 2, EnvStatus::Ready);
    let oom = |id: &str| {
        let mut dead = inst(id, "v1", 2);
        dead.containers = Some(vec![ContainerObservation {
            name: "hog".into(),
            essential: true,
            state: Some(ObservedState::Exited { code: 137, oom: true }),
            memory_mib: Some(16),
        }]);
        dead
    };
    let mut memory = passed(&["i-a"]);
    let mut launches = Vec::new();
    let mut unhealthy_events = 0;
    let mut loop_events = Vec::new();
    let mut plan = None;
    // Three instances die of the same cause 10 s apart, one instance keeps serving.
    for (n, id) in ["i-b", "i-c", "i-d"].into_iter().enumerate() {
        memory.announced.insert(id.to_string());
        let mut i = input(Some(&e), vec![inst("i-a", "v1", 1), oom(id)]);
        i.now = at(100 + 10 * n as i64);
        let p = plan_pass(&i, &memory);
        launches.push(p.launch.len());
        for event in &p.events {
            match event {
                Event::InstanceUnhealthy { .. } => unhealthy_events += 1,
                Event::CrashLoop { level, replacements, .. } => loop_events.push(format!("{level} {replacements}")),
                _ => {}
            }
        }
        assert_eq!(routed(&p), ["i-a"], "the healthy instance keeps serving");
        memory = p.memory.clone();
        plan = Some(p);
    }
    assert_eq!(launches, [1, 0, 0], "the first replacement is at once, the next ones wait");
    assert_eq!(unhealthy_events, 1, "one event per change of state, not one per replacement");
    assert_eq!(loop_events, ["Warning 2", "Degraded 3"]);
    let snapshot = plan.unwrap().snapshot.unwrap();
    assert_eq!(snapshot.status, HealthStatus::Degraded);
    assert!(
        snapshot
            .causes
            .iter()
            .any(|c| c.starts_with("instances replaced 3 times in 20 s: essential container hog killed")
                && c.contains("raise `memory` of container hog (now 16 MiB)")),
        "{:?}",
        snapshot.causes
    );

    // Still held 10 s later (20 s from the third); the fixed version v2 is not held.
    let mut i = input(Some(&e), vec![inst("i-a", "v1", 1)]);
    i.now = at(130);
    assert!(plan_pass(&i, &memory).launch.is_empty());
    let fixed = env("v2", 2, EnvStatus::Updating);
    let mut i = input(Some(&fixed), vec![inst("i-a", "v1", 1)]);
    i.now = at(130);
    let p = plan_pass(&i, &memory);
    assert!(!p.launch.is_empty(), "a deploy of another version launches at once");
    let mut i = input(Some(&fixed), vec![inst("i-a2", "v2", 3), inst("i-b2", "v2", 4)]);
    i.now = at(140);
    let p = plan_pass(&i, &passed(&["i-a2", "i-b2"]));
    assert!(p.events.iter().all(|e| !matches!(e, Event::CrashLoopEnded { .. })), "fresh memory: nothing to end");
    let mut remembered = passed(&["i-a2", "i-b2"]);
    remembered.crash_loops = memory.crash_loops.clone();
    let p = plan_pass(&i, &remembered);
    assert!(p.events.iter().any(|e| matches!(e, Event::CrashLoopEnded { replacements: 3, .. })), "{:?}", p.events);
    assert_eq!(p.snapshot.unwrap().status, HealthStatus::Ok);
}

#[test]
fn launches_wait_for_images_and_running_instances_stay() {
    // A deploy of v2 whose images are held back (the registry refused the credential): no old
    // instance is taken out, nothing is launched, and health says why until the images come.
    let e = env("v2", 3, EnvStatus::Updating);
    let old = vec![inst("a", "v1", 1), inst("b", "v1", 2), inst("c", "v1", 3)];
    let mut i = input(Some(&e), old.clone());
    let why = "registry 127.0.0.1:5000 refused the credential of user ci at 12:03:00 UTC; next try 12:04:00 UTC";
    i.images_waiting = Some(why.into());
    let plan = plan_pass(&i, &passed(&["a", "b", "c"]));
    assert!(plan.launch.is_empty(), "{:?}", plan.launch);
    assert!(plan.retire.is_empty(), "{:?}", plan.retire);
    let snapshot = plan.snapshot.unwrap();
    assert!(snapshot.causes.iter().any(|c| c.contains("refused the credential of user ci")), "{:?}", snapshot.causes);
    assert_eq!(snapshot.status, HealthStatus::Warning);
    assert_eq!(snapshot.instances.iter().filter(|v| v.in_service).count(), 3);

    // The images came: the deploy proceeds.
    let plan = plan_pass(&input(Some(&e), old), &passed(&["a", "b", "c"]));
    assert!(!plan.launch.is_empty());
}

fn stopped_inst(id: &str, version: &str) -> SeenInstance {
    let created = ContainerObservation {
        name: "web".into(),
        essential: true,
        state: Some(ObservedState::Created),
        memory_mib: None,
    };
    SeenInstance { started_at: None, containers: Some(vec![created]), address: None, ..inst(id, version, 0) }
}

fn stopped_pool(desired: u32) -> EnvironmentRecord {
    let mut e = env("v1", desired, EnvStatus::Ready);
    e.options.scaling.warm_pool = 1;
    e.options.scaling.warm_pool_state = sprout_model::scaling::WarmPoolState::Stopped;
    e.options.capacity.min = Some(0);
    e.options.capacity.max = Some(2);
    e
}

#[test]
fn a_stopped_warm_instance_waits_at_zero_and_is_started_on_a_wake() {
    let e = stopped_pool(0);
    let plan = plan_pass(&input(Some(&e), vec![stopped_inst("i-w", "v1")]), &Memory::default());
    assert!(plan.start.is_empty() && plan.launch.is_empty() && plan.retire.is_empty(), "{plan:?}");
    assert!(routed(&plan).is_empty());
    let snapshot = plan.snapshot.unwrap();
    assert_eq!(snapshot.causes[0], "scaled to zero, wakes on the next request");
    // Nothing serves: requests are held for a wake's worth, not the configured 3 s.
    let Some(RouteChange::Set { queue, .. }) = plan.route else { panic!() };
    assert!(queue.max_wait_ms > 3000);
    // Woken: the stopped one starts; the pool's replacement (created stopped) waits until the
    // woken one is up, so as not to slow the wake down (warm::defer_refill_while_waking).
    let e = stopped_pool(1);
    let plan = plan_pass(&input(Some(&e), vec![stopped_inst("i-w", "v1")]), &Memory::default());
    assert_eq!(plan.start, ["i-w"]);
    assert_eq!((plan.launch.len(), plan.stopped_launches), (0, 0));
    assert!(routed(&plan).is_empty(), "not in service before its health check");
}

#[test]
fn a_stopped_warm_instance_with_a_container_removed_is_replaced_not_started() {
    let e = stopped_pool(1);
    let mut gone = stopped_inst("i-w", "v1");
    gone.containers.as_mut().unwrap()[0].state = None;
    let plan = plan_pass(&input(Some(&e), vec![gone]), &Memory::default());
    assert!(plan.start.is_empty());
    assert_eq!(plan.retire.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["i-w"]);
    // One launch serves (started), the other refills the pool (stopped); no back-off.
    assert_eq!((plan.launch.len(), plan.stopped_launches), (2, 1));
    assert!(plan.memory.backoff_until.is_none());
}

#[test]
fn a_stopped_warm_instance_of_an_old_version_is_replaced() {
    let mut e = stopped_pool(0);
    e.version_label = "v2".into();
    let mut i = input(Some(&e), vec![stopped_inst("i-w", "v1")]);
    i.desired_key = "v2".into();
    let plan = plan_pass(&i, &Memory::default());
    assert!(plan.start.is_empty());
    assert_eq!((plan.launch.as_slice(), plan.stopped_launches), (&["v2".to_string()][..], 1));
}
