//! The health checker of one environment: when to probe each instance under the environment's
//! health options, what live traffic says (refused connections), and how long to drain an
//! instance leaving rotation.
//!
//! It feeds the pure judges (`sprout_plan::judge_instance` for in/out of service, `enhanced`
//! for status and causes); it does not decide replacements itself. Its memory (next probe time,
//! passes in a row) is rebuilt empty after a restart: every instance is then probed at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_plan::ProbeRecord;
use sprout_store::HealthOptions;

use super::enhanced::{CheckFacts, HealthStatus, Traffic, judge_environment_status, judge_instance_status};
use super::snapshot::{Colour, InstanceView};
use crate::context::Ctx;

/// The window of live traffic that enhanced health judges, in seconds.
pub const TRAFFIC_WINDOW_S: u32 = 10;

/// A starting instance is probed this often until its first pass, whatever the interval, so it
/// takes traffic within a fraction of a second of being ready. (The end of a launch wakes the
/// controller too, so the first probe is not waiting on this; retries are.)
pub const STARTING_PROBE_EVERY: Duration = Duration::from_millis(100);

/// How often to look whether a draining instance still has requests in flight.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Per-instance memory beyond the plan's `ProbeRecord`.
#[derive(Debug, Clone, Default)]
pub struct ProbeSchedule {
    next_due: Option<DateTime<Utc>>,
    /// Passing checks in a row (for the healthy threshold).
    pub consecutive_passes: u32,
    /// Failed a check since it was last fully healthy (for the healthy threshold).
    recovering: bool,
    /// The last closed metrics second already scanned for refused connections.
    scanned_through: Option<i64>,
}

/// One environment's probe schedule, and the options it last ran with.
#[derive(Debug, Default)]
pub struct HealthChecker {
    schedules: HashMap<String, ProbeSchedule>,
    options: HealthOptions,
}

impl HealthChecker {
    /// The options in force, as last read from the environment.
    pub fn options(&self) -> &HealthOptions {
        &self.options
    }

    pub fn set_options(&mut self, options: &HealthOptions) {
        if self.options != *options {
            self.options = options.clone();
        }
    }

    pub fn schedule(&self, instance: &str) -> Option<&ProbeSchedule> {
        self.schedules.get(instance)
    }

    pub fn forget(&mut self, instance: &str) {
        self.schedules.remove(instance);
    }

    /// Probes the instance if it is due (always while it has never passed; every
    /// `interval_s` once in service) and counts refused connections seen by live traffic since
    /// the last look as failed checks.
    /// Fills each instance's enhanced status and causes and judges the environment's, from the
    /// probe records, this checker's schedules and the last 10 s of live traffic.
    pub fn enhance(
        &self,
        ctx: &Ctx,
        (app, env): (&str, &str),
        probes: &HashMap<String, ProbeRecord>,
        views: &mut [InstanceView],
        desired: u32,
        version: &str,
    ) -> (HealthStatus, Colour, Vec<String>) {
        let metrics = ctx.lb.metrics();
        let traffic = |summary: sprout_lb::Second| Traffic {
            requests: summary.requests,
            status_5xx: summary.status_5xx(),
            window_s: TRAFFIC_WINDOW_S,
        };
        for view in views.iter_mut() {
            let record = probes.get(&view.id).cloned().unwrap_or_default();
            let schedule = self.schedules.get(&view.id).cloned().unwrap_or_default();
            let failing = if record.passed_once { record.consecutive_failures } else { 0 };
            let facts = CheckFacts {
                failing,
                last_failure: record.last_failure.clone(),
                recovering: schedule
                    .recovering
                    .then_some((schedule.consecutive_passes, self.options.healthy_threshold)),
            };
            view.failing_check =
                (failing > 0).then(|| record.last_failure.clone().unwrap_or_else(|| "no answer".into()));
            let seen = traffic(metrics.instance_summary(app, env, &view.id, TRAFFIC_WINDOW_S));
            (view.status, view.causes) = judge_instance_status(&view.health, &facts, seen);
        }
        let seen = traffic(metrics.summary(app, env, TRAFFIC_WINDOW_S));
        judge_environment_status(views, desired, version, seen)
    }

    pub async fn check(
        &mut self,
        ctx: &Ctx,
        (app, env, instance): (&str, &str, &str),
        record: &mut ProbeRecord,
        addr: SocketAddr,
        now: DateTime<Utc>,
    ) {
        let opts = &self.options;
        let schedule = self.schedules.entry(instance.to_owned()).or_default();

        // Passive: a connection the load balancer could not open counts against the instance,
        // once per tick that saw any, so a dead instance leaves rotation without waiting for
        // `interval_s` probes.
        let metrics = ctx.lb.metrics();
        if let Some(last) = metrics.last_closed() {
            let since = schedule.scanned_through.unwrap_or(last - 1).clamp(last - i64::from(SECONDS_TO_SCAN), last);
            let refused: u64 = metrics
                .instance_series(app, env, instance, (last - since) as u32)
                .iter()
                .map(|second| second.connect_errors)
                .sum();
            schedule.scanned_through = Some(last);
            if record.passed_once && refused > 0 {
                schedule.recovering = true;
                record.consecutive_failures += 1;
                schedule.consecutive_passes = 0;
                record.last_failure = Some(format!("the load balancer could not connect {refused} time(s)"));
            }
        }

        if record.passed_once && schedule.next_due.is_some_and(|due| now < due) {
            return;
        }
        let timeout = Duration::from_secs(opts.timeout_s.max(1));
        match ctx.prober.probe(addr, &opts.path, timeout).await {
            Ok(()) => {
                record.passed_once = true;
                record.consecutive_failures = 0;
                schedule.consecutive_passes += 1;
                if schedule.consecutive_passes >= opts.healthy_threshold {
                    schedule.recovering = false;
                }
            }
            Err(why) => {
                if !record.passed_once {
                    tracing::debug!(app, env, instance, "starting instance not ready yet: {why}");
                }
                schedule.recovering |= record.passed_once;
                record.consecutive_failures += 1;
                record.last_failure = Some(why);
                schedule.consecutive_passes = 0;
            }
        }
        let interval = chrono::Duration::seconds(opts.interval_s.max(1) as i64);
        schedule.next_due = Some(now + interval);
    }
}

/// The most live traffic scanned for refused connections in one look, in seconds.
const SECONDS_TO_SCAN: u32 = 10;

/// Waits while an instance that left rotation finishes its in-flight requests: at least
/// `settle` (requests that picked the instance just before the table changed), at most the
/// deregistration delay, and no longer than it has requests in flight.
pub async fn drain(ctx: &Ctx, (app, env, instance): (&str, &str, &str), deregistration_delay: Duration) {
    let settle = ctx.settings.drain.min(deregistration_delay);
    tokio::time::sleep(settle).await;
    let deadline = tokio::time::Instant::now() + deregistration_delay.saturating_sub(settle);
    while ctx.lb.metrics().instance_in_flight(app, env, instance) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(DRAIN_POLL).await;
    }
}
