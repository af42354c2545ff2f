//! Table tests for the release step: started once, waited for, judged by exit code, timed out,
//! started again only when its command cannot have run, and what a failure does to the deploy.

use super::*;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn task() -> ReleaseTask {
    ReleaseTask { container: "app".into(), command: vec!["rake".into(), "db:migrate".into()], timeout_s: 60 }
}

/// `prod` deploying v2 over v1 (good), with the run in `phase`.
fn deploying(phase: ReleasePhase, good: Option<&str>) -> EnvironmentRecord {
    let mut env = EnvironmentRecord {
        status: EnvStatus::Updating,
        last_good_version: good.map(String::from),
        revision: 4,
        ..EnvironmentRecord::launching("shop", "prod", "v2", 2, at(0))
    };
    let mut run = ReleaseRun::new("r-1".into(), "v2".into(), task());
    run.phase = phase;
    env = with_run(&env, run, at(0));
    env
}

fn input(env: &EnvironmentRecord, seen: Option<TaskSeen>, now: i64) -> ReleaseInput<'_> {
    let on_engine = if seen.is_some() { vec!["r-1".to_string()] } else { Vec::new() };
    ReleaseInput { env, seen, tail: String::new(), launching: false, launch_error: None, on_engine, now: at(now) }
}

fn phase(env: &EnvironmentRecord) -> ReleasePhase {
    ReleaseRun::read(env).unwrap().phase
}

fn running() -> ReleasePhase {
    ReleasePhase::Running { started_at: at(10) }
}

#[test]
fn a_pending_task_is_marked_running_and_started_once() {
    let env = deploying(ReleasePhase::Pending, Some("v1"));
    let plan = plan_release(&input(&env, None, 10));
    let written = plan.write.expect("marked running before its instance exists");
    assert_eq!(phase(&written), ReleasePhase::Running { started_at: at(10) });
    assert_eq!(plan.start.map(|r| r.instance), Some("r-1".to_string()));
    assert!(plan.gate.is_some() && plan.remove.is_empty());
    assert!(matches!(plan.events[..], [Event::ReleaseTaskStarted { .. }]));

    // Once running, launched or not yet shown, nothing starts again while its launch is in
    // flight or its container runs.
    let mut i = input(&written, None, 11);
    i.launching = true;
    let plan = plan_release(&i);
    assert!(plan.start.is_none() && plan.write.is_none() && plan.gate.is_some(), "{plan:?}");
    for seen in [TaskSeen::Running, TaskSeen::Other("restarting".into())] {
        let plan = plan_release(&input(&written, Some(seen), 20));
        assert!(plan.start.is_none() && plan.write.is_none() && plan.remove.is_empty(), "{plan:?}");
        assert!(plan.gate.is_some());
    }
}

#[test]
fn exit_zero_lets_the_deploy_go_on_and_removes_the_instance() {
    let env = deploying(running(), Some("v1"));
    assert!(needs_tail(&env, Some(&TaskSeen::Exited { code: 0, oom: false }), at(20)));
    let plan = plan_release(&input(&env, Some(TaskSeen::Exited { code: 0, oom: false }), 20));
    let written = plan.write.unwrap();
    assert_eq!(phase(&written), ReleasePhase::Succeeded { started_at: at(10), finished_at: at(20) });
    assert_eq!((written.version_label.as_str(), written.status), ("v2", EnvStatus::Updating));
    assert_eq!(plan.gate, None);
    assert_eq!(plan.remove, vec!["r-1".to_string()]);
    assert!(matches!(plan.events[..], [Event::ReleaseTaskSucceeded { seconds: 10, .. }]));
    // Later passes: nothing waits, nothing runs again.
    let plan = plan_release(&input(&written, None, 30));
    assert_eq!(plan, ReleasePlan::default());
}

#[test]
fn a_failure_rolls_back_to_the_serving_version_with_the_last_lines() {
    let env = deploying(running(), Some("v1"));
    let mut i = input(&env, Some(TaskSeen::Exited { code: 3, oom: false }), 20);
    i.tail = (1..=30).map(|n| format!("line {n}\n")).collect();
    let plan = plan_release(&i);
    let written = plan.write.unwrap();
    assert_eq!(written.version_label, "v1", "back on the version that serves");
    assert!(written.last_error.as_deref().unwrap().contains("release task failed: exit code 3"));
    match &plan.events[..] {
        [Event::ReleaseTaskFailed { reason, tail, .. }, Event::DeployFailed { rollback_to, .. }] => {
            assert_eq!(reason, "exit code 3");
            assert_eq!(tail.lines().count(), TAIL_LINES);
            assert!(tail.ends_with("line 30") && tail.starts_with("line 11"), "{tail}");
            assert_eq!(rollback_to.as_deref(), Some("v1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(plan.gate, None, "v1's instances may be replaced as ever");
    assert_eq!(plan.remove, vec!["r-1".to_string()]);
    // The rolled-back environment has no run for its version: its leftovers go.
    let plan = plan_release(&input(&written, Some(TaskSeen::Exited { code: 3, oom: false }), 21));
    assert_eq!((plan.remove, plan.gate, plan.write), (vec!["r-1".to_string()], None, None));
}

#[test]
fn a_first_deploy_that_fails_keeps_its_launches_waiting() {
    let env = deploying(running(), None);
    let plan = plan_release(&input(&env, Some(TaskSeen::Exited { code: 1, oom: true }), 20));
    let written = plan.write.unwrap();
    assert_eq!((written.version_label.as_str(), written.status), ("v2", EnvStatus::Ready));
    assert!(matches!(phase(&written), ReleasePhase::Failed { exit_code: Some(1), .. }));
    assert!(plan.gate.as_deref().unwrap().contains("out of memory"), "{:?}", plan.gate);
    let later = plan_release(&input(&written, None, 30));
    assert!(later.gate.is_some() && later.start.is_none() && later.write.is_none());
}

#[test]
fn a_task_past_its_timeout_fails_and_is_removed() {
    let env = deploying(running(), Some("v1"));
    assert!(!needs_tail(&env, Some(&TaskSeen::Running), at(70)));
    assert!(needs_tail(&env, Some(&TaskSeen::Running), at(71)));
    let plan = plan_release(&input(&env, Some(TaskSeen::Running), 70));
    assert!(plan.write.is_none());
    let plan = plan_release(&input(&env, Some(TaskSeen::Running), 71));
    assert!(matches!(&plan.events[0], Event::ReleaseTaskFailed { reason, .. } if reason == "timed out after 60 s"));
    assert_eq!(plan.write.unwrap().version_label, "v1");
    assert_eq!(plan.remove, vec!["r-1".to_string()]);
}

#[test]
fn only_a_task_that_cannot_have_run_is_started_again() {
    let env = deploying(running(), Some("v1"));
    // Nothing on the engine and no launch in flight: the server stopped before creating it.
    let plan = plan_release(&input(&env, None, 20));
    assert_eq!(plan.start.map(|r| r.instance), Some("r-1".to_string()));
    assert!(plan.write.is_none() && plan.events.is_empty(), "same run, nothing new said");
    // Created, never started: the same.
    let plan = plan_release(&input(&env, Some(TaskSeen::Created), 20));
    assert!(plan.start.is_some() && plan.remove.is_empty());
    // A launch that failed is the task's failure.
    let mut i = input(&env, None, 20);
    i.launch_error = Some("image app:v2 is not present".into());
    let plan = plan_release(&i);
    assert!(plan.start.is_none());
    assert!(matches!(&plan.events[0], Event::ReleaseTaskFailed { reason, .. } if reason.contains("not present")));
}

#[test]
fn leftovers_of_other_runs_go_and_a_terminating_environment_waits_for_nothing() {
    let env = deploying(running(), Some("v1"));
    let mut i = input(&env, Some(TaskSeen::Running), 20);
    i.on_engine = vec!["r-0".into(), "r-1".into()];
    assert_eq!(plan_release(&i).remove, vec!["r-0".to_string()]);
    let terminating = EnvironmentRecord { status: EnvStatus::Terminating, ..env.clone() };
    let mut i = input(&terminating, Some(TaskSeen::Running), 20);
    i.on_engine = vec!["r-1".into()];
    let plan = plan_release(&i);
    assert_eq!((plan.remove, plan.gate, plan.start), (vec!["r-1".to_string()], None, None));
    // An environment without a run has nothing to wait for.
    let plain = EnvironmentRecord::launching("shop", "prod", "v1", 1, at(0));
    assert_eq!(plan_release(&input(&plain, None, 5)), ReleasePlan::default());
}
