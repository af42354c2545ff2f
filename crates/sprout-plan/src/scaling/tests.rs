//! Scaling decisions with a manual clock: target tracking, stabilisation, cooldowns,
//! in-flight capacity, triggers and clamps; properties over random metric streams.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use sprout_model::scaling::{Measure, ScalingSettings, Statistic, Trigger};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// One sample per second ending at `now`, with these request rates, oldest first.
fn window(rates: &[f64], now: DateTime<Utc>) -> Vec<MetricSample> {
    let n = rates.len() as i64;
    rates
        .iter()
        .enumerate()
        .map(|(i, r)| MetricSample {
            at: now - Duration::seconds(n - 1 - i as i64),
            requests: *r,
            ..Default::default()
        })
        .collect()
}

fn target(rps: f64) -> ScalingSettings {
    ScalingSettings { target_rps: Some(rps), ..Default::default() }
}

fn counts(desired: u32) -> Counts {
    Counts { desired, in_service: desired, starting: 0 }
}

const BAND: Band = Band { min: 1, max: 10 };

#[test]
fn a_step_in_load_scales_out_at_once_to_load_over_target() {
    let now = t0();
    // 3 instances hold 300/s; 480/s for 2 s (not a surge of 600/s) needs 5.
    let d = decide_scaling(
        &target(100.0),
        &window(&[50.0, 480.0, 490.0], now),
        counts(3),
        BAND,
        LastActions::default(),
        now,
    );
    assert_eq!(d.desired, 5);
    let (dir, why) = d.change.unwrap();
    assert_eq!(dir, Direction::Out);
    assert!(why.contains("desired 3 -> 5"), "{why}");
    assert!(why.contains("480 requests/s over 2 s"), "{why}");
}

#[test]
fn one_second_of_high_load_is_not_a_breach_unless_it_is_a_surge() {
    let now = t0();
    let d = decide_scaling(
        &target(100.0),
        &window(&[50.0, 50.0, 190.0], now),
        counts(1),
        BAND,
        LastActions::default(),
        now,
    );
    assert_eq!(d, Decision { desired: 1, change: None });
    // Twice the capacity in one second acts at once.
    let d = decide_scaling(
        &target(100.0),
        &window(&[50.0, 50.0, 450.0], now),
        counts(1),
        BAND,
        LastActions::default(),
        now,
    );
    assert_eq!(d.desired, 5);
    assert!(d.change.unwrap().1.contains("450 requests/s in the last second"));
    let off = ScalingSettings { surge_factor: 0.0, ..target(100.0) };
    assert_eq!(
        decide_scaling(&off, &window(&[50.0, 50.0, 450.0], now), counts(1), BAND, LastActions::default(), now).change,
        None
    );
}

#[test]
fn starting_instances_count_as_capacity_to_come() {
    let now = t0();
    // 5 desired, 1 in service and 4 starting: 480 rps needs 5, nothing more is ordered.
    let c = Counts { desired: 5, in_service: 1, starting: 4 };
    let d = decide_scaling(&target(100.0), &window(&[480.0, 480.0], now), c, BAND, LastActions::default(), now);
    assert_eq!(d.change, None);
}

#[test]
fn scale_out_is_clamped_to_max() {
    let now = t0();
    let d = decide_scaling(
        &target(10.0),
        &window(&[1000.0, 1000.0], now),
        counts(2),
        Band { min: 1, max: 4 },
        LastActions::default(),
        now,
    );
    assert_eq!(d.desired, 4);
}

#[test]
fn desired_outside_the_band_is_brought_inside() {
    let now = t0();
    let d = decide_scaling(
        &ScalingSettings::default(),
        &[],
        counts(1),
        Band { min: 3, max: 6 },
        LastActions::default(),
        now,
    );
    assert_eq!(d.desired, 3);
    assert!(d.change.unwrap().1.contains("outside the band 3..6"));
}

#[test]
fn scale_in_waits_for_the_whole_stabilisation_window() {
    let now = t0();
    let s = ScalingSettings { scale_in_window_s: 10, ..target(100.0) };
    // 9 quiet seconds: not yet.
    let d = decide_scaling(&s, &window(&[10.0; 9], now), counts(4), BAND, LastActions::default(), now);
    assert_eq!(d.change, None);
    // 10 quiet seconds: scale in to what the busiest second needed.
    let mut rates = vec![10.0; 10];
    rates[3] = 250.0;
    let d = decide_scaling(&s, &window(&rates, now), counts(4), BAND, LastActions::default(), now);
    assert_eq!(d.desired, 3);
    assert_eq!(d.change.unwrap().0, Direction::In);
}

#[test]
fn scale_in_waits_for_starting_instances_and_the_cooldown() {
    let now = t0();
    let s = ScalingSettings { scale_in_window_s: 5, scale_in_cooldown_s: 30, ..target(100.0) };
    let quiet = window(&[10.0; 5], now);
    let starting = Counts { desired: 4, in_service: 3, starting: 1 };
    assert_eq!(decide_scaling(&s, &quiet, starting, BAND, LastActions::default(), now).change, None);
    let recent = LastActions { scale_out: Some(now - Duration::seconds(20)), scale_in: None };
    assert_eq!(decide_scaling(&s, &quiet, counts(4), BAND, recent, now).change, None);
    let old = LastActions { scale_out: Some(now - Duration::seconds(31)), scale_in: None };
    assert_eq!(decide_scaling(&s, &quiet, counts(4), BAND, old, now).desired, 1);
}

#[test]
fn scale_out_cooldown_holds_a_second_scale_out() {
    let now = t0();
    let s = ScalingSettings { scale_out_cooldown_s: 10, ..target(100.0) };
    let last = LastActions { scale_out: Some(now - Duration::seconds(5)), scale_in: None };
    assert_eq!(decide_scaling(&s, &window(&[900.0, 900.0], now), counts(2), BAND, last, now).change, None);
}

fn trigger(statistic: Statistic, period_s: u32, breach_duration_s: u32) -> ScalingSettings {
    ScalingSettings {
        trigger: Some(Trigger {
            measure: Measure::RequestCount,
            statistic,
            unit: "Count".into(),
            period_s,
            breach_duration_s,
            upper_threshold: 3000.0,
            lower_threshold: 100.0,
            upper_increment: 3,
            lower_increment: -1,
        }),
        ..Default::default()
    }
}

#[test]
fn trigger_sum_over_periods_must_breach_every_period() {
    let now = t0();
    let s = trigger(Statistic::Sum, 2, 4);
    // Periods of 2 s: [1000+2200, 2100+2110] = [3200, 4210], both above 3,000.
    let d = decide_scaling(
        &s,
        &window(&[1000.0, 2200.0, 2100.0, 2110.0], now),
        counts(2),
        BAND,
        LastActions::default(),
        now,
    );
    assert_eq!(d.desired, 5);
    let why = d.change.unwrap().1;
    assert_eq!(why, "RequestCount Sum 3,200, 4,210 Count over 4 s above 3,000 Count: desired 2 -> 5");
    // One period under the threshold: no breach.
    let d = decide_scaling(
        &s,
        &window(&[1000.0, 1000.0, 2100.0, 2110.0], now),
        counts(2),
        BAND,
        LastActions::default(),
        now,
    );
    assert_eq!(d.change, None);
}

#[test]
fn trigger_lower_breach_removes_and_a_breach_must_be_fresh_after_an_action() {
    let now = t0();
    let s = ScalingSettings { scale_in_cooldown_s: 0, ..trigger(Statistic::Maximum, 1, 3) };
    let low = window(&[10.0, 20.0, 30.0], now);
    assert_eq!(decide_scaling(&s, &low, counts(3), BAND, LastActions::default(), now).desired, 2);
    // The same seconds after an action taken at `now`: nothing new.
    let last = LastActions { scale_out: None, scale_in: Some(now) };
    assert_eq!(decide_scaling(&s, &low, counts(2), BAND, last, now).change, None);
}

#[test]
fn trigger_without_data_for_its_measure_does_nothing() {
    let now = t0();
    let mut s = trigger(Statistic::Average, 1, 2);
    s.trigger.as_mut().unwrap().measure = Measure::Latency;
    assert_eq!(
        decide_scaling(&s, &window(&[1e6, 1e6], now), counts(2), BAND, LastActions::default(), now).change,
        None
    );
}

#[test]
fn thousands_separates_groups() {
    assert_eq!(thousands(4210.4), "4,210");
    assert_eq!(thousands(1234567.0), "1,234,567");
    assert_eq!(thousands(999.0), "999");
    assert_eq!(thousands(2.5), "2.5");
}

fn arb_case() -> impl Strategy<Value = (ScalingSettings, Vec<f64>, Counts, Band, i64)> {
    (
        1u32..4,
        1u32..30,
        prop::option::of(1.0f64..200.0),
        prop::bool::ANY,
        prop::collection::vec(0.0f64..2000.0, 0..40),
        0u32..12,
        0u32..4,
        0u32..6,
        0u32..8,
        0i64..60,
    )
        .prop_map(|(out_w, in_w, tgt, trig, rates, desired, starting, min, span, since)| {
            let mut s = ScalingSettings {
                target_rps: tgt,
                scale_out_window_s: out_w,
                scale_in_window_s: in_w,
                ..Default::default()
            };
            if trig {
                s.trigger = trigger(Statistic::Average, 1, 2).trigger;
            }
            let band = Band { min, max: min + span };
            (
                s,
                rates,
                Counts { desired, in_service: desired.saturating_sub(starting), starting: starting.min(desired) },
                band,
                since,
            )
        })
}

proptest! {
    #[test]
    fn never_outside_the_band((s, rates, c, band, since) in arb_case()) {
        let now = t0();
        let last = LastActions { scale_out: Some(now - Duration::seconds(since)), scale_in: None };
        let d = decide_scaling(&s, &window(&rates, now), c, band, last, now);
        prop_assert!(d.desired >= band.min && d.desired <= band.max, "{} outside {:?}", d.desired, band);
    }

    #[test]
    fn target_tracking_never_scales_in_while_a_second_in_the_window_needed_more((s, rates, c, band, since) in arb_case()) {
        let now = t0();
        let s = ScalingSettings { trigger: None, ..s };
        let last = LastActions { scale_out: Some(now - Duration::seconds(since)), scale_in: None };
        let w = window(&rates, now);
        let d = decide_scaling(&s, &w, c, band, last, now);
        if let (Some((Direction::In, _)), Some(target)) = (&d.change, s.target_rps)
            && band.clamp(c.desired) == c.desired
        {
            let n = s.scale_in_window_s as usize;
            prop_assert!(w.len() >= n, "scaled in with {} s of data, window {} s", w.len(), n);
            let high = w[w.len() - n..].iter().map(|x| x.requests).fold(0.0, f64::max);
            prop_assert!(d.desired as f64 * target >= high - 1e-6);
        }
    }

    #[test]
    fn deciding_again_after_applying_changes_nothing((s, rates, c, band, since) in arb_case()) {
        let now = t0();
        let mut last = LastActions { scale_out: Some(now - Duration::seconds(since)), scale_in: None };
        let w = window(&rates, now);
        let mut cur = c;
        // At most three steps: clamp, then one metric action, then nothing.
        for _ in 0..3 {
            let d = decide_scaling(&s, &w, cur, band, last, now);
            match d.change {
                None => return Ok(()),
                Some((dir, _)) => {
                    if dir == Direction::Out { last.scale_out = Some(now) } else { last.scale_in = Some(now) }
                    cur.desired = d.desired;
                }
            }
        }
        let d = decide_scaling(&s, &w, cur, band, last, now);
        prop_assert_eq!(d.change, None);
    }
}

fn open(requests: f64, elapsed_s: f64) -> OpenSecond {
    OpenSecond { requests, elapsed_s }
}

#[test]
fn a_surge_is_seen_in_the_second_still_open() {
    let now = t0();
    // 1 instance at target 20: 40 requests in the first 400 ms already make the whole second a
    // surge; sized on 40 / 0.5 s = 80/s, 4 instances.
    let d = decide_surge(&target(20.0), open(40.0, 0.4), counts(1), BAND, LastActions::default(), now);
    assert_eq!(d.desired, 4);
    let (dir, why) = d.change.unwrap();
    assert_eq!(dir, Direction::Out);
    assert!(why.contains("40 requests in the first 400 ms"), "{why}");
    assert!(why.contains("desired 1 -> 4"), "{why}");
    // Later in the second the rate so far sizes it: 90 in 900 ms is 100/s, 5 instances.
    assert_eq!(decide_surge(&target(20.0), open(90.0, 0.9), counts(1), BAND, LastActions::default(), now).desired, 5);
}

#[test]
fn the_open_second_never_scales_below_a_surge_nor_past_the_band() {
    let now = t0();
    // 39 requests is not yet twice the capacity: wait.
    assert_eq!(decide_surge(&target(20.0), open(39.0, 0.9), counts(1), BAND, LastActions::default(), now).change, None);
    // No target, surge turned off, or a cooldown: nothing.
    assert_eq!(
        decide_surge(&ScalingSettings::default(), open(400.0, 0.5), counts(1), BAND, LastActions::default(), now)
            .change,
        None
    );
    let off = ScalingSettings { surge_factor: 0.0, ..target(20.0) };
    assert_eq!(decide_surge(&off, open(400.0, 0.5), counts(1), BAND, LastActions::default(), now).change, None);
    let cool = ScalingSettings { scale_out_cooldown_s: 10, ..target(20.0) };
    let recent = LastActions { scale_out: Some(now - Duration::seconds(3)), scale_in: None };
    assert_eq!(decide_surge(&cool, open(400.0, 0.5), counts(1), BAND, recent, now).change, None);
    // Clamped to the band's max.
    let d =
        decide_surge(&target(20.0), open(1000.0, 0.5), counts(1), Band { min: 1, max: 6 }, LastActions::default(), now);
    assert_eq!(d.desired, 6);
    // Starting instances are capacity to come: 5 desired already hold 100/s.
    let c = Counts { desired: 5, in_service: 1, starting: 4 };
    assert_eq!(decide_surge(&target(20.0), open(60.0, 0.6), c, BAND, LastActions::default(), now).change, None);
}

proptest! {
    /// Whatever the open second holds, a surge decision only ever scales out, inside the band,
    /// and to no more than twice what the requests so far show.
    #[test]
    fn surge_decisions_only_scale_out_within_the_band(requests in 0.0f64..5000.0, elapsed in 0.0f64..1.0, desired in 1u32..10) {
        let d = decide_surge(&target(20.0), open(requests, elapsed), counts(desired), BAND, LastActions::default(), t0());
        prop_assert!(d.desired >= desired && d.desired <= BAND.max);
        if d.desired > desired {
            prop_assert!(f64::from(d.desired - 1) * 20.0 < requests * 2.0);
        }
    }
}
