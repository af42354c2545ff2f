//! The registry circuit: when Sprout may next ask a registry for something with one credential.
//!
//! Every call Sprout makes to a registry (an existence check, a digest look-up, a pull) asks its
//! circuit first, keyed by the registry and the credential. An authentication failure (the
//! registry refused the credential, or the lack of one) opens the circuit: nothing is tried with
//! that credential until the back-off has passed (1 min after the first failure, doubling with
//! each further one up to 30 min; configurable), and then exactly one attempt goes, the others
//! waiting for its outcome. A success, or a new credential (`sprout registry login`, which
//! starts a new circuit), closes it. So a changed password costs one refused attempt per window,
//! never one per instance: the seed's scale-out storm that locked its registry account cannot
//! happen.
//!
//! Transient failures (timeouts, 5xx, a registry that does not answer) are not the credential's
//! fault; they delay the next attempt by a jittered back-off (2 s doubling to 1 min), also one
//! attempt at a time, so that a registry that is down is not hammered either.
//!
//! Pure: the caller passes `now` and, for jitter, a number in [0, 1) from its random source.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The back-off schedule of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// The wait after the first authentication failure; it doubles with each further one.
    pub auth_first: Duration,
    pub auth_max: Duration,
    /// The wait after the first transient failure; it doubles, jittered, with each further one.
    pub transient_first: Duration,
    pub transient_max: Duration,
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        CircuitPolicy {
            auth_first: Duration::from_secs(60),
            auth_max: Duration::from_secs(30 * 60),
            transient_first: Duration::from_secs(2),
            transient_max: Duration::from_secs(60),
        }
    }
}

impl CircuitPolicy {
    /// The wait after `failures` authentication failures in a row (1 or more).
    pub fn auth_wait(&self, failures: u32) -> Duration {
        doubled(self.auth_first, failures, self.auth_max)
    }

    /// The wait after `failures` transient failures in a row, between half and all of the
    /// doubled wait as `jitter` goes from 0 to 1, so that callers that failed together do not
    /// come back together.
    pub fn transient_wait(&self, failures: u32, jitter: f64) -> Duration {
        let full = doubled(self.transient_first, failures, self.transient_max);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

fn doubled(first: Duration, failures: u32, max: Duration) -> Duration {
    first.saturating_mul(1u32 << failures.saturating_sub(1).min(20)).min(max)
}

/// Why a circuit holds attempts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The registry refused the credential at `at` (`failures` times in a row), with `message`.
    Auth { at: DateTime<Utc>, failures: u32, message: String },
    /// The registry failed at `at` in a way that may pass (`failures` times in a row).
    Transient { at: DateTime<Utc>, failures: u32, message: String },
}

/// What a caller may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Try now; report the outcome with `note_*`.
    Go,
    /// Another attempt is out; wait for its outcome.
    Busy,
    /// Wait until `until`, because of `why`.
    Wait { until: DateTime<Utc>, why: Refusal },
}

/// One registry and credential's circuit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Circuit {
    refusal: Option<(Refusal, DateTime<Utc>)>,
    /// An attempt made after a refusal is out: until it is reported, no other goes.
    probing: bool,
    /// The registry accepted the credential since the circuit began or was last refused:
    /// attempts may go side by side.
    verified: bool,
}

impl Circuit {
    /// May the caller try now? `Go` after a refusal marks the one attempt as out.
    pub fn decide_attempt(&mut self, now: DateTime<Utc>) -> Attempt {
        if self.probing {
            return Attempt::Busy;
        }
        match &self.refusal {
            Some((why, until)) if now < *until => Attempt::Wait { until: *until, why: why.clone() },
            None if self.verified => Attempt::Go,
            _ => {
                self.probing = true;
                Attempt::Go
            }
        }
    }

    /// What holds attempts back now, without claiming one (for health and `registry list`).
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<(&Refusal, DateTime<Utc>)> {
        self.refusal.as_ref().filter(|(_, until)| now < *until || self.probing).map(|(why, until)| (why, *until))
    }

    /// The registry accepted the credential: the circuit closes.
    pub fn note_success(&mut self) {
        *self = Circuit { refusal: None, probing: false, verified: true };
    }

    /// The registry refused the credential. Returns when the next attempt may go and whether
    /// this opened the circuit (the first refusal since it was closed: say it once).
    pub fn note_auth_failure(
        &mut self,
        policy: &CircuitPolicy,
        now: DateTime<Utc>,
        message: &str,
    ) -> (DateTime<Utc>, bool) {
        let failures = match &self.refusal {
            Some((Refusal::Auth { failures, .. }, _)) => failures + 1,
            _ => 1,
        };
        let until = now + policy.auth_wait(failures);
        self.refusal = Some((Refusal::Auth { at: now, failures, message: message.to_string() }, until));
        (self.probing, self.verified) = (false, false);
        (until, failures == 1)
    }

    /// The registry failed in a way that may pass. `jitter` is in [0, 1).
    pub fn note_transient_failure(
        &mut self,
        policy: &CircuitPolicy,
        now: DateTime<Utc>,
        message: &str,
        jitter: f64,
    ) -> DateTime<Utc> {
        let failures = match &self.refusal {
            Some((Refusal::Transient { failures, .. }, _)) => failures + 1,
            _ => 1,
        };
        let until = now + policy.transient_wait(failures, jitter);
        self.refusal = Some((Refusal::Transient { at: now, failures, message: message.to_string() }, until));
        (self.probing, self.verified) = (false, false);
        until
    }

    /// The attempt that went ended with neither an answer nor a refusal of the registry (the
    /// image does not exist, the engine failed): others may try again.
    pub fn note_other(&mut self) {
        self.probing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + s, 0).unwrap()
    }

    #[test]
    fn auth_back_off_is_one_minute_doubling_to_thirty() {
        let p = CircuitPolicy::default();
        let waits: Vec<u64> = (1..=8).map(|n| p.auth_wait(n).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!(p.auth_wait(u32::MAX).as_secs(), 1800);
    }

    #[test]
    fn transient_back_off_is_jittered_between_half_and_all() {
        let p = CircuitPolicy::default();
        assert_eq!(p.transient_wait(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.transient_wait(1, 1.0), Duration::from_secs(2));
        assert_eq!(p.transient_wait(3, 0.5), Duration::from_secs(6));
        assert_eq!(p.transient_wait(30, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn a_refused_credential_gets_one_attempt_per_window() {
        let p = CircuitPolicy::default();
        let mut c = Circuit::default();
        // New: one attempt finds out whether the credential is good; once it was accepted,
        // attempts go side by side (a credential that works is never held back).
        assert_eq!(c.decide_attempt(t(0)), Attempt::Go);
        assert_eq!(c.decide_attempt(t(0)), Attempt::Busy);
        c.note_success();
        assert_eq!(c.decide_attempt(t(0)), Attempt::Go);
        assert_eq!(c.decide_attempt(t(0)), Attempt::Go);
        // The password changed: the attempts out are refused; the first opens the circuit, the
        // others of the same moment are not said again.
        let (until, opened) = c.note_auth_failure(&p, t(0), "unauthorized");
        assert_eq!((until, opened), (t(60), true));
        assert!(!c.note_auth_failure(&p, t(0), "unauthorized").1);
        let mut c = Circuit::default();
        c.note_auth_failure(&p, t(0), "unauthorized");
        // Every attempt inside the window waits, however many ask.
        for s in [1, 30, 59] {
            match c.decide_attempt(t(s)) {
                Attempt::Wait { until, why: Refusal::Auth { at, failures: 1, .. } } => {
                    assert_eq!((until, at), (t(60), t(0)));
                }
                other => panic!("at {s}: {other:?}"),
            }
        }
        // At the end of the window exactly one goes; the others wait for it.
        assert_eq!(c.decide_attempt(t(60)), Attempt::Go);
        assert_eq!(c.decide_attempt(t(61)), Attempt::Busy);
        assert!(c.refusal(t(61)).is_some(), "still shown while the one attempt is out");
        // Refused again: the window doubles.
        let (until, opened) = c.note_auth_failure(&p, t(62), "unauthorized");
        assert_eq!((until, opened), (t(182), false));
        assert!(matches!(c.decide_attempt(t(181)), Attempt::Wait { .. }));
        assert_eq!(c.decide_attempt(t(182)), Attempt::Go);
        c.note_success();
        assert_eq!(c.decide_attempt(t(183)), Attempt::Go);
        assert_eq!(c.decide_attempt(t(183)), Attempt::Go);
        assert_eq!(c.refusal(t(183)), None);
    }

    #[test]
    fn transient_failures_back_off_one_attempt_at_a_time_and_auth_starts_its_own_count() {
        let p = CircuitPolicy::default();
        let mut c = Circuit::default();
        assert_eq!(c.note_transient_failure(&p, t(0), "503", 1.0), t(2));
        assert!(matches!(c.decide_attempt(t(1)), Attempt::Wait { why: Refusal::Transient { .. }, .. }));
        assert_eq!(c.decide_attempt(t(2)), Attempt::Go);
        assert_eq!(c.decide_attempt(t(2)), Attempt::Busy);
        assert_eq!(c.note_transient_failure(&p, t(3), "503", 1.0), t(7));
        assert_eq!(c.decide_attempt(t(7)), Attempt::Go);
        // An answer that is neither (the image is missing) lets the next caller try.
        c.note_other();
        assert_eq!(c.decide_attempt(t(7)), Attempt::Go);
        c.note_other();
        let (until, opened) = c.note_auth_failure(&p, t(8), "denied");
        assert_eq!((until, opened), (t(68), true), "the first refusal of the credential");
    }
}
