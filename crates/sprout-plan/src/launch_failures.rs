//! Launches of one environment that keep failing the same way: said once, then counted.
//!
//! The first failure of an error is a `LaunchFailed` event, as before; the same error again (the
//! instance's own id aside: each try launches a new instance) is counted, not said, while the
//! environment's health carries it as a cause with the count and the next try. The run ends when
//! an instance launched after its first failure comes into service (one launched before proves
//! nothing), when no launch is wanted any more, or when launches fail another way; a run of more than one failure then says how many there were
//! (`LaunchFailuresEnded`). A pool with no subnet left, a missing image or a refused host path
//! thus make one event and one cause, not one event every back-off.
//!
//! Pure, and part of the pass's memory: lost on restart like the back-off it sits beside.

use chrono::{DateTime, Utc};
use sprout_model::event::Event;

use crate::enhanced::HealthStatus;

/// Failures of one run from which the environment is Degraded rather than Warning.
pub const DEGRADED_FROM: u32 = 3;

/// One error, failing launch after launch.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingLaunches {
    /// The error with the instance's id taken out: the same for every try.
    pub key: String,
    /// The error as the first failure said it.
    pub error: String,
    pub count: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// The environment's run of failing launches, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchFailures {
    pub run: Option<FailingLaunches>,
}

/// An error with the instance's id replaced, so tries of one failure compare equal.
fn key(instance: &str, error: &str) -> String {
    if instance.is_empty() { error.to_string() } else { error.replace(instance, "i-…") }
}

impl LaunchFailures {
    /// The launch of `instance` failed with `error`; the next try waits `retry_in_s`. Returns
    /// the events to say: none when it failed as the run's last did.
    pub fn note(&mut self, instance: &str, error: &str, retry_in_s: u64, now: DateTime<Utc>) -> Vec<Event> {
        let key = key(instance, error);
        if let Some(run) = self.run.as_mut().filter(|r| r.key == key) {
            run.count = run.count.saturating_add(1);
            run.last_at = now;
            return Vec::new();
        }
        let mut events: Vec<Event> = self.end().into_iter().collect();
        self.run = Some(FailingLaunches { key, error: error.to_string(), count: 1, first_at: now, last_at: now });
        events.push(Event::LaunchFailed { instance: instance.to_string(), error: error.to_string(), retry_in_s });
        events
    }

    /// An instance launched at `launched_at` (Unix seconds) came into service: launches work
    /// again if it was launched after the run's first failure, and the run ends.
    pub fn served(&mut self, launched_at: i64) -> Option<Event> {
        let run = self.run.as_ref()?;
        if launched_at > run.first_at.timestamp() { self.end() } else { None }
    }

    /// Launches work again, or none is wanted: the run ends, said with its count when the
    /// failure repeated (a single one was said already, and what follows it shows).
    pub fn end(&mut self) -> Option<Event> {
        let run = self.run.take()?;
        (run.count > 1).then(|| Event::LaunchFailuresEnded {
            error: run.error,
            failures: run.count,
            over_s: (run.last_at - run.first_at).num_seconds().max(0) as u64,
        })
    }

    /// The cause `sprout health` shows while launches fail, with its level: Warning, Degraded
    /// from `DEGRADED_FROM` failures.
    pub fn judge(&self, next_try: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<(HealthStatus, String)> {
        let run = self.run.as_ref()?;
        let level = if run.count >= DEGRADED_FROM { HealthStatus::Degraded } else { HealthStatus::Warning };
        let times = if run.count == 1 { "once".to_string() } else { format!("{} times", run.count) };
        let next = match next_try.map(|t| (t - now).num_seconds()) {
            Some(s) if s > 0 => format!("; next try in {s} s"),
            _ => String::new(),
        };
        let since = run.first_at.format("%H:%M:%S UTC");
        Some((level, format!("instances fail to launch ({times} since {since}): {}{next}", run.error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    const FULL: &str = "the instance network pool 100.80.0.0/27 is full: all 2 subnets of /28 are in use";

    #[test]
    fn the_same_failure_is_said_once_and_counted() {
        let mut f = LaunchFailures::default();
        let first = f.note("i-1", FULL, 2, at(0));
        assert_eq!(first, [Event::LaunchFailed { instance: "i-1".into(), error: FULL.into(), retry_in_s: 2 }]);
        assert!(f.note("i-2", FULL, 4, at(2)).is_empty());
        assert!(f.note("i-3", FULL, 8, at(6)).is_empty());
        let (level, cause) = f.judge(Some(at(14)), at(6)).unwrap();
        assert_eq!(level, HealthStatus::Degraded);
        assert_eq!(cause, format!("instances fail to launch (3 times since 08:00:00 UTC): {FULL}; next try in 8 s"));
        // An instance launched before the failures proves nothing; one launched after does.
        assert_eq!(f.served(at(0).timestamp()), None);
        let ended = Event::LaunchFailuresEnded { error: FULL.into(), failures: 3, over_s: 6 };
        assert_eq!(f.served(at(7).timestamp()), Some(ended));
        assert_eq!(f.judge(None, at(7)), None);
        assert_eq!(f.end(), None);
    }

    #[test]
    fn the_instance_id_in_an_error_does_not_make_it_another() {
        let mut f = LaunchFailures::default();
        let err = |i: &str| format!("container engine refused create_container on sprout-a-b-{i}-web: bad mount");
        assert_eq!(f.note("i-1", &err("i-1"), 2, at(0)).len(), 1);
        assert!(f.note("i-2", &err("i-2"), 4, at(2)).is_empty());
        assert_eq!(f.run.as_ref().unwrap().count, 2);
    }

    #[test]
    fn another_failure_ends_the_run_and_is_said() {
        let mut f = LaunchFailures::default();
        f.note("i-1", "no such image", 2, at(0));
        f.note("i-2", "no such image", 4, at(2));
        let events = f.note("i-3", FULL, 8, at(6));
        assert_eq!(
            events,
            [
                Event::LaunchFailuresEnded { error: "no such image".into(), failures: 2, over_s: 2 },
                Event::LaunchFailed { instance: "i-3".into(), error: FULL.into(), retry_in_s: 8 },
            ]
        );
        let (level, cause) = f.judge(None, at(6)).unwrap();
        assert_eq!(level, HealthStatus::Warning);
        assert!(cause.starts_with("instances fail to launch (once since"), "{cause}");
        // A single failure that ends says nothing more.
        assert_eq!(f.end(), None);
    }
}
