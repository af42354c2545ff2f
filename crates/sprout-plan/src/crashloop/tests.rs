use super::*;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn oom() -> Cause {
    let hog = ContainerObservation {
        name: "hog".into(),
        essential: true,
        state: Some(ObservedState::Exited { code: 137, oom: true }),
        memory_mib: Some(16),
    };
    Cause::of(Some(&[hog]), "essential container hog was killed for lack of memory (OOM, limit 16 MiB)")
}

#[test]
fn the_cause_says_what_and_what_to_do() {
    let c = oom();
    assert_eq!(c.key, "oom:hog");
    assert_eq!(c.words, "essential container hog killed for lack of memory (OOM, limit 16 MiB)");
    assert!(c.advice.contains("raise `memory` of container hog (now 16 MiB)"), "{}", c.advice);
    let exited = ContainerObservation {
        name: "app".into(),
        essential: true,
        state: Some(ObservedState::Exited { code: 3, oom: false }),
        memory_mib: None,
    };
    let c = Cause::of(Some(&[exited]), "essential container app exited with code 3");
    assert_eq!(c.key, "exit:app:3");
    assert!(c.advice.contains("sprout logs ENV --container app"));
    let c = Cause::of(None, "failed 3 consecutive health checks: GET / returned 500");
    assert_eq!(c.words, "failed 3 consecutive health checks: GET / returned 500");
}

#[test]
fn replacements_back_off_from_10_s_doubling_to_5_min() {
    let mut loops = CrashLoops::default();
    let mut waits = Vec::new();
    let mut now = at(0);
    for _ in 0..9 {
        loops.note("v1", oom(), now);
        let until = loops.held_until("v1", now).unwrap_or(now);
        waits.push((until - now).num_seconds());
        // The replacement launches once the hold ends and dies 8 s later.
        now = until + chrono::Duration::seconds(8);
    }
    assert_eq!(waits, [0, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(loops.held_until("v2", at(20)), None, "another version is never held");
}

#[test]
fn one_event_per_change_of_level_with_the_count() {
    let mut loops = CrashLoops::default();
    let said: Vec<Option<String>> = (0..7)
        .map(|i| {
            loops.note("v1", oom(), at(i * 10)).map(|e| match e {
                Event::CrashLoop { level, replacements, .. } => format!("{level} {replacements}"),
                other => panic!("{other:?}"),
            })
        })
        .collect();
    assert_eq!(
        said,
        [None, Some("Warning 2".into()), Some("Degraded 3".into()), None, None, Some("Severe 6".into()), None]
    );
    let (status, causes) = loops.judge(at(60));
    assert_eq!(status, HealthStatus::Severe);
    assert_eq!(causes.len(), 1);
    assert!(
        causes[0].starts_with(
            "instances replaced 7 times in 60 s: essential container hog killed for lack of memory (OOM, limit 16 MiB)"
        ),
        "{}",
        causes[0]
    );
}

#[test]
fn a_loop_ends_once_its_cause_stays_away_or_its_version_leaves() {
    let mut loops = CrashLoops::default();
    loops.note("v1", oom(), at(0));
    loops.note("v1", oom(), at(8));
    // Held until 18; quiet from 78.
    assert!(loops.expire("v1", &["v1"], at(77)).is_empty());
    assert_eq!(loops.judge(at(77)).0, HealthStatus::Warning);
    let ended = loops.expire("v1", &["v1"], at(78));
    assert!(matches!(&ended[..], [Event::CrashLoopEnded { replacements: 2, .. }]), "{ended:?}");
    assert_eq!(loops.judge(at(78)).0, HealthStatus::Ok);
    // The same cause after the quiet period starts afresh: replaced at once.
    loops.note("v1", oom(), at(100));
    assert_eq!(loops.held_until("v1", at(100)), None);

    let mut loops = CrashLoops::default();
    for i in 0..3 {
        loops.note("v1", oom(), at(i));
    }
    assert!(loops.expire("v2", &["v1"], at(5)).is_empty(), "instances of v1 still run");
    assert_eq!(loops.expire("v2", &["v2"], at(6)).len(), 1, "a fixed version deployed ends the loop");
    assert_eq!(loops.judge(at(6)).0, HealthStatus::Ok);
}

#[test]
fn a_single_replacement_is_no_loop() {
    let mut loops = CrashLoops::default();
    assert_eq!(loops.note("v1", oom(), at(0)), None);
    assert_eq!(loops.judge(at(1)), (HealthStatus::Ok, Vec::new()));
    assert!(loops.expire("v1", &["v1"], at(60)).is_empty(), "nothing to say when it ends");
}

#[test]
fn instances_that_die_together_are_one_round() {
    let mut loops = CrashLoops::default();
    // Ten instances started together die together, seen over two passes: replaced at once, no
    // loop yet.
    for i in 0..10 {
        let now = at(0) + chrono::Duration::milliseconds(i * 150);
        assert!(!loops.is_looping("oom:hog", now));
        assert_eq!(loops.note("v1", oom(), now), None);
    }
    assert_eq!(loops.held_until("v1", at(2)), None);
    assert_eq!(loops.judge(at(0)).0, HealthStatus::Ok);
    // Their replacements die together 8 s later: the second round, Warning, 10 s back-off.
    assert!(loops.is_looping("oom:hog", at(8)));
    let said = loops.note("v1", oom(), at(8));
    assert!(matches!(said, Some(Event::CrashLoop { replacements: 11, retry_in_s: 10, .. })), "{said:?}");
    for _ in 0..9 {
        assert_eq!(loops.note("v1", oom(), at(8)), None);
    }
    assert_eq!(loops.held_until("v1", at(8)), Some(at(18)));
    let (status, causes) = loops.judge(at(8));
    assert_eq!(status, HealthStatus::Warning);
    assert!(causes[0].starts_with("instances replaced 20 times in 8 s"), "{causes:?}");
    // A third strike 10 s later is the third round.
    assert!(matches!(loops.note("v1", oom(), at(18)), Some(Event::CrashLoop { retry_in_s: 20, .. })));
}
