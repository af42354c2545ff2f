//! The alert planner: planned changes never alert; one incident is one alert and one resolved.

use super::*;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn health(status: HealthStatus, instances: usize, in_service: usize) -> HealthView {
    HealthView { status, deploying: false, causes: vec![], instances, in_service }
}

fn alerts(notices: &[Notice]) -> Vec<&Notice> {
    notices.iter().filter(|n| n.severity.is_alert()).collect()
}

#[test]
fn scale_out_and_in_cycles_never_alert() {
    let mut mem = AlertMemory::default();
    let mut all = Vec::new();
    for cycle in 0..100 {
        let s = cycle * 10;
        let out = Event::ScalingDecision { from: 1, to: 2, reason: "sprout scale".into() };
        all.extend(on_event(&mut mem, &out, false, t(s)));
        all.extend(on_health(&mut mem, &health(HealthStatus::Info, 2, 1), t(s + 1)));
        all.extend(on_event(
            &mut mem,
            &Event::InstanceLaunched { instance: "i-2".into(), version: "v".into() },
            false,
            t(s + 2),
        ));
        all.extend(on_health(&mut mem, &health(HealthStatus::Pending, 2, 1), t(s + 2)));
        all.extend(on_event(
            &mut mem,
            &Event::InstanceInService { instance: "i-2".into(), address: "a".into() },
            false,
            t(s + 3),
        ));
        all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 2, 2), t(s + 4)));
        let back = Event::ScalingDecision { from: 2, to: 1, reason: "sprout scale".into() };
        all.extend(on_event(&mut mem, &back, false, t(s + 5)));
        all.extend(on_event(
            &mut mem,
            &Event::InstanceRetired { instance: "i-2".into(), reason: "scale-in".into() },
            false,
            t(s + 6),
        ));
        all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(s + 7)));
    }
    assert!(alerts(&all).is_empty(), "{:?}", alerts(&all));
    assert_eq!(all.iter().filter(|n| n.kind == "InstanceRetired").count(), 100, "info for --events all");
    assert!(mem.incidents.is_empty());
}

#[test]
fn an_instance_lost_and_the_degraded_health_it_causes_are_one_alert_and_one_resolved() {
    let mut mem = AlertMemory::default();
    let lost =
        Event::InstanceUnhealthy { instance: "i-1".into(), reason: "essential container app exited (137)".into() };
    let mut all = on_event(&mut mem, &lost, false, t(0));
    assert!(all.is_empty(), "held for the grace");
    let mut degraded = health(HealthStatus::Degraded, 1, 0);
    degraded.causes = vec!["0 of 1 instances in service".into()];
    for s in 1..10 {
        all.extend(on_health(&mut mem, &degraded, t(s)));
    }
    let sent = alerts(&all);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].severity, Severity::Warning);
    assert!(
        sent[0].message.contains("Instance i-1") && sent[0].message.contains("exited (137)"),
        "{}",
        sent[0].message
    );
    assert!(sent[0].message.contains("Degraded"), "names both: {}", sent[0].message);
    // Health Ok before the replacement is in service: not yet.
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(11)));
    assert_eq!(alerts(&all).len(), 1);
    all.extend(on_event(
        &mut mem,
        &Event::InstanceInService { instance: "i-2".into(), address: "a".into() },
        false,
        t(12),
    ));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(13)));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(14)));
    let sent = alerts(&all);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].severity, Severity::Resolved);
    assert!(sent[1].message.contains("Resolved after 13 s"), "{}", sent[1].message);
    assert!(mem.incidents.is_empty());
}

#[test]
fn repeats_while_open_are_counted_not_sent() {
    let mut mem = AlertMemory::default();
    let mut all = Vec::new();
    for s in 0..5 {
        let lost = Event::InstanceUnhealthy { instance: format!("i-{s}"), reason: "OOM".into() };
        all.extend(on_event(&mut mem, &lost, false, t(s * 2)));
        all.extend(on_health(&mut mem, &health(HealthStatus::Severe, 1, 0), t(s * 2 + 1)));
    }
    let sent = alerts(&all);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].severity, Severity::Critical, "Severe health makes it critical");
    assert!(mem.incidents["availability"].count >= 10);
    // Five lost, one replaced: the fallback resolves once health has been clear for a minute.
    on_event(&mut mem, &Event::InstanceInService { instance: "i-9".into(), address: "a".into() }, false, t(20));
    assert!(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(21)).is_empty());
    assert!(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(60)).is_empty());
    let end = on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(81));
    assert_eq!(end.len(), 1);
    assert!(end[0].message.contains("signals folded"), "{}", end[0].message);
}

#[test]
fn a_failed_deploy_alerts_at_once_and_resolves_when_ready() {
    let mut mem = AlertMemory::default();
    let failed = Event::DeployFailed {
        version: "v2".into(),
        reason: "batch 1 unhealthy".into(),
        rollback_to: Some("v1".into()),
    };
    let sent = on_event(&mut mem, &failed, false, t(0));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].severity, Severity::Warning);
    assert!(sent[0].message.contains("v2") && sent[0].message.contains("Rolling back to v1"), "{}", sent[0].message);
    let ready = on_event(&mut mem, &Event::EnvironmentReady { version: "v1".into(), instances: 2 }, false, t(1));
    assert_eq!(ready.iter().map(|n| n.severity).collect::<Vec<_>>(), vec![Severity::Resolved]);
    // A Ready with nothing open says nothing.
    assert!(
        alerts(&on_event(&mut mem, &Event::EnvironmentReady { version: "v1".into(), instances: 2 }, false, t(2)))
            .is_empty()
    );
}

#[test]
fn a_registry_incident_clears_with_a_pull_from_that_registry_only() {
    let mut mem = AlertMemory::default();
    let refused = Event::RegistryRefused {
        registry: "registry.example:5000".into(),
        user: "ci".into(),
        at: "10:00".into(),
        next_try: "10:01".into(),
        message: "unauthorized".into(),
    };
    assert_eq!(on_event(&mut mem, &refused, false, t(0)).len(), 1);
    assert!(on_event(&mut mem, &refused, false, t(1)).is_empty(), "repeat folded");
    let other = Event::ImagePulled { image: "nginx:1".into(), digest: "d".into(), size_bytes: 1, millis: 1 };
    assert!(on_event(&mut mem, &other, false, t(2)).is_empty());
    let ours = Event::ImagePulled {
        image: "registry.example:5000/team/app:1".into(),
        digest: "d".into(),
        size_bytes: 1,
        millis: 1,
    };
    let end = on_event(&mut mem, &ours, false, t(3));
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].severity, Severity::Resolved);
}

#[test]
fn warning_health_alone_is_not_an_alert() {
    let mut mem = AlertMemory::default();
    for s in 0..20 {
        assert!(on_health(&mut mem, &health(HealthStatus::Warning, 2, 1), t(s)).is_empty());
    }
}

#[test]
fn memory_survives_a_round_trip() {
    let mut mem = AlertMemory::default();
    on_event(&mut mem, &Event::InstanceUnhealthy { instance: "i-1".into(), reason: "x".into() }, false, t(0));
    let text = serde_json::to_string(&mem).unwrap();
    let back: AlertMemory = serde_json::from_str(&text).unwrap();
    assert_eq!(back, mem);
}

#[test]
fn registry_hosts_as_docker_reads_them() {
    assert_eq!(registry_of("nginx"), "docker.io");
    assert_eq!(registry_of("library/nginx:1"), "docker.io");
    assert_eq!(registry_of("quay.io/a/b"), "quay.io");
    assert_eq!(registry_of("localhost/a"), "localhost");
    assert_eq!(registry_of("127.0.0.1:5000/a"), "127.0.0.1:5000");
}

#[test]
fn an_instance_replaced_within_the_grace_is_still_one_alert_and_one_resolved() {
    let mut mem = AlertMemory::default();
    let lost = Event::InstanceUnhealthy {
        instance: "i-1".into(),
        reason: "essential container hog exited with code 137".into(),
    };
    let mut all = on_event(&mut mem, &lost, false, t(0));
    all.extend(on_event(
        &mut mem,
        &Event::InstanceInService { instance: "i-2".into(), address: "a".into() },
        false,
        t(1),
    ));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(1)));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 1, 1), t(5)));
    let sev: Vec<Severity> = alerts(&all).iter().map(|n| n.severity).collect();
    assert_eq!(sev, vec![Severity::Warning, Severity::Resolved]);
    assert!(all[0].message.contains("i-1") && all[0].message.contains("exited with code 137"), "{}", all[0].message);
}

#[test]
fn a_health_dip_that_clears_within_the_grace_is_not_said() {
    let mut mem = AlertMemory::default();
    let mut all = on_health(&mut mem, &health(HealthStatus::Degraded, 2, 1), t(0));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 2, 2), t(1)));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 2, 2), t(10)));
    assert!(alerts(&all).is_empty(), "{all:?}");
    assert!(mem.incidents.is_empty());
}

#[test]
fn a_deploy_that_never_gets_healthy_is_one_incident() {
    let mut mem = AlertMemory::default();
    let mut all = Vec::new();
    for (s, id) in [(0, "i-n1"), (5, "i-n2")] {
        let lost = Event::InstanceUnhealthy { instance: id.into(), reason: "did not pass a health check".into() };
        all.extend(on_event(&mut mem, &lost, true, t(s)));
        let mut h = health(HealthStatus::Degraded, 3, 2);
        h.deploying = true;
        all.extend(on_health(&mut mem, &h, t(s + 1)));
        all.extend(on_health(&mut mem, &h, t(s + 4)));
    }
    let failed = Event::DeployFailed {
        version: "v2".into(),
        reason: "batch 1 unhealthy".into(),
        rollback_to: Some("v1".into()),
    };
    all.extend(on_event(&mut mem, &failed, false, t(20)));
    all.extend(on_health(&mut mem, &health(HealthStatus::Ok, 2, 2), t(21)));
    all.extend(on_event(&mut mem, &Event::EnvironmentReady { version: "v1".into(), instances: 2 }, false, t(30)));
    let sev: Vec<Severity> = alerts(&all).iter().map(|n| n.severity).collect();
    assert_eq!(sev, vec![Severity::Warning, Severity::Resolved], "{all:#?}");
    assert!(mem.incidents.is_empty());
}

#[test]
fn a_terminated_environment_resolves_what_it_alerted() {
    let mut mem = AlertMemory::default();
    let failed = Event::DeployFailed { version: "v2".into(), reason: "x".into(), rollback_to: None };
    assert_eq!(on_event(&mut mem, &failed, false, t(0)).len(), 1);
    on_event(&mut mem, &Event::InstanceUnhealthy { instance: "i-1".into(), reason: "x".into() }, false, t(1));
    let end = close_all(&mut mem, t(2));
    assert_eq!(end.len(), 1, "only what was said is resolved: {end:?}");
    assert_eq!(end[0].severity, Severity::Resolved);
    assert!(end[0].message.contains("terminated"));
    assert!(mem.incidents.is_empty());
}

#[test]
fn a_failed_release_task_and_the_failed_deploy_it_causes_are_one_alert() {
    let mut mem = AlertMemory::default();
    let task = Event::ReleaseTaskFailed {
        version: "v2".into(),
        instance: "r-1".into(),
        reason: "exit code 3".into(),
        tail: "boom".into(),
    };
    let mut all = on_event(&mut mem, &task, true, t(0));
    let failed = Event::DeployFailed {
        version: "v2".into(),
        reason: "release task failed".into(),
        rollback_to: Some("v1".into()),
    };
    all.extend(on_event(&mut mem, &failed, true, t(1)));
    all.extend(on_event(&mut mem, &Event::EnvironmentReady { version: "v1".into(), instances: 1 }, false, t(2)));
    let sev: Vec<Severity> = alerts(&all).iter().map(|n| n.severity).collect();
    assert_eq!(sev, vec![Severity::Warning, Severity::Resolved], "{all:#?}");
    let started = Event::ReleaseTaskStarted {
        version: "v2".into(),
        instance: "r-1".into(),
        container: "app".into(),
        command: "x".into(),
    };
    assert_eq!(classify(&started), Class::Info);
}

#[test]
fn a_certificate_that_fails_to_renew_alerts_once_and_resolves_when_a_new_one_is_served() {
    let mut mem = AlertMemory::default();
    let failed = Event::CertificateRenewalFailed {
        name: "ads.example.com".into(),
        error: "the challenge failed".into(),
        next_try: "in 5 min".into(),
    };
    let first = on_event(&mut mem, &failed, false, t(0));
    assert_eq!(alerts(&first).len(), 1, "said at once");
    assert_eq!(first[0].severity, Severity::Warning);
    assert!(first[0].message.contains("ads.example.com") && first[0].message.contains("challenge failed"));
    let expiring = Event::CertificateExpiring { names: vec!["ads.example.com".into()], not_after: "soon".into() };
    assert!(on_event(&mut mem, &failed, false, t(300)).is_empty(), "a repeat is folded");
    assert!(on_event(&mut mem, &expiring, false, t(301)).is_empty(), "nearing expiry joins the same incident");
    let other = Event::CertificateIssued {
        names: vec!["other.example.com".into()],
        not_after: "later".into(),
        issuer: "CA".into(),
    };
    assert!(on_event(&mut mem, &other, false, t(302)).is_empty(), "another name's certificate changes nothing");
    let renewed = Event::CertificateIssued {
        names: vec!["ads.example.com".into()],
        not_after: "later".into(),
        issuer: "CA".into(),
    };
    let done = on_event(&mut mem, &renewed, false, t(400));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].severity, Severity::Resolved);
    assert_eq!(done[0].count, 3);
    assert!(mem.incidents.is_empty());
}
