//! The autoscaler's memory of one environment, and what each of its looks decides: keep the
//! seconds just measured, sit out a deploy, fire scheduled actions that are due, otherwise let
//! the metrics (`decide_scaling`) or, between looks, a surge in the open second
//! (`decide_surge`) move the desired count.
//!
//! Pure: the caller reads the clock, the metrics, the store and the latest snapshot and passes
//! them in, applies the returned `ScalingPlan`, and reports back only what it managed to write
//! (`scheduled`, `scaled`), so a write that fails leaves the memory as if nothing had been
//! decided and the next look decides again. Not here: the scaling and schedule rules themselves
//! (`scaling`, `schedule`), reading or writing anything, events, timers.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use sprout_model::environment::{EnvStatus, EnvironmentRecord};

use super::{Band, Counts, Direction, LastActions, MetricSample, OpenSecond, band_of, decide_scaling, decide_surge};
use crate::schedule::{Firing, due_actions};

/// How often the autoscaler looks, in seconds: the load balancer measures whole seconds, so
/// looking more often would only see the same second again.
pub const LOOK_EVERY_S: u64 = 1;

/// Lead for scheduled actions before any launch has been measured.
const DEFAULT_LAUNCH_S: i64 = 3;

/// Launch times kept: the slowest of the last few sets the lead, so one slow pull is not
/// forgotten at the next fast launch, nor remembered forever.
const LAUNCHES_KEPT: usize = 5;

/// Launch times believed, in seconds. Longer (or negative, after a clock step) means the
/// instance was adopted or restarted, not launched just now, and says nothing about launches.
const PLAUSIBLE_LAUNCH_S: Range<i64> = 0..120;

/// Samples kept beyond the longest window the settings ask for, so a window that grows by a
/// setting change finds some history.
const WINDOW_SLACK: usize = 5;

/// Samples kept at most (an hour), whatever the settings ask for: memory per environment stays
/// bounded.
const WINDOW_MAX: usize = 3600;

/// How long a fired action is remembered. `due_actions` only looks at instants after the last
/// look, so a firing older than the lead can never come back; a day is ample.
fn fired_kept() -> Duration {
    Duration::days(1)
}

/// One instance of the latest snapshot, as far as the autoscaler cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSeen {
    pub id: String,
    pub in_service: bool,
    /// Launched and not yet judged (health Pending): capacity to come.
    pub starting: bool,
    /// Unix seconds.
    pub launched_at: i64,
}

/// What one look (or peek) says to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalingPlan {
    /// Nothing to write.
    Hold,
    /// A deploy runs: say so once per deploy, write nothing.
    Wait { reason: String },
    /// Scheduled actions are due: write the last one's band and desired count, then report
    /// them with `scheduled`.
    Schedule { band: Band, desired: u32, firings: Vec<Firing> },
    /// Metrics move the desired count: write it, then report with `scaled`.
    Scale { direction: Direction, to: u32, reason: String },
}

/// What the autoscaler remembers about one environment. Rebuilt by watching after a restart:
/// scale-in then waits a full stabilisation window, which errs on the side of capacity.
#[derive(Debug, Clone)]
pub struct ScalingMemory {
    window: VecDeque<MetricSample>,
    last: LastActions,
    last_checked: DateTime<Utc>,
    fired: BTreeSet<(String, DateTime<Utc>)>,
    /// Whether the wait for the current deploy has been announced.
    waiting: bool,
    /// Seconds from launch to in service, most recent launches.
    launch_s: VecDeque<i64>,
    in_service: HashSet<String>,
}

impl ScalingMemory {
    pub fn new(now: DateTime<Utc>) -> Self {
        ScalingMemory {
            window: VecDeque::new(),
            last: LastActions::default(),
            last_checked: now,
            fired: BTreeSet::new(),
            waiting: false,
            launch_s: VecDeque::new(),
            in_service: HashSet::new(),
        }
    }

    /// A look, once a second has closed: `sample` is that second, `instances` the latest
    /// snapshot (None before the first).
    pub fn decide_look(
        &mut self,
        env: &EnvironmentRecord,
        sample: MetricSample,
        instances: Option<&[InstanceSeen]>,
        now: DateTime<Utc>,
    ) -> ScalingPlan {
        let s = &env.options.scaling;
        self.window.push_back(sample);
        let keep = (s.scale_in_window_s.max(s.scale_out_window_s) as usize)
            .max(s.trigger.as_ref().map(|t| t.breach_duration_s as usize).unwrap_or(0))
            + WINDOW_SLACK;
        while self.window.len() > keep.min(WINDOW_MAX) {
            self.window.pop_front();
        }
        self.fired.retain(|(_, at)| now - *at < fired_kept());
        // Observed whatever the status, so launches during a deploy teach the lead too.
        let counts = self.observe(env.desired_instances, instances, now);

        match env.status {
            EnvStatus::Terminating => return ScalingPlan::Hold,
            EnvStatus::Launching | EnvStatus::Updating => {
                if self.waiting || !configured(env) {
                    return ScalingPlan::Hold;
                }
                self.waiting = true;
                let reason = format!(
                    "the environment is {} (a deploy is in progress); scaling resumes once it is Ready",
                    env.status.as_str()
                );
                return ScalingPlan::Wait { reason };
            }
            EnvStatus::Ready => self.waiting = false,
        }

        let band = band_of(env);
        let firings = due_actions(
            &s.scheduled_actions,
            band,
            env.desired_instances,
            &self.fired,
            self.last_checked,
            now,
            self.lead(),
        );
        // Advanced even if the caller's write then fails: a firing whose instant has passed is
        // not looked for again.
        self.last_checked = now;
        if let Some(last) = firings.last() {
            return ScalingPlan::Schedule { band: last.band, desired: last.desired, firings };
        }

        let d = decide_scaling(s, self.window.make_contiguous(), counts, band, self.last, now);
        match d.change {
            Some((direction, reason)) => ScalingPlan::Scale { direction, to: d.desired, reason },
            None => ScalingPlan::Hold,
        }
    }

    /// A peek at the second still open, for a surge only. `env` is freshly read: call it once
    /// `surge_possible` said the last look's copy shows one.
    pub fn decide_peek(
        &mut self,
        env: &EnvironmentRecord,
        open: OpenSecond,
        instances: Option<&[InstanceSeen]>,
        now: DateTime<Utc>,
    ) -> ScalingPlan {
        if env.status != EnvStatus::Ready {
            return ScalingPlan::Hold;
        }
        let counts = self.observe(env.desired_instances, instances, now);
        let d = decide_surge(&env.options.scaling, open, counts, band_of(env), self.last, now);
        match d.change {
            Some((direction, reason)) => ScalingPlan::Scale { direction, to: d.desired, reason },
            None => ScalingPlan::Hold,
        }
    }

    /// The firings of a `Schedule` plan were written.
    pub fn scheduled(&mut self, firings: &[Firing], now: DateTime<Utc>) {
        for f in firings {
            self.fired.insert((f.action.clone(), f.at));
        }
        // A schedule's desired count is a fresh start: forget the load seen before it, so
        // metric scale-in waits a whole stabilisation window from here.
        self.window.clear();
        self.last.scale_out = Some(now);
    }

    /// The count of a `Scale` plan was written.
    pub fn scaled(&mut self, direction: Direction, now: DateTime<Utc>) {
        match direction {
            Direction::Out => self.last.scale_out = Some(now),
            Direction::In => self.last.scale_in = Some(now),
        }
    }

    /// How early a schedule orders capacity: the slowest recent launch plus one look, so the
    /// instances are serving at the action's instant.
    fn lead(&self) -> Duration {
        Duration::seconds(self.launch_s.iter().copied().max().unwrap_or(DEFAULT_LAUNCH_S) + LOOK_EVERY_S as i64)
    }

    /// Counts from the snapshot; notes how long new instances took to come into service.
    fn observe(&mut self, desired: u32, instances: Option<&[InstanceSeen]>, now: DateTime<Utc>) -> Counts {
        let Some(instances) = instances else {
            // Nothing observed yet: all of the desired count is on its way.
            return Counts { desired, in_service: 0, starting: desired };
        };
        let mut c = Counts { desired, ..Default::default() };
        let mut seen = HashSet::new();
        for i in instances {
            if i.in_service {
                c.in_service += 1;
                seen.insert(i.id.clone());
                let took = now.timestamp() - i.launched_at;
                if !self.in_service.contains(&i.id) && PLAUSIBLE_LAUNCH_S.contains(&took) {
                    self.launch_s.push_back(took);
                    if self.launch_s.len() > LAUNCHES_KEPT {
                        self.launch_s.pop_front();
                    }
                }
            } else if i.starting {
                c.starting += 1;
            }
        }
        self.in_service = seen;
        // Ordered but not yet visible (the reconciler is still creating them) is starting too:
        // otherwise a scale-in could cancel capacity that is seconds from serving.
        c.starting = c.starting.max(c.desired.saturating_sub(c.in_service));
        c
    }
}

/// Whether anything would move this environment's count: a band, a target, a trigger or a
/// schedule. Others hear nothing from the autoscaler.
pub fn configured(env: &EnvironmentRecord) -> bool {
    let (c, s) = (&env.options.capacity, &env.options.scaling);
    c.min != c.max
        || s.target_rps.is_some()
        || s.target_queue_per_instance.is_some()
        || s.trigger.is_some()
        || !s.scheduled_actions.is_empty()
}

/// Whether the open second may show a surge against the count in `env` (the last look's copy):
/// a cheap test before reading the store again, which most peeks fail.
pub fn surge_possible(env: &EnvironmentRecord, open: OpenSecond) -> bool {
    let Some(target) = env.options.scaling.target_rps else { return false };
    // "Not below" rather than "at least", as in `decide_surge`, so a NaN setting is treated the
    // same way by both.
    let below = open.requests < env.options.scaling.surge_factor * f64::from(env.desired_instances.max(1)) * target;
    env.status == EnvStatus::Ready && !below
}

#[cfg(test)]
mod tests;
