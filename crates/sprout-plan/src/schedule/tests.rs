//! Scheduled actions with a manual clock: recurrences in time zones, daylight-saving gaps and
//! repeats in America/New_York and Europe/Berlin, start/end windows, one-offs, precedence,
//! firing early by the lead, and the preview.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sprout_model::scaling::ScheduledAction;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn action(name: &str, cron: &str, tz: &str) -> ScheduledAction {
    ScheduledAction {
        name: name.into(),
        recurrence: Some(cron.into()),
        time_zone: tz.into(),
        start: None,
        end: None,
        min: Some(2),
        max: Some(6),
        desired: Some(3),
        suspended: false,
    }
}

/// Every firing in [from, until).
fn fires(a: &ScheduledAction, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from - Duration::seconds(1);
    while let Some(at) = next_fire(a, t) {
        if at >= until {
            break;
        }
        out.push(at);
        t = at;
    }
    out
}

#[test]
fn weekday_mornings_in_berlin_are_read_in_berlin_time() {
    let a = action("morning", "0 8 * * 1-5", "Europe/Berlin");
    // Friday 2026-01-09 08:00 CET is 07:00 UTC; the next is Monday the 12th.
    assert_eq!(next_fire(&a, utc(2026, 1, 9, 0, 0)), Some(utc(2026, 1, 9, 7, 0)));
    assert_eq!(next_fire(&a, utc(2026, 1, 9, 7, 0)), Some(utc(2026, 1, 12, 7, 0)));
    // In summer (CEST) 08:00 is 06:00 UTC.
    assert_eq!(next_fire(&a, utc(2026, 7, 1, 0, 0)), Some(utc(2026, 7, 1, 6, 0)));
}

#[test]
fn new_york_skipped_time_fires_once_at_the_next_valid_instant() {
    // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist.
    let a = action("night", "30 2 * * *", "America/New_York");
    let got = fires(&a, utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0));
    // 7th 02:30 EST = 07:30Z; 8th: fires at 03:00 EDT = 07:00Z; 9th 02:30 EDT = 06:30Z.
    assert_eq!(got, vec![utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]);
}

#[test]
fn new_york_repeated_time_fires_once() {
    // 2026-11-01: 01:00-02:00 happens twice (EDT then EST).
    let a = action("night", "30 1 * * *", "America/New_York");
    let got = fires(&a, utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0));
    // 1st: first 01:30 (EDT) = 05:30Z, not again at 06:30Z; 2nd: 01:30 EST = 06:30Z.
    assert_eq!(got, vec![utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]);
}

#[test]
fn berlin_gap_and_repeat_each_fire_once() {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls back to 02:00 CET.
    let every_quarter = action("q", "*/15 2 * * *", "Europe/Berlin");
    let spring = fires(&every_quarter, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 3, 0));
    // 02:00, 02:15, 02:30, 02:45 are all skipped: one firing at 03:00 CEST = 01:00Z.
    assert_eq!(spring, vec![utc(2026, 3, 29, 1, 0)]);
    let autumn = fires(&every_quarter, utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0));
    // 02:00-02:45 happen twice; each fires only on its first (CEST) occurrence: 00:00Z-00:45Z.
    assert_eq!(
        autumn,
        vec![utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45)]
    );
}

#[test]
fn six_fields_mean_seconds_first() {
    let a = action("s", "30 0 9 * * *", "UTC");
    assert_eq!(next_fire(&a, utc(2026, 1, 1, 0, 0)), Some(utc(2026, 1, 1, 9, 0) + Duration::seconds(30)));
    // A clock read with a fraction of a second still gives the whole-second instant, so the
    // same firing is recognised from one tick to the next.
    assert_eq!(
        next_fire(&a, utc(2026, 1, 1, 0, 0) + Duration::milliseconds(404)),
        Some(utc(2026, 1, 1, 9, 0) + Duration::seconds(30))
    );
}

#[test]
fn start_and_end_bound_a_recurrence_and_a_one_off_fires_once() {
    let mut a = action("h", "0 * * * *", "UTC");
    a.start = Some(utc(2026, 1, 1, 5, 30));
    a.end = Some(utc(2026, 1, 1, 8, 0));
    assert_eq!(
        fires(&a, utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0)),
        vec![utc(2026, 1, 1, 6, 0), utc(2026, 1, 1, 7, 0), utc(2026, 1, 1, 8, 0)]
    );
    let once = ScheduledAction { recurrence: None, start: Some(utc(2026, 2, 1, 9, 0)), end: None, ..a };
    assert_eq!(fires(&once, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)), vec![utc(2026, 2, 1, 9, 0)]);
}

#[test]
fn bad_actions_are_refused_naming_the_field() {
    let e = validate_action(&action("x", "0 25 * * *", "UTC")).unwrap_err();
    assert_eq!(e.field, "recurrence");
    assert!(e.to_string().contains("example"), "{e}");
    assert_eq!(validate_action(&action("x", "0 8 * *", "UTC")).unwrap_err().field, "recurrence");
    assert_eq!(validate_action(&action("x", "0 8 * * *", "Mars/Olympus")).unwrap_err().field, "time_zone");
    let mut a = action("x", "0 8 * * *", "UTC");
    a.min = Some(7);
    assert_eq!(validate_action(&a).unwrap_err().field, "min");
    let mut a = action("x", "0 8 * * *", "UTC");
    a.desired = Some(9);
    assert_eq!(validate_action(&a).unwrap_err().field, "desired");
    assert!(validate_action(&action("ok", "0 8 * * 1-5", "Europe/Berlin")).is_ok());
}

#[test]
fn an_action_sets_the_band_and_the_starting_desired_count() {
    let a = action("a", "0 8 * * *", "UTC");
    assert_eq!(apply_action(&a, Band { min: 1, max: 1 }, 1), (Band { min: 2, max: 6 }, 3));
    // No desired given: the current count, brought into the new band.
    let b = ScheduledAction { desired: None, ..a };
    assert_eq!(apply_action(&b, Band { min: 1, max: 10 }, 9), (Band { min: 2, max: 6 }, 6));
    assert_eq!(apply_action(&b, Band { min: 1, max: 10 }, 4), (Band { min: 2, max: 6 }, 4));
}

#[test]
fn adding_capacity_fires_early_by_the_lead_removing_waits_and_nothing_fires_twice() {
    let up = action("up", "0 8 * * *", "UTC");
    let band = Band { min: 1, max: 1 };
    let lead = Duration::seconds(3);
    let mut fired = BTreeSet::new();
    let at = utc(2026, 1, 1, 8, 0);
    // 4 s before: not yet. 3 s before: due.
    assert!(
        due_actions(
            std::slice::from_ref(&up),
            band,
            1,
            &fired,
            at - Duration::seconds(5),
            at - Duration::seconds(4),
            lead
        )
        .is_empty()
    );
    let due = due_actions(
        std::slice::from_ref(&up),
        band,
        1,
        &fired,
        at - Duration::seconds(4),
        at - Duration::seconds(3),
        lead,
    );
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].at, due[0].desired), (at, 3));
    assert!(due[0].reason.contains("desired 1 -> 3"), "{}", due[0].reason);
    fired.insert((due[0].action.clone(), due[0].at));
    // At the instant itself it does not fire again.
    assert!(
        due_actions(std::slice::from_ref(&up), due[0].band, 3, &fired, at - Duration::seconds(1), at, lead).is_empty()
    );

    let down = ScheduledAction { min: Some(1), max: Some(1), desired: Some(1), ..action("down", "0 20 * * *", "UTC") };
    let at = utc(2026, 1, 1, 20, 0);
    assert!(
        due_actions(
            std::slice::from_ref(&down),
            Band { min: 2, max: 6 },
            3,
            &fired,
            at - Duration::seconds(4),
            at - Duration::seconds(1),
            lead
        )
        .is_empty()
    );
    assert_eq!(
        due_actions(&[down], Band { min: 2, max: 6 }, 3, &fired, at - Duration::seconds(1), at, lead)[0].desired,
        1
    );
}

#[test]
fn suspended_actions_do_not_fire_and_preview_shows_the_band_over_days() {
    let mut up = action("up", "0 8 * * 1-5", "Europe/Berlin");
    let down = ScheduledAction {
        min: Some(1),
        max: Some(2),
        desired: None,
        ..action("down", "0 20 * * 1-5", "Europe/Berlin")
    };
    // Monday 2026-01-05 00:00Z, 7 days: 5 weekdays x 2 actions.
    let p = preview(&[up.clone(), down.clone()], Band { min: 1, max: 1 }, 1, utc(2026, 1, 5, 0, 0), 7);
    assert_eq!(p.len(), 10);
    assert_eq!((p[0].action.as_str(), p[0].min, p[0].max, p[0].desired), ("up", 2, 6, 3));
    assert!(p[0].local.contains("08:00 CET"), "{}", p[0].local);
    assert_eq!((p[1].action.as_str(), p[1].min, p[1].max, p[1].desired), ("down", 1, 2, 2));
    up.suspended = true;
    assert_eq!(preview(&[up, down], Band { min: 1, max: 1 }, 1, utc(2026, 1, 5, 0, 0), 7).len(), 5);
}
