//! Auto-scaling settings, Elastic Beanstalk style: metric triggers (`aws:autoscaling:trigger`),
//! target tracking on requests per instance, cooldowns, the scale-in stabilisation window, the
//! request queue used while capacity starts, and scheduled actions
//! (`aws:autoscaling:scheduledaction`).
//!
//! Plain data with defaults and validation. Not here: deciding anything (that is
//! `sprout_plan::scaling`) or evaluating cron recurrences (`sprout_plan::schedule`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a trigger measures. Names as Elastic Beanstalk spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Measure {
    /// Requests per second through the load balancer, for the whole environment.
    RequestCount,
    /// Response time in milliseconds.
    Latency,
    /// Percent of one core, averaged over instances.
    CPUUtilization,
    /// Bytes per second.
    NetworkIn,
    NetworkOut,
}

/// How the per-second samples of one period are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statistic {
    Sum,
    Average,
    Minimum,
    Maximum,
}

/// A metric trigger: when the measure's statistic over each period stays above the upper
/// threshold for the breach duration, add `upper_increment` instances; below the lower
/// threshold, add `lower_increment` (negative: remove).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trigger {
    pub measure: Measure,
    pub statistic: Statistic,
    /// Shown in reasons ("Count/Second", "Milliseconds", "Percent", "Bytes").
    pub unit: String,
    /// Seconds per period (at least 1: the load balancer measures every second).
    pub period_s: u32,
    /// Seconds the threshold must stay breached (a whole number of periods).
    pub breach_duration_s: u32,
    pub upper_threshold: f64,
    pub lower_threshold: f64,
    pub upper_increment: i32,
    pub lower_increment: i32,
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger {
            measure: Measure::RequestCount,
            statistic: Statistic::Average,
            unit: "Count/Second".into(),
            period_s: 1,
            breach_duration_s: 2,
            upper_threshold: 100.0,
            lower_threshold: 20.0,
            upper_increment: 1,
            lower_increment: -1,
        }
    }
}

/// Requests held by the load balancer while the environment has no in-service instance, or
/// every instance is at its limit (capacity starting), instead of refused. `max_requests` 0
/// or `max_wait_ms` 0: refuse at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSettings {
    pub max_requests: u32,
    pub max_wait_ms: u64,
    /// Requests one instance may have in flight; past it requests wait in the queue for room
    /// or for a new instance. None: no limit (requests go to the least busy instance).
    pub max_in_flight_per_instance: Option<u32>,
}

/// Most instances a warm pool may keep.
pub const MAX_WARM_POOL: u32 = 20;

/// How often the queue reading (`ScalingSettings::queue_url`) is polled, in seconds.
pub const QUEUE_POLL_EVERY_S: u64 = 2;
/// The longest scale-in window or cooldown, in seconds (a day): longer ones are typos, and every
/// window is arithmetic on timestamps.
pub const MAX_WINDOW_S: u32 = 86_400;
/// The most requests one environment's queue may hold while no instance has room.
pub const MAX_QUEUE_REQUESTS: u32 = 100_000;

/// Longest a request may be held: clients and proxies in front commonly give up at 30 s.
pub const MAX_QUEUE_WAIT_MS: u64 = 30_000;

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings { max_requests: 1000, max_wait_ms: 3000, max_in_flight_per_instance: None }
    }
}

/// Everything auto-scaling needs beyond the band (`CapacityOptions`).
///
/// The defaults are fast on purpose: with only `target_rps` set, a step in load is seen within
/// `scale_out_window_s` (2 s) and instances are ordered at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingSettings {
    /// Target tracking: keep requests per instance per second near this.
    pub target_rps: Option<f64>,
    /// Seconds the load must stay above target before scaling out.
    pub scale_out_window_s: u32,
    /// A surge: one second at this many times the current capacity scales out at once,
    /// without waiting for the window (a step that large is not noise). 0 turns it off.
    pub surge_factor: f64,
    /// Stabilisation window: seconds the load must stay low before scaling in.
    pub scale_in_window_s: u32,
    /// Seconds after a scale-out before the next scale-out.
    pub scale_out_cooldown_s: u32,
    /// Seconds after any scaling action before a scale-in.
    pub scale_in_cooldown_s: u32,
    pub trigger: Option<Trigger>,
    /// A queue-depth reading: a URL whose answer's body is a number (jobs waiting), polled
    /// every few seconds (`QUEUE_POLL_EVERY_S`). Target tracking on it with
    /// `target_queue_per_instance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// Target tracking on the queue reading: keep jobs waiting per instance near this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_queue_per_instance: Option<f64>,
    pub queue: QueueSettings,
    /// Warm pool: this many instances of the current version kept launched, healthy and out of
    /// rotation beyond the desired count, so a scale-out puts them in service at once (and
    /// launches replacements for the pool behind them).
    pub warm_pool: u32,
    /// Whether the warm pool's instances wait running or stopped (`WarmPoolState`).
    pub warm_pool_state: WarmPoolState,
    pub scheduled_actions: Vec<ScheduledAction>,
}

/// How a warm pool's instances wait, as Elastic Beanstalk's warm pools (`PoolState`) do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WarmPoolState {
    /// Launched, health-checked and out of rotation: put in service at once.
    #[default]
    Running,
    /// Created (network, volumes, containers) and never started: no CPU and little memory.
    /// Started on demand, which skips image resolution and container creation; each must pass
    /// its health check before it takes traffic.
    Stopped,
}

impl Default for ScalingSettings {
    fn default() -> Self {
        ScalingSettings {
            target_rps: None,
            scale_out_window_s: 2,
            surge_factor: 2.0,
            scale_in_window_s: 300,
            scale_out_cooldown_s: 0,
            scale_in_cooldown_s: 30,
            trigger: None,
            queue_url: None,
            target_queue_per_instance: None,
            queue: QueueSettings::default(),
            warm_pool: 0,
            warm_pool_state: WarmPoolState::Running,
            scheduled_actions: Vec::new(),
        }
    }
}

/// A scheduled action: at each recurrence (or once, at `start`, when there is no recurrence)
/// set the band and the starting desired count. Metric scaling then moves inside the band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledAction {
    pub name: String,
    /// 5-field cron (`0 8 * * 1-5`) or 6 fields with seconds first; None: a one-off at `start`.
    #[serde(default)]
    pub recurrence: Option<String>,
    /// IANA time zone the recurrence is read in.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Recurring: not before this. One-off: the instant it fires.
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// Recurring: not after this.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    #[serde(default)]
    pub desired: Option<u32>,
    #[serde(default)]
    pub suspended: bool,
}

fn utc() -> String {
    "UTC".into()
}

/// A refused setting: the field, what is wrong, and a correct example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message} (example: {example})")]
pub struct SettingError {
    pub field: String,
    pub message: String,
    pub example: String,
}

pub fn setting_error(field: &str, message: impl Into<String>, example: &str) -> SettingError {
    SettingError { field: field.into(), message: message.into(), example: example.into() }
}

/// Checks a band: min at most max, desired inside it.
pub fn check_band(min: u32, max: u32, desired: Option<u32>) -> Result<(), SettingError> {
    if min > max {
        return Err(setting_error("min", format!("min {min} is above max {max}"), "--min 1 --max 4"));
    }
    if let Some(d) = desired
        && (d < min || d > max)
    {
        return Err(setting_error(
            "desired",
            format!("desired {d} is outside the band {min}..{max}"),
            "--min 1 --max 4 --desired 2",
        ));
    }
    Ok(())
}

impl ScalingSettings {
    /// Every check that needs no cron or time-zone database (those are `sprout_plan::schedule`).
    pub fn validate(&self) -> Result<(), SettingError> {
        if let Some(t) = self.target_rps
            && !(t.is_finite() && t > 0.0)
        {
            return Err(setting_error(
                "target_rps",
                format!("the target must be a positive number of requests per instance per second, not {t}"),
                "--target-rps 50",
            ));
        }
        if let Some(t) = self.target_queue_per_instance {
            if !(t.is_finite() && t > 0.0) {
                return Err(setting_error(
                    "target_queue_per_instance",
                    format!("the target must be a positive number of jobs waiting per instance, not {t}"),
                    "scaling.target_queue_per_instance=10",
                ));
            }
            if self.queue_url.is_none() {
                return Err(setting_error(
                    "target_queue_per_instance",
                    "target tracking on the queue needs a reading to track: set scaling.queue_url too",
                    "scaling.queue_url=http://127.0.0.1:9000/depth scaling.target_queue_per_instance=10",
                ));
            }
        }
        if self.queue.max_wait_ms > MAX_QUEUE_WAIT_MS {
            return Err(setting_error(
                "queue.max_wait_ms",
                format!(
                    "{} ms is longer than a held request may wait ({MAX_QUEUE_WAIT_MS} ms; clients time out first)",
                    self.queue.max_wait_ms
                ),
                "--queue-wait-ms 3000",
            ));
        }
        if self.warm_pool > MAX_WARM_POOL {
            return Err(setting_error(
                "warm_pool",
                format!("{} instances is more than a warm pool may keep ({MAX_WARM_POOL})", self.warm_pool),
                "--warm-pool 2",
            ));
        }
        if self.queue.max_in_flight_per_instance == Some(0) {
            return Err(setting_error(
                "queue.max_in_flight_per_instance",
                "an instance must be allowed at least 1 request in flight",
                "--instance-limit 50",
            ));
        }
        for (field, value) in
            [("scale_in_window_s", self.scale_in_window_s), ("scale_in_cooldown_s", self.scale_in_cooldown_s)]
        {
            if value > MAX_WINDOW_S {
                return Err(setting_error(
                    field,
                    format!("{value} s is longer than a day ({MAX_WINDOW_S} s), the longest window Sprout accepts"),
                    "--scale-in-window 300",
                ));
            }
        }
        if self.queue.max_requests > MAX_QUEUE_REQUESTS {
            return Err(setting_error(
                "queue.max_requests",
                format!(
                    "{} held requests is more than an environment may hold ({MAX_QUEUE_REQUESTS}; each holds a connection)",
                    self.queue.max_requests
                ),
                "--queue 1000",
            ));
        }
        if self.scale_out_window_s == 0 {
            return Err(setting_error("scale_out_window_s", "must be at least 1 second", "2"));
        }
        if let Some(tr) = &self.trigger {
            if tr.period_s == 0 {
                return Err(setting_error("trigger.period_s", "a period is at least 1 second", "1"));
            }
            if tr.breach_duration_s < tr.period_s || tr.breach_duration_s % tr.period_s != 0 {
                return Err(setting_error(
                    "trigger.breach_duration_s",
                    "must be a whole number of periods, at least one",
                    "period_s 1, breach_duration_s 2",
                ));
            }
            if tr.lower_threshold > tr.upper_threshold {
                return Err(setting_error(
                    "trigger.lower_threshold",
                    "is above the upper threshold",
                    "lower 20, upper 100",
                ));
            }
        }
        Ok(())
    }
}
