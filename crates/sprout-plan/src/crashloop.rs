//! Crash loops: instances of one environment replaced again and again for the same cause.
//!
//! Every replacement of an unhealthy instance is noted with its cause (the essential container
//! and what happened to it). Replacements within `ROUND_S` of each other are one *round*:
//! instances started together die together (seen over a pass or two), and that is one strike of
//! the cause, not several. The first round is
//! replaced at once, as before; from the second on, the replacement's launch waits 10 s, doubling
//! up to 5 min, so a loop cannot burn the host or flood the events. Healthy capacity is never
//! touched: only launches of the looping deploy key wait, and a deploy of another version is not
//! held. A loop is Warning at its 2nd round, Degraded from the 3rd, Severe from the 6th (see
//! docs/health.md), says its cause in words
//! with the advice that fits, and is over once its cause has not recurred for `QUIET_S` after the
//! last replacement could launch (an instance that stays up that long resets the back-off), or
//! when its version is no longer wanted and no instance of it is left.
//!
//! Pure: the pass keeps a [`CrashLoops`] in its memory and asks it what to hold and show. Like
//! the rest of that memory it is lost when the server restarts; counting then starts again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sprout_model::event::Event;

use crate::enhanced::HealthStatus;
use crate::health::{ContainerObservation, ObservedState};

/// Replacements of one cause this close to the first of their round belong to that round.
pub const ROUND_S: i64 = 2;
/// The wait before the second replacement of a cause; it doubles for each further one.
pub const FIRST_BACKOFF_S: u64 = 10;
/// The longest wait before a replacement.
pub const MAX_BACKOFF_S: u64 = 300;
/// How long a cause must stay away after the last replacement could launch for its loop to end.
pub const QUIET_S: u64 = 60;

/// Why instances are replaced, in words, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Stable across replacements: the same cause on a new instance has the same key.
    pub key: String,
    pub words: String,
    pub advice: String,
}

impl Cause {
    /// The cause of an instance's replacement: what its first failing essential container shows,
    /// else the verdict's own words (health checks, a missing container).
    pub fn of(containers: Option<&[ContainerObservation]>, verdict: &str) -> Cause {
        let failing = containers
            .unwrap_or_default()
            .iter()
            .filter(|c| c.essential)
            .find_map(|c| c.state.and_then(|s| matches!(s, ObservedState::Exited { .. }).then_some((c, s))));
        match failing {
            Some((c, ObservedState::Exited { oom: true, .. })) => {
                let limit = c.memory_mib.map(|m| format!(", limit {m} MiB")).unwrap_or_default();
                let now = c.memory_mib.map(|m| format!(" (now {m} MiB)")).unwrap_or_default();
                Cause {
                    key: format!("oom:{}", c.name),
                    words: format!("essential container {} killed for lack of memory (OOM{limit})", c.name),
                    advice: format!(
                        "raise `memory` of container {}{now} in Dockerrun.aws.json and deploy the new version",
                        c.name
                    ),
                }
            }
            Some((c, ObservedState::Exited { code, .. })) => Cause {
                key: format!("exit:{}:{code}", c.name),
                words: format!("essential container {} exited with code {code}", c.name),
                advice: format!("read why in `sprout logs ENV --container {}`", c.name),
            },
            _ => Cause {
                key: verdict.to_string(),
                words: verdict.to_string(),
                advice: "read `sprout health ENV` and `sprout logs ENV`".to_string(),
            },
        }
    }
}

/// One loop: a cause that keeps replacing instances of one deploy key.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashLoop {
    pub deploy_key: String,
    pub cause: Cause,
    pub replacements: u32,
    /// Times the cause struck (see the module's documentation).
    pub rounds: u32,
    /// When the current round began.
    pub round_at: DateTime<Utc>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Launches of `deploy_key` wait until then.
    pub hold_until: DateTime<Utc>,
    /// The level last said in an event.
    pub said: HealthStatus,
}

impl CrashLoop {
    /// The wait before the replacement that follows the `n`th round: none after the first.
    fn backoff_s(n: u32) -> u64 {
        match n {
            0 | 1 => 0,
            n => FIRST_BACKOFF_S.saturating_mul(1 << (n - 2).min(16)).min(MAX_BACKOFF_S),
        }
    }

    fn same_round(&self, now: DateTime<Utc>) -> bool {
        (now - self.round_at).num_milliseconds() < ROUND_S * 1000
    }

    pub fn level(&self) -> HealthStatus {
        match self.rounds {
            0 | 1 => HealthStatus::Ok,
            2 => HealthStatus::Warning,
            3..=5 => HealthStatus::Degraded,
            _ => HealthStatus::Severe,
        }
    }

    fn within_s(&self) -> u64 {
        (self.last_at - self.first_at).num_seconds().max(0) as u64
    }

    fn event(&self, now: DateTime<Utc>) -> Event {
        Event::CrashLoop {
            cause: self.cause.words.clone(),
            replacements: self.replacements,
            within_s: self.within_s(),
            retry_in_s: (self.hold_until - now).num_seconds().max(0) as u64,
            level: format!("{:?}", self.level()),
        }
    }
}

/// Every loop of one environment, by cause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrashLoops {
    loops: BTreeMap<String, CrashLoop>,
}

impl CrashLoops {
    /// An instance of `deploy_key` is being replaced for `cause`. Returns the event to say when
    /// the loop's level changed; None for a first replacement (the caller says that one itself)
    /// and for further ones at the same level.
    pub fn note(&mut self, deploy_key: &str, cause: Cause, now: DateTime<Utc>) -> Option<Event> {
        let entry = self.loops.entry(cause.key.clone()).or_insert_with(|| CrashLoop {
            deploy_key: deploy_key.to_string(),
            cause: cause.clone(),
            replacements: 0,
            rounds: 0,
            round_at: now,
            first_at: now,
            last_at: now,
            hold_until: now,
            said: HealthStatus::Ok,
        });
        entry.deploy_key = deploy_key.to_string();
        entry.cause = cause;
        if entry.replacements == 0 || !entry.same_round(now) {
            entry.rounds = entry.rounds.saturating_add(1);
            entry.round_at = now;
        }
        entry.replacements = entry.replacements.saturating_add(1);
        entry.last_at = now;
        entry.hold_until = now + chrono::Duration::seconds(CrashLoop::backoff_s(entry.rounds) as i64);
        let level = entry.level();
        (level != entry.said).then(|| {
            entry.said = level;
            entry.event(now)
        })
    }

    /// Whether a replacement noted now belongs to a loop (a round after the first): the loop's
    /// event stands for it.
    pub fn is_looping(&self, cause_key: &str, now: DateTime<Utc>) -> bool {
        self.loops.get(cause_key).is_some_and(|l| l.rounds >= 2 || (l.rounds == 1 && !l.same_round(now)))
    }

    /// Ends loops whose cause stayed away for `QUIET_S` after the last replacement could launch,
    /// and those of a deploy key no longer wanted that no instance runs. Returns their events
    /// (none for a single replacement that never became a loop).
    pub fn expire(&mut self, desired_key: &str, running: &[&str], now: DateTime<Utc>) -> Vec<Event> {
        let mut ended = Vec::new();
        self.loops.retain(|_, l| {
            let quiet = now >= l.hold_until + chrono::Duration::seconds(QUIET_S as i64);
            let abandoned = l.deploy_key != desired_key && !running.contains(&l.deploy_key.as_str());
            let keep = !(quiet || abandoned);
            if !keep && l.rounds >= 2 {
                ended.push(Event::CrashLoopEnded { cause: l.cause.words.clone(), replacements: l.replacements });
            }
            keep
        });
        ended
    }

    /// When launches of `deploy_key` may start again, if a loop holds them now.
    pub fn held_until(&self, deploy_key: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.loops.values().filter(|l| l.deploy_key == deploy_key && l.hold_until > now).map(|l| l.hold_until).max()
    }

    /// The environment's health as the loops see it: the worst level and one cause per loop.
    pub fn judge(&self, now: DateTime<Utc>) -> (HealthStatus, Vec<String>) {
        let mut status = HealthStatus::Ok;
        let mut causes = Vec::new();
        for l in self.loops.values().filter(|l| l.rounds >= 2) {
            status = status.worst(l.level());
            let wait = (l.hold_until - now).num_seconds();
            let next = if wait > 0 { format!("; next replacement in {wait} s") } else { String::new() };
            causes.push(format!(
                "instances replaced {} times in {} s: {}{next}; {}",
                l.replacements,
                l.within_s(),
                l.cause.words,
                l.cause.advice
            ));
        }
        (status, causes)
    }
}

#[cfg(test)]
mod tests;
