//! Scheduled actions: when they fire, what they set, and a preview of the band over days.
//!
//! Recurrences are read in the action's IANA time zone on local wall-clock time, then mapped to
//! instants: a local time the daylight-saving change skips fires once, at the first valid
//! instant after the gap; a local time it repeats fires once, at its first occurrence.
//!
//! Precedence: a scheduled action sets the band (min, max) and the starting desired count;
//! metric scaling moves inside that band until the next action. Not here: reading the clock or
//! the store (the server's autoscale controller does).

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use sprout_model::scaling::{ScheduledAction, SettingError, check_band, setting_error};

use crate::scaling::Band;

/// Parse a 5-field (or 6 with seconds first) cron expression.
pub fn parse_recurrence(expr: &str) -> Result<Cron, SettingError> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(setting_error(
            "recurrence",
            format!("{expr:?} has {fields} field(s); give 5 (minute hour day month weekday) or 6 (seconds first)"),
            "\"0 8 * * 1-5\"",
        ));
    }
    CronParser::builder().seconds(Seconds::Optional).build().parse(expr).map_err(|e| {
        setting_error("recurrence", format!("{expr:?} does not parse: {e}"), "\"0 8 * * 1-5\" (08:00 on weekdays)")
    })
}

pub fn parse_time_zone(name: &str) -> Result<Tz, SettingError> {
    Tz::from_str(name).map_err(|_| {
        setting_error("time_zone", format!("{name:?} is not an IANA time zone"), "Europe/Berlin, America/New_York, UTC")
    })
}

/// Every check of an action: name, recurrence or one-off instant, time zone, band.
pub fn validate_action(a: &ScheduledAction) -> Result<(), SettingError> {
    sprout_model::names::check_name("scheduled action", &a.name)
        .map_err(|m| setting_error("name", m, "weekday-morning"))?;
    match &a.recurrence {
        Some(r) => {
            parse_recurrence(r)?;
        }
        None if a.start.is_none() => {
            return Err(setting_error(
                "recurrence",
                "an action needs a recurrence, or a start time for a one-off",
                "--cron \"0 8 * * 1-5\" or --start 2026-05-01T08:00:00Z",
            ));
        }
        None => {}
    }
    parse_time_zone(&a.time_zone)?;
    if let (Some(s), Some(e)) = (a.start, a.end)
        && e <= s
    {
        return Err(setting_error(
            "end",
            "the end time is not after the start time",
            "--start 2026-05-01T00:00:00Z --end 2026-06-01T00:00:00Z",
        ));
    }
    if a.min.is_none() && a.max.is_none() && a.desired.is_none() {
        return Err(setting_error("min", "an action sets at least one of min, max, desired", "--min 2 --max 6"));
    }
    if let (Some(min), Some(max)) = (a.min, a.max) {
        check_band(min, max, a.desired)?;
    }
    Ok(())
}

/// The first instant strictly after `after` at which the action fires, if any.
pub fn next_fire(a: &ScheduledAction, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let Some(expr) = &a.recurrence else {
        return a.start.filter(|s| *s > after);
    };
    let cron = parse_recurrence(expr).ok()?;
    let tz = parse_time_zone(&a.time_zone).ok()?;
    let from = a.start.map(|s| (s - Duration::seconds(1)).max(after)).unwrap_or(after);
    next_in_zone(&cron, &tz, from).filter(|at| a.end.is_none_or(|e| *at <= e))
}

/// The first instant strictly after `from` at which `cron`, read on `tz`'s wall clock, fires
/// (see the module's documentation for daylight-saving changes). Shared with periodic jobs
/// (`crate::cron`).
pub fn next_in_zone(cron: &Cron, tz: &Tz, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Walk local wall-clock candidates (croner on a zone without DST), mapping each to an
    // instant; skip those that map at or before `from` (a repeated hour's second pass, or
    // several skipped times folded onto one instant).
    // Whole seconds: cron has no finer field, and croner would carry the fraction into its
    // answer, making the same firing look different from one tick to the next.
    let mut naive = from.with_timezone(tz).naive_local().with_nanosecond(0).unwrap_or_default();
    for _ in 0..10_000 {
        let cand = cron.find_next_occurrence(&Utc.from_utc_datetime(&naive), false).ok()?.naive_utc();
        let at = local_instant(tz, cand);
        if at > from {
            return Some(at);
        }
        naive = cand;
    }
    None
}

/// A local wall-clock time as an instant: the first of a repeated time; for a skipped one, the
/// first valid instant after the gap.
fn local_instant(tz: &Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let mut n = naive;
    for _ in 0..(4 * 60) {
        match tz.from_local_datetime(&n) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => {
                // In a gap: the first valid local minute is the instant the clocks jumped.
                let next = n + Duration::minutes(1);
                n = next.with_second(0).unwrap_or(next);
            }
        }
    }
    Utc.from_utc_datetime(&naive)
}

/// What an action sets, applied to the band and desired count it finds.
pub fn apply_action(a: &ScheduledAction, band: Band, desired: u32) -> (Band, u32) {
    let min = a.min.unwrap_or(band.min);
    let max = a.max.unwrap_or(band.max).max(min);
    let band = Band { min, max };
    (band, band.clamp(a.desired.unwrap_or(desired)))
}

/// An action that is due now, and what it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub action: String,
    /// The scheduled instant (the firing may come earlier, by the lead).
    pub at: DateTime<Utc>,
    pub band: Band,
    pub desired: u32,
    pub reason: String,
}

/// The actions due now, oldest instant first, each applied on top of the one before: those
/// with an instant in (`last_checked`, `now + lead`] not yet in `fired`. An action that adds
/// capacity fires `lead` early, so instances are serving at its instant; one that removes
/// capacity waits for its instant. The caller applies the last and marks them all fired.
pub fn due_actions(
    actions: &[ScheduledAction],
    band: Band,
    desired: u32,
    fired: &BTreeSet<(String, DateTime<Utc>)>,
    last_checked: DateTime<Utc>,
    now: DateTime<Utc>,
    lead: Duration,
) -> Vec<Firing> {
    let mut due: Vec<(DateTime<Utc>, &ScheduledAction)> = Vec::new();
    for a in actions.iter().filter(|a| !a.suspended) {
        let mut t = last_checked;
        while let Some(at) = next_fire(a, t) {
            if at > now + lead || due.len() > 1000 {
                break;
            }
            t = at;
            let adds = apply_action(a, band, desired).1 > desired;
            let fires_at = if adds { at - lead } else { at };
            if fires_at <= now && !fired.contains(&(a.name.clone(), at)) {
                due.push((at, a));
            }
        }
    }
    due.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.name.cmp(&y.1.name)));
    let (mut b, mut d) = (band, desired);
    due.into_iter()
        .map(|(at, a)| {
            let before = d;
            (b, d) = apply_action(a, b, d);
            let tz = &a.time_zone;
            let local = parse_time_zone(tz)
                .map(|z| at.with_timezone(&z).format("%Y-%m-%d %H:%M:%S %Z").to_string())
                .unwrap_or_default();
            let reason = format!(
                "scheduled action {} for {local} ({tz}) sets band {}..{}: desired {before} -> {d}",
                a.name, b.min, b.max
            );
            Firing { action: a.name.clone(), at, band: b, desired: d, reason }
        })
        .collect()
}

/// One change of the band in a preview.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BandChange {
    pub at: DateTime<Utc>,
    pub local: String,
    pub action: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

/// The band the actions will set over `days` days from `from`, starting from `band`/`desired`.
pub fn preview(
    actions: &[ScheduledAction],
    band: Band,
    desired: u32,
    from: DateTime<Utc>,
    days: u32,
) -> Vec<BandChange> {
    let until = from + Duration::days(days as i64);
    let mut firings: Vec<(DateTime<Utc>, &ScheduledAction)> = Vec::new();
    for a in actions.iter().filter(|a| !a.suspended) {
        let mut t = from;
        while let Some(at) = next_fire(a, t) {
            if at > until || firings.len() > 10_000 {
                break;
            }
            firings.push((at, a));
            t = at;
        }
    }
    firings.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.name.cmp(&y.1.name)));
    let (mut b, mut d) = (band, desired);
    firings
        .into_iter()
        .map(|(at, a)| {
            (b, d) = apply_action(a, b, d);
            let local = parse_time_zone(&a.time_zone)
                .map(|z| at.with_timezone(&z).format("%a %Y-%m-%d %H:%M %Z").to_string())
                .unwrap_or_default();
            BandChange { at, local, action: a.name.clone(), min: b.min, max: b.max, desired: d }
        })
        .collect()
}

#[cfg(test)]
#[path = "schedule/tests.rs"]
mod tests;
