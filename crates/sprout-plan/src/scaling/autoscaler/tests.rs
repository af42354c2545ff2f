//! The autoscaler's looks with a manual clock: band and configuration, waiting out deploys,
//! scheduled actions before metrics, the lead learnt from launches, the surge peek, and the
//! memory only moving on what the caller reports written.

use chrono::{DateTime, TimeZone, Utc};
use sprout_model::environment::{EnvStatus, EnvironmentRecord};
use sprout_model::options::{CapacityOptions, EnvOptions};
use sprout_model::scaling::{ScalingSettings, ScheduledAction, Trigger};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

fn env(status: EnvStatus, desired: u32, min: Option<u32>, max: Option<u32>, target: Option<f64>) -> EnvironmentRecord {
    EnvironmentRecord {
        app: "shop".into(),
        name: "prod".into(),
        version_label: "v1".into(),
        last_good_version: None,
        desired_instances: desired,
        status,
        variables: Default::default(),
        deploy_deadline: None,
        last_error: None,
        options: EnvOptions {
            capacity: CapacityOptions { min, max },
            scaling: ScalingSettings { target_rps: target, ..Default::default() },
            ..Default::default()
        },
        deploy_state: None,
        created_at: t0(),
        updated_at: t0(),
        revision: 1,
    }
}

fn ready(desired: u32, min: u32, max: u32, target: f64) -> EnvironmentRecord {
    env(EnvStatus::Ready, desired, Some(min), Some(max), Some(target))
}

fn sample(at: DateTime<Utc>, requests: f64) -> MetricSample {
    MetricSample { at, requests, ..Default::default() }
}

fn serving(id: &str, launched_at: DateTime<Utc>) -> InstanceSeen {
    InstanceSeen { id: id.into(), in_service: true, starting: false, launched_at: launched_at.timestamp() }
}

fn pending(id: &str) -> InstanceSeen {
    InstanceSeen { id: id.into(), in_service: false, starting: true, launched_at: t0().timestamp() }
}

/// A one-off action at `at` setting the band and the desired count.
fn one_off(name: &str, at: DateTime<Utc>, min: u32, max: u32, desired: u32) -> ScheduledAction {
    ScheduledAction {
        name: name.into(),
        recurrence: None,
        time_zone: "UTC".into(),
        start: Some(at),
        end: None,
        min: Some(min),
        max: Some(max),
        desired: Some(desired),
        suspended: false,
    }
}

#[test]
fn band_of_falls_back_to_the_desired_count() {
    let cases = [
        // (min, max, desired) -> band
        ((None, None, 3), Band { min: 3, max: 3 }),
        ((Some(1), None, 3), Band { min: 1, max: 3 }),
        ((None, Some(8), 3), Band { min: 3, max: 8 }),
        ((Some(2), Some(6), 4), Band { min: 2, max: 6 }),
        ((Some(2), Some(6), 9), Band { min: 2, max: 6 }),
    ];
    for ((min, max, desired), want) in cases {
        assert_eq!(band_of(&env(EnvStatus::Ready, desired, min, max, None)), want, "{min:?} {max:?} {desired}");
    }
}

#[test]
fn configured_when_anything_could_move_the_count() {
    let trigger = Trigger::default();
    let with = |f: &dyn Fn(&mut EnvironmentRecord)| {
        let mut e = env(EnvStatus::Ready, 2, None, None, None);
        f(&mut e);
        e
    };
    let cases: [(&str, EnvironmentRecord, bool); 6] = [
        ("nothing", with(&|_| {}), false),
        ("min equal to max", with(&|e| e.options.capacity = CapacityOptions { min: Some(2), max: Some(2) }), false),
        ("a band", with(&|e| e.options.capacity = CapacityOptions { min: Some(1), max: Some(4) }), true),
        ("a target", with(&|e| e.options.scaling.target_rps = Some(50.0)), true),
        ("a trigger", with(&|e| e.options.scaling.trigger = Some(trigger.clone())), true),
        ("a schedule", with(&|e| e.options.scaling.scheduled_actions = vec![one_off("a", t0(), 1, 2, 1)]), true),
    ];
    for (name, e, want) in cases {
        assert_eq!(configured(&e), want, "{name}");
    }
}

#[test]
fn surge_possible_only_when_ready_with_a_target_and_enough_requests() {
    let open = |requests| OpenSecond { requests, elapsed_s: 0.3 };
    // Default surge factor 2: two instances at 10 per instance surge from 40 requests.
    let cases = [
        ("at the threshold", ready(2, 1, 8, 10.0), 40.0, true),
        ("below it", ready(2, 1, 8, 10.0), 39.0, false),
        ("zero desired counts as one", ready(0, 0, 8, 10.0), 20.0, true),
        ("no target", env(EnvStatus::Ready, 2, Some(1), Some(8), None), 1e9, false),
        ("updating", env(EnvStatus::Updating, 2, Some(1), Some(8), Some(10.0)), 1e9, false),
    ];
    for (name, e, requests, want) in cases {
        assert_eq!(surge_possible(&e, open(requests)), want, "{name}");
    }
}

#[test]
fn statuses_other_than_ready_hold_and_a_deploy_is_announced_once() {
    let cases = [
        // (status, configured, plans over three looks)
        (EnvStatus::Terminating, true, ["hold", "hold", "hold"]),
        (EnvStatus::Updating, true, ["wait", "hold", "hold"]),
        (EnvStatus::Launching, true, ["wait", "hold", "hold"]),
        (EnvStatus::Updating, false, ["hold", "hold", "hold"]),
    ];
    for (status, is_configured, want) in cases {
        let e = if is_configured { env(status, 2, Some(1), Some(4), None) } else { env(status, 2, None, None, None) };
        let mut m = ScalingMemory::new(t0());
        let got: Vec<&str> = (1..=3)
            .map(|i| {
                let now = t0() + secs(i);
                match m.decide_look(&e, sample(now, 0.0), None, now) {
                    ScalingPlan::Hold => "hold",
                    ScalingPlan::Wait { reason } => {
                        assert!(reason.contains(status.as_str()), "{reason}");
                        "wait"
                    }
                    other => panic!("{status:?}: {other:?}"),
                }
            })
            .collect();
        assert_eq!(got, want, "{status:?} configured {is_configured}");
    }
}

#[test]
fn the_next_deploy_is_announced_again_after_ready() {
    let mut m = ScalingMemory::new(t0());
    let statuses = [EnvStatus::Updating, EnvStatus::Ready, EnvStatus::Updating];
    let waits: Vec<bool> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let now = t0() + secs(i as i64 + 1);
            let e = env(*s, 2, Some(1), Some(4), None);
            matches!(m.decide_look(&e, sample(now, 0.0), None, now), ScalingPlan::Wait { .. })
        })
        .collect();
    assert_eq!(waits, [true, false, true]);
}

#[test]
fn metric_decisions_follow_the_window() {
    // Target 10 per instance, scale out after 2 s above capacity (the default window).
    type Case<'a> = (&'a str, u32, &'a [f64], Option<(Direction, u32)>);
    let cases: [Case; 5] = [
        ("quiet", 2, &[15.0, 15.0, 15.0], None),
        ("one second above is not enough", 2, &[15.0, 15.0, 35.0], None),
        ("two seconds above", 2, &[15.0, 35.0, 35.0], Some((Direction::Out, 4))),
        ("the band caps it", 2, &[15.0, 90.0, 90.0], Some((Direction::Out, 6))),
        ("outside the band comes back in", 9, &[15.0], Some((Direction::In, 6))),
    ];
    for (name, desired, rates, want) in cases {
        let e = ready(desired, 1, 6, 10.0);
        let mut m = ScalingMemory::new(t0());
        let all = vec![serving("a", t0()), serving("b", t0())];
        let mut plan = ScalingPlan::Hold;
        for (i, r) in rates.iter().enumerate() {
            let now = t0() + secs(i as i64 + 1);
            plan = m.decide_look(&e, sample(now, *r), Some(&all), now);
        }
        let got = match plan {
            ScalingPlan::Hold => None,
            ScalingPlan::Scale { direction, to, .. } => Some((direction, to)),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_memory_moves_only_on_what_was_written() {
    let e = ready(2, 1, 8, 10.0);
    let all = [serving("a", t0()), serving("b", t0())];
    let look = |m: &mut ScalingMemory, s: i64, r: f64| {
        let now = t0() + secs(s);
        m.decide_look(&e, sample(now, r), Some(&all), now)
    };
    // Not reported written: the next look orders again.
    let mut m = ScalingMemory::new(t0());
    look(&mut m, 1, 35.0);
    assert!(matches!(look(&mut m, 2, 35.0), ScalingPlan::Scale { to: 4, .. }));
    assert!(matches!(look(&mut m, 3, 35.0), ScalingPlan::Scale { to: 4, .. }));
    // Reported: a scale-out cooldown now applies from that instant.
    let mut e2 = e.clone();
    e2.options.scaling.scale_out_cooldown_s = 10;
    let mut m = ScalingMemory::new(t0());
    m.decide_look(&e2, sample(t0() + secs(1), 35.0), Some(&all), t0() + secs(1));
    let ScalingPlan::Scale { direction, .. } =
        m.decide_look(&e2, sample(t0() + secs(2), 35.0), Some(&all), t0() + secs(2))
    else {
        panic!("no scale-out")
    };
    m.scaled(direction, t0() + secs(2));
    assert_eq!(m.decide_look(&e2, sample(t0() + secs(3), 35.0), Some(&all), t0() + secs(3)), ScalingPlan::Hold);
}

#[test]
fn a_due_schedule_comes_before_metrics_and_fires_once() {
    let mut e = ready(2, 1, 8, 10.0);
    // Adds capacity: fires the lead (3 s default launch + 1 s look) before its instant.
    e.options.scaling.scheduled_actions = vec![one_off("morning", t0() + secs(10), 4, 8, 5)];
    // Launched long ago: adopted, so they teach nothing about launch times.
    let all = [serving("a", t0() - secs(1000)), serving("b", t0() - secs(1000))];
    let mut m = ScalingMemory::new(t0());
    let mut plans = Vec::new();
    for s in [5, 6, 7] {
        let now = t0() + secs(s);
        let plan = m.decide_look(&e, sample(now, 90.0), Some(&all), now);
        // Written as the controller would: the band and the count, then reported.
        if let ScalingPlan::Schedule { band, desired, firings } = &plan {
            e.options.capacity = CapacityOptions { min: Some(band.min), max: Some(band.max) };
            e.desired_instances = *desired;
            m.scheduled(firings, now);
        }
        plans.push(plan);
    }
    assert!(matches!(plans[0], ScalingPlan::Scale { .. }), "{:?}", plans[0]);
    let ScalingPlan::Schedule { band, desired, firings } = &plans[1] else { panic!("{:?}", plans[1]) };
    assert_eq!((*band, *desired, firings.len()), (Band { min: 4, max: 8 }, 5, 1));
    // Fired once; and the window restarted, so two seconds above 5 instances' capacity are
    // needed again.
    assert_eq!(plans[2], ScalingPlan::Hold);
}

#[test]
fn the_lead_is_the_slowest_recent_launch_plus_one_look() {
    let now = t0() + secs(200);
    let cases: [(&str, &[i64], i64); 5] = [
        ("nothing measured", &[], DEFAULT_LAUNCH_S + 1),
        ("one launch", &[7], 8),
        ("the slowest counts", &[7, 20, 4], 21),
        ("implausible times are ignored", &[7, 150, -3], 8),
        ("only the last five are kept", &[60, 2, 2, 2, 2, 2], 3),
    ];
    for (name, took, want) in cases {
        let mut m = ScalingMemory::new(t0());
        // Each instance comes into service at its own look, so each is a new launch.
        let mut all = Vec::new();
        for (i, t) in took.iter().enumerate() {
            all.push(serving(&format!("i{i}"), now - secs(*t)));
            m.observe(all.len() as u32, Some(&all), now);
        }
        assert_eq!(m.lead(), secs(want), "{name}");
    }
}

#[test]
fn counts_treat_ordered_capacity_as_starting() {
    let now = t0() + secs(30);
    let cases: [(&str, u32, Option<Vec<InstanceSeen>>, Counts); 4] = [
        ("no snapshot yet", 3, None, Counts { desired: 3, in_service: 0, starting: 3 }),
        (
            "all serving",
            2,
            Some(vec![serving("a", t0()), serving("b", t0())]),
            Counts { desired: 2, in_service: 2, starting: 0 },
        ),
        (
            "one pending",
            2,
            Some(vec![serving("a", t0()), pending("b")]),
            Counts { desired: 2, in_service: 1, starting: 1 },
        ),
        (
            "ordered, not yet visible",
            4,
            Some(vec![serving("a", t0())]),
            Counts { desired: 4, in_service: 1, starting: 3 },
        ),
    ];
    for (name, desired, seen, want) in cases {
        let mut m = ScalingMemory::new(t0());
        assert_eq!(m.observe(desired, seen.as_deref(), now), want, "{name}");
    }
}

#[test]
fn the_window_keeps_the_longest_setting_plus_slack() {
    let mut e = ready(2, 1, 8, 10.0);
    e.options.scaling.scale_in_window_s = 3;
    e.options.scaling.scale_out_window_s = 1;
    let mut m = ScalingMemory::new(t0());
    for s in 1..=20 {
        let now = t0() + secs(s);
        m.decide_look(&e, sample(now, 5.0), None, now);
    }
    assert_eq!(m.window.len(), 3 + WINDOW_SLACK);
    assert_eq!(m.window.back().map(|s| s.at), Some(t0() + secs(20)));
}

#[test]
fn a_peek_scales_out_on_a_surge_only_when_ready() {
    let open = OpenSecond { requests: 60.0, elapsed_s: 0.5 };
    let all = [serving("a", t0()), serving("b", t0())];
    let cases = [
        ("ready", EnvStatus::Ready, Some((Direction::Out, 8))),
        ("updating", EnvStatus::Updating, None),
        ("terminating", EnvStatus::Terminating, None),
    ];
    for (name, status, want) in cases {
        let e = env(status, 2, Some(1), Some(8), Some(10.0));
        let mut m = ScalingMemory::new(t0());
        let got = match m.decide_peek(&e, open, Some(&all), t0() + secs(1)) {
            ScalingPlan::Hold => None,
            ScalingPlan::Scale { direction, to, .. } => Some((direction, to)),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(got, want, "{name}");
    }
}
