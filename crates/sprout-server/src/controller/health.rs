//! The health checker's effects for one environment: probes run in the background, each with
//! its own timeout, so one slow `/health` never holds up a pass (nor the routing changes of the
//! environment's other instances); live traffic read from the load balancer's metrics; and the
//! drain of an instance leaving rotation.
//!
//! What the outcomes mean is pure and lives in `sprout_plan::checks` (bookkeeping) and
//! `sprout_plan::pass` (judging); this module only runs probes and reads metrics.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_model::options::HealthOptions;
use sprout_plan::checks::InstanceChecks;
use sprout_plan::enhanced::Traffic;
use tokio::sync::Notify;

use crate::context::Ctx;

pub use sprout_plan::enhanced::TRAFFIC_WINDOW_S;

/// How often to look whether a draining instance still has requests in flight.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// A probe that came back: the instance, when it started, and what it saw.
type Outcome = (String, DateTime<Utc>, Result<(), String>);

/// Probes in flight and outcomes not yet folded into the controller's memory.
#[derive(Debug, Clone, Default)]
pub struct Probes {
    in_flight: Arc<Mutex<HashSet<String>>>,
    done: Arc<Mutex<Vec<Outcome>>>,
}

impl Probes {
    /// Starts a probe of `instance` at `addr` unless one is in flight. Its end wakes the
    /// controller (`wake`) when it can change routing: a pass, or a failure of an instance that
    /// has served (a starting instance's failure waits for the next pass, 100 ms on). The prober
    /// is given the health check's timeout, and the probe is abandoned shortly after it in any
    /// case, so a prober that ignores it cannot hang one.
    pub fn start(
        &self,
        ctx: &Ctx,
        (instance, has_served): (&str, bool),
        addr: SocketAddr,
        options: &HealthOptions,
        now: DateTime<Utc>,
        wake: Arc<Notify>,
    ) {
        if !self.in_flight.lock().unwrap().insert(instance.to_string()) {
            return;
        }
        let (prober, path, instance) = (ctx.prober.clone(), options.path.clone(), instance.to_string());
        let timeout = Duration::from_secs(options.timeout_s.max(1));
        let (in_flight, done) = (self.in_flight.clone(), self.done.clone());
        tokio::spawn(async move {
            let outcome =
                match tokio::time::timeout(timeout + Duration::from_millis(500), prober.probe(addr, &path, timeout))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("GET {path} did not answer within {} s", timeout.as_secs())),
                };
            // A new instance's first pass puts it in service, and a failure takes a serving one
            // out; a serving instance passing again changes nothing that cannot wait for the
            // next pass (with hundreds of instances, a pass per check was most of the passes).
            let worth_a_pass = if has_served { outcome.is_err() } else { outcome.is_ok() };
            done.lock().unwrap().push((instance.clone(), now, outcome));
            in_flight.lock().unwrap().remove(&instance);
            if worth_a_pass {
                wake.notify_one();
            }
        });
    }

    /// Is a probe of `instance` running, or back and not folded in yet?
    pub fn pending(&self, instance: &str) -> bool {
        self.in_flight.lock().unwrap().contains(instance)
            || self.done.lock().unwrap().iter().any(|(id, _, _)| id == instance)
    }

    /// Folds the probes that came back into `checks`, for instances still `live`; the others'
    /// outcomes are dropped (the instance is gone or leaving).
    pub fn fold(
        &self,
        checks: &mut std::collections::BTreeMap<String, InstanceChecks>,
        live: &HashSet<&str>,
        options: &HealthOptions,
    ) {
        for (instance, started, outcome) in std::mem::take(&mut *self.done.lock().unwrap()) {
            if live.contains(instance.as_str()) {
                if let Err(why) = &outcome {
                    tracing::debug!(instance, "health check failed: {why}");
                }
                checks.entry(instance).or_default().note_probe(outcome, options, started);
            }
        }
    }
}

/// Counts connections the load balancer could not open to `instance` since the last look.
pub fn note_refused(ctx: &Ctx, (app, env, instance): (&str, &str, &str), checks: &mut InstanceChecks) {
    let metrics = ctx.lb.metrics();
    if let Some(last) = metrics.last_closed() {
        let seconds = checks.scan_window(last);
        let refused: u64 =
            metrics.instance_series(app, env, instance, seconds).iter().map(|second| second.connect_errors).sum();
        checks.note_refused(last, refused);
    }
}

/// An instance's live traffic over the enhanced-health window (the environment's with None).
pub fn traffic(ctx: &Ctx, (app, env): (&str, &str), instance: Option<&str>) -> Traffic {
    let metrics = ctx.lb.metrics();
    let summary = match instance {
        Some(id) => metrics.instance_summary(app, env, id, TRAFFIC_WINDOW_S),
        None => metrics.summary(app, env, TRAFFIC_WINDOW_S),
    };
    // 5xx with a code the environment ignores (`health.ignore_codes`) are not failures here.
    let status_5xx = summary.status_5xx().saturating_sub(summary.ignored_5xx);
    Traffic { requests: summary.requests, status_5xx, window_s: TRAFFIC_WINDOW_S }
}

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
