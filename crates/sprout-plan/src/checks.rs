//! What the controller remembers of one instance's health checks between passes: the probe
//! record the judge reads (`ProbeRecord`), when the next probe is due, passes in a row and
//! whether it is recovering, and how far live traffic has been scanned for refused connections.
//!
//! Pure bookkeeping: the controller runs the probes (in the background, each with its own
//! timeout) and reads the load balancer's metrics, then folds what came back in here. Its memory
//! restarts empty after a restart: every instance is then probed at once.

use chrono::{DateTime, Utc};
use sprout_model::options::HealthOptions;

use crate::enhanced::CheckFacts;
use crate::health::ProbeRecord;

/// The most live traffic scanned for refused connections in one look, in seconds.
pub const SECONDS_TO_SCAN: u32 = 10;

/// A starting instance (never passed) is probed this often, whatever the interval, so it takes
/// traffic within a fraction of a second of being ready, and no faster: a probe's end wakes the
/// controller, so probing again at once would spin.
pub const STARTING_PROBE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Which of an environment's instances to probe in a pass at `now`: those due, and, when any
/// is, the healthy ones due within half an interval too. An environment's instances so come to
/// be checked in the same pass, and a quiet environment passes once per interval instead of once
/// per instance (`controller::watch::pace` in the server). A probe only goes early beside one
/// that is due: the interval between an instance's checks shortens once, then holds.
pub fn probes_to_start<'a>(
    checks: impl IntoIterator<Item = (&'a str, &'a InstanceChecks)>,
    now: DateTime<Utc>,
    options: &HealthOptions,
) -> Vec<&'a str> {
    let checks: Vec<(&str, &InstanceChecks)> = checks.into_iter().collect();
    if !checks.iter().any(|(_, c)| c.probe_due(now)) {
        return Vec::new();
    }
    checks.into_iter().filter(|(_, c)| c.probe_due(now) || c.due_soon(now, options)).map(|(id, _)| id).collect()
}

/// One instance's check memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceChecks {
    pub record: ProbeRecord,
    next_due: Option<DateTime<Utc>>,
    /// Passing checks in a row (for the healthy threshold).
    pub consecutive_passes: u32,
    /// Failed a check since it was last fully healthy (for the healthy threshold).
    recovering: bool,
    /// The last closed metrics second already scanned for refused connections.
    scanned_through: Option<i64>,
}

impl InstanceChecks {
    /// Is a probe due? Every `STARTING_PROBE_EVERY` while the instance has never passed, every
    /// `interval_s` once it has.
    pub fn probe_due(&self, now: DateTime<Utc>) -> bool {
        self.next_due.is_none_or(|due| now >= due)
    }

    /// Would a probe be due by `now` if started up to half an interval early? Only for an
    /// instance that is healthy by its checks: a failing or starting one keeps its own pace.
    fn due_soon(&self, now: DateTime<Utc>, options: &HealthOptions) -> bool {
        let steady = self.record.passed_once && self.record.consecutive_failures == 0 && !self.recovering;
        let early = chrono::Duration::milliseconds(options.interval_s.max(1) as i64 * 500);
        steady && self.next_due.is_none_or(|due| now + early >= due)
    }

    /// When the next probe is due (None: at once).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.next_due
    }

    /// How many seconds of live traffic, up to the load balancer's last closed second, are not
    /// scanned for refused connections yet (at most `SECONDS_TO_SCAN`).
    pub fn scan_window(&self, last_closed: i64) -> u32 {
        let since = self
            .scanned_through
            .unwrap_or(last_closed - 1)
            .clamp(last_closed - i64::from(SECONDS_TO_SCAN), last_closed);
        (last_closed - since) as u32
    }

    /// Passive checking: connections the load balancer could not open since the last look count
    /// as one failed check, so a dead instance leaves rotation without waiting for `interval_s`.
    pub fn note_refused(&mut self, last_closed: i64, refused: u64) {
        self.scanned_through = Some(last_closed);
        if self.record.passed_once && refused > 0 {
            self.recovering = true;
            self.record.consecutive_failures += 1;
            self.consecutive_passes = 0;
            self.record.last_failure = Some(format!("the load balancer could not connect {refused} time(s)"));
        }
    }

    /// A probe came back (started at `started`): pass or failure with what it saw.
    pub fn note_probe(&mut self, outcome: Result<(), String>, options: &HealthOptions, started: DateTime<Utc>) {
        match outcome {
            Ok(()) => {
                self.record.passed_once = true;
                self.record.consecutive_failures = 0;
                self.consecutive_passes += 1;
                if self.consecutive_passes >= options.healthy_threshold {
                    self.recovering = false;
                }
            }
            Err(why) => {
                self.recovering |= self.record.passed_once;
                self.record.consecutive_failures += 1;
                self.record.last_failure = Some(why);
                self.consecutive_passes = 0;
            }
        }
        let wait = match self.record.passed_once {
            true => chrono::Duration::seconds(options.interval_s.max(1) as i64),
            false => chrono::Duration::from_std(STARTING_PROBE_EVERY).expect("a small duration"),
        };
        self.next_due = Some(started + wait);
    }

    /// What enhanced health reads of these checks.
    pub fn facts(&self, healthy_threshold: u32) -> CheckFacts {
        let failing = if self.record.passed_once { self.record.consecutive_failures } else { 0 };
        CheckFacts {
            failing,
            last_failure: self.record.last_failure.clone(),
            recovering: self.recovering.then_some((self.consecutive_passes, healthy_threshold)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_starting_instance_is_always_due_and_a_serving_one_every_interval() {
        let opts = HealthOptions { interval_s: 15, ..Default::default() };
        let mut c = InstanceChecks::default();
        assert!(c.probe_due(at(0)));
        c.note_probe(Err("connection refused".into()), &opts, at(0));
        assert!(!c.probe_due(at(0)), "never passed: probed again soon, not at once");
        assert!(c.probe_due(at(0) + chrono::Duration::milliseconds(100)));
        c.note_probe(Ok(()), &opts, at(1));
        assert!(!c.probe_due(at(15)));
        assert!(c.probe_due(at(16)));
    }

    #[test]
    fn healthy_instances_due_soon_go_with_one_that_is_due_and_come_into_step() {
        let opts = HealthOptions { interval_s: 15, ..Default::default() };
        let checked_at = |s| {
            let mut c = InstanceChecks::default();
            c.note_probe(Ok(()), &opts, at(s));
            c
        };
        let (a, b, far) = (checked_at(0), checked_at(5), checked_at(12));
        let mut failing = checked_at(5);
        failing.note_probe(Err("GET / returned 500".into()), &opts, at(6));
        let all = |now| probes_to_start([("a", &a), ("b", &b), ("far", &far), ("failing", &failing)], now, &opts);
        assert!(all(at(14)).is_empty(), "none due: none early either");
        // At 15, a is due; b (due at 20) goes with it; far (due at 27) and failing (due at 21
        // but failing: its own pace) do not.
        assert_eq!(all(at(15)), ["a", "b"]);
        // Checked together, a and b fall due together: one pass for both from then on.
        let (a, b) = (checked_at(15), checked_at(15));
        assert_eq!(probes_to_start([("a", &a), ("b", &b)], at(30), &opts), ["a", "b"]);
        let never = InstanceChecks::default();
        assert_eq!(probes_to_start([("new", &never)], at(0), &opts), ["new"], "a new instance at once");
    }

    #[test]
    fn refused_connections_count_once_a_look_and_only_after_a_first_pass() {
        let opts = HealthOptions::default();
        let mut c = InstanceChecks::default();
        c.note_refused(100, 3);
        assert_eq!(c.record.consecutive_failures, 0);
        c.note_probe(Ok(()), &opts, at(0));
        assert_eq!(c.scan_window(105), 5);
        c.note_refused(105, 3);
        assert_eq!(c.record.consecutive_failures, 1);
        assert_eq!(c.scan_window(105), 0);
        assert_eq!(c.scan_window(200), SECONDS_TO_SCAN);
        let facts = c.facts(opts.healthy_threshold);
        assert_eq!((facts.failing, facts.recovering), (1, Some((0, opts.healthy_threshold))));
    }

    #[test]
    fn recovery_ends_at_the_healthy_threshold() {
        let opts = HealthOptions { healthy_threshold: 2, ..Default::default() };
        let mut c = InstanceChecks::default();
        c.note_probe(Ok(()), &opts, at(0));
        c.note_probe(Err("GET / returned 500".into()), &opts, at(20));
        c.note_probe(Ok(()), &opts, at(40));
        assert_eq!(c.facts(2).recovering, Some((1, 2)));
        c.note_probe(Ok(()), &opts, at(60));
        assert_eq!(c.facts(2).recovering, None);
    }
}
