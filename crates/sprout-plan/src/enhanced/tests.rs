//! Table tests for enhanced health: instance and environment statuses and their causes.

use super::*;

fn traffic(requests: u64, status_5xx: u64) -> Traffic {
    Traffic { requests, status_5xx, window_s: 10 }
}

fn failing(n: u32, why: &str) -> CheckFacts {
    CheckFacts { failing: n, last_failure: Some(why.into()), recovering: None }
}

#[test]
fn instance_statuses() {
    let ok = CheckFacts::default();
    let cases: Vec<(&str, InstanceHealth, CheckFacts, Traffic, HealthStatus, &str)> = vec![
        ("quiet and passing", InstanceHealth::Healthy, ok.clone(), traffic(0, 0), HealthStatus::Ok, ""),
        ("few requests say nothing", InstanceHealth::Healthy, ok.clone(), traffic(10, 10), HealthStatus::Ok, ""),
        (
            "mostly 5xx",
            InstanceHealth::Healthy,
            ok.clone(),
            traffic(40, 30),
            HealthStatus::Degraded,
            "75% of requests failed with 5xx over the last 10 s",
        ),
        (
            "some 5xx",
            InstanceHealth::Healthy,
            ok.clone(),
            traffic(100, 12),
            HealthStatus::Warning,
            "12% of requests failed with 5xx",
        ),
        (
            "failing checks",
            InstanceHealth::Healthy,
            failing(2, "GET / returned 500"),
            traffic(0, 0),
            HealthStatus::Warning,
            "failed the last 2 health check(s): GET / returned 500",
        ),
        (
            "recovering",
            InstanceHealth::Healthy,
            CheckFacts { recovering: Some((1, 3)), ..ok.clone() },
            traffic(0, 0),
            HealthStatus::Warning,
            "1 of 3 health checks passed",
        ),
        (
            "recovered",
            InstanceHealth::Healthy,
            CheckFacts { recovering: Some((3, 3)), ..ok.clone() },
            traffic(0, 0),
            HealthStatus::Ok,
            "",
        ),
        (
            "starting",
            InstanceHealth::Pending,
            failing(1, "connection refused"),
            traffic(0, 0),
            HealthStatus::Pending,
            "waiting for its first passing health check: connection refused",
        ),
        (
            "to be replaced",
            InstanceHealth::Unhealthy("essential container app exited with code 1".into()),
            ok.clone(),
            traffic(0, 0),
            HealthStatus::Severe,
            "exited with code 1",
        ),
        (
            "replaced beats 5xx",
            InstanceHealth::Unhealthy("x".into()),
            ok,
            traffic(40, 40),
            HealthStatus::Severe,
            "100% of requests",
        ),
    ];
    for (name, health, checks, traffic, want, cause) in cases {
        let (status, causes) = judge_instance_status(&health, &checks, traffic);
        assert_eq!(status, want, "{name}: {causes:?}");
        if cause.is_empty() {
            assert!(causes.is_empty(), "{name}: {causes:?}");
        } else {
            assert!(causes.iter().any(|c| c.contains(cause)), "{name}: {causes:?} lacks {cause:?}");
        }
    }
}

fn view(id: &str, health: InstanceHealth, in_service: bool, failing_check: Option<&str>) -> InstanceView {
    InstanceView {
        id: id.into(),
        version: "v1".into(),
        health,
        in_service,
        address: None,
        launched_at: 0,
        containers: vec![],
        status: HealthStatus::Ok,
        causes: vec![],
        failing_check: failing_check.map(String::from),
    }
}

#[test]
fn environment_statuses() {
    let up = |id| view(id, InstanceHealth::Healthy, true, None);
    let bad = |id| view(id, InstanceHealth::Healthy, true, Some("GET / returned 500"));
    let starting = |id| view(id, InstanceHealth::Pending, false, None);
    // (case, instances, desired, traffic, status, colour, a cause contains)
    type Case<'a> = (&'a str, Vec<InstanceView>, u32, Traffic, HealthStatus, Colour, &'a str);
    let cases: Vec<Case> = vec![
        ("all fine", vec![up("a"), up("b")], 2, traffic(100, 0), HealthStatus::Ok, Colour::Green, ""),
        (
            "launching",
            vec![starting("a")],
            1,
            traffic(0, 0),
            HealthStatus::Pending,
            Colour::Grey,
            "1 instance(s) starting, none in service yet",
        ),
        (
            "nothing in service",
            vec![view("a", InstanceHealth::Unhealthy("boom".into()), false, None)],
            1,
            traffic(0, 0),
            HealthStatus::Severe,
            Colour::Red,
            "none of 1 instance(s) in service",
        ),
        (
            "two of three failing",
            vec![bad("a"), bad("b"), up("c")],
            3,
            traffic(0, 0),
            HealthStatus::Degraded,
            Colour::Red,
            "2 of 3 instance(s) failing health checks: GET / returned 500",
        ),
        (
            "one of three failing",
            vec![bad("a"), up("b"), up("c")],
            3,
            traffic(0, 0),
            HealthStatus::Warning,
            Colour::Yellow,
            "1 of 3 instance(s) failing",
        ),
        (
            "short of desired",
            vec![up("a")],
            2,
            traffic(0, 0),
            HealthStatus::Warning,
            Colour::Yellow,
            "1 of 2 instance(s) in service",
        ),
        (
            "12% 5xx",
            vec![up("a")],
            1,
            traffic(100, 12),
            HealthStatus::Degraded,
            Colour::Red,
            "12% of requests failed with 5xx over the last 10 s",
        ),
        (
            "scaling out",
            vec![up("a"), starting("b")],
            1,
            traffic(0, 0),
            HealthStatus::Info,
            Colour::Green,
            "1 instance(s) starting",
        ),
        ("stopped", vec![], 0, traffic(0, 0), HealthStatus::Suspended, Colour::Grey, "desired count 0"),
    ];
    for (name, instances, desired, traffic, want, colour, cause) in cases {
        let (status, got_colour, causes) = judge_environment_status(&instances, desired, "v1", traffic);
        assert_eq!((status, got_colour), (want, colour), "{name}: {causes:?}");
        if cause.is_empty() {
            assert!(causes.is_empty(), "{name}: {causes:?}");
        } else {
            assert!(causes.iter().any(|c| c.contains(cause)), "{name}: {causes:?} lacks {cause:?}");
        }
    }
}
