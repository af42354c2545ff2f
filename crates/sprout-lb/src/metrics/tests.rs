//! Metrics with explicit timestamps: recording, closing seconds, windows, rates, downsampling.

use super::*;

const T0: i64 = 1_700_000_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_closed_second_holds_what_was_recorded() {
    let metrics = Metrics::default();
    let env = metrics.env_handle("shop", "prod");
    let inst = metrics.instance_handle("shop", "prod", "i-1");
    for status in [200, 200, 302, 404, 503] {
        env.record(StatusCode::from_u16(status).unwrap(), ms(10));
        inst.record(StatusCode::from_u16(status).unwrap(), ms(10));
    }
    env.add_bytes(100, 2000);
    inst.record_connect_error();
    env.start_request();
    metrics.close_second(T0);

    let seconds = metrics.series("shop", "prod", 10);
    assert_eq!(seconds.len(), 1);
    let s = &seconds[0];
    assert_eq!((s.at, s.span_s, s.requests), (T0, 1, 5));
    assert_eq!(s.status, [0, 2, 1, 1, 1]);
    assert_eq!((s.bytes_in, s.bytes_out, s.in_flight), (100, 2000, 1));
    assert_eq!(s.latency.count(), 5);
    let i = &metrics.instance_series("shop", "prod", "i-1", 10)[0];
    assert_eq!((i.requests, i.connect_errors), (5, 1));
    assert_eq!(metrics.instances("shop", "prod"), ["i-1"]);

    // The live bucket starts again from zero; in-flight carries over.
    metrics.close_second(T0 + 1);
    let next = &metrics.series("shop", "prod", 1)[0];
    assert_eq!((next.at, next.requests, next.in_flight), (T0 + 1, 0, 1));
    assert_eq!(metrics.totals()[0].totals.requests, 5);
}

#[test]
fn windows_and_rates_count_back_from_the_last_closed_second() {
    let metrics = Metrics::default();
    let env = metrics.env_handle("a", "e");
    for second in 0..20 {
        // Second n carries n requests.
        for _ in 0..second {
            env.record(StatusCode::OK, ms(1));
        }
        metrics.close_second(T0 + second);
    }
    assert_eq!(metrics.last_closed(), Some(T0 + 19));
    let last10 = metrics.series("a", "e", 10);
    assert_eq!(last10.len(), 10);
    assert_eq!(last10[0].at, T0 + 10);
    // 10 + 11 + ... + 19 = 145 over 10 s.
    assert!((metrics.rate("a", "e", 10) - 14.5).abs() < 1e-9);
    let summary = metrics.summary("a", "e", 10);
    assert_eq!((summary.at, summary.span_s, summary.requests), (T0 + 10, 10, 145));
    assert_eq!(metrics.rate("nobody", "e", 10), 0.0);
}

#[test]
fn old_seconds_fold_into_minutes() {
    let metrics = Metrics::default();
    let env = metrics.env_handle("a", "e");
    // Start on a minute boundary; one request per second for 17 minutes.
    let start = T0 - T0.rem_euclid(60);
    for second in 0..(17 * 60) {
        env.record(StatusCode::OK, ms(5));
        metrics.close_second(start + second);
    }
    assert_eq!(metrics.series("a", "e", 10_000).len(), SECONDS_KEPT);
    let minutes = metrics.minutes("a", "e");
    // 1020 - 900 = 120 seconds folded: two whole minutes.
    assert_eq!(minutes.len(), 2);
    assert_eq!((minutes[0].at, minutes[0].span_s, minutes[0].requests), (start, 60, 60));
    assert_eq!(minutes[1].at, start + 60);
    assert_eq!(minutes[1].latency.count(), 60);
}

#[test]
fn unrouted_idle_series_are_forgotten_after_a_day() {
    let metrics = Metrics::default();
    let routed = metrics.instance_handle("a", "e", "i-routed");
    drop(metrics.instance_handle("a", "e", "i-gone"));
    metrics.instance_handle("a", "e", "i-gone").record(StatusCode::OK, ms(1));
    metrics.close_second(T0);
    metrics.close_second(T0 + 3600);
    assert_eq!(metrics.instances("a", "e"), ["i-gone", "i-routed"]);
    metrics.close_second(T0 + FORGET_AFTER_S + 1);
    assert_eq!(metrics.instances("a", "e"), ["i-routed"]);
    drop(routed);
}

fn open_second(metrics: &Metrics) -> u64 {
    metrics
        .open_seconds()
        .into_iter()
        .find(|(k, _)| k == &("shop".to_string(), "prod".to_string()))
        .map_or(0, |(_, n)| n)
}

#[test]
fn the_open_second_counts_answered_and_in_flight_requests_until_it_closes() {
    let metrics = Metrics::default();
    assert_eq!(open_second(&metrics), 0);
    let env = metrics.env_handle("shop", "prod");
    for _ in 0..3 {
        env.record(StatusCode::OK, ms(1));
    }
    env.start_request();
    assert_eq!(open_second(&metrics), 4);
    metrics.close_second(T0);
    // Answered requests went to the closed second; the one in flight is still arriving load.
    assert_eq!(open_second(&metrics), 1);
    env.end_request();
    assert_eq!(open_second(&metrics), 0);
    assert!(metrics.open_seconds().is_empty(), "an environment with no request open is left out");
}
