//! Scaling decisions: from the last seconds of metrics, the current counts, the band and the
//! last actions, the desired instance count and the reason in words.
//!
//! Target tracking sizes absolutely (`ceil(load / target)`), so deciding twice orders nothing
//! twice and instances still starting already count. It scales out once the load has stayed
//! above the current capacity for `scale_out_window_s` (at once for a surge of `surge_factor`
//! times capacity), and scales in only to the largest size
//! the load needed over the whole stabilisation window, so it never flaps. Triggers act by
//! increments and need a fresh breach after their last action. What the autoscaler remembers
//! between looks and which of these decisions a look asks for is in `autoscaler`. Not here:
//! reading metrics or the clock, or applying the decision (the server's autoscale controller
//! does).

use chrono::{DateTime, Utc};
use sprout_model::environment::EnvironmentRecord;
use sprout_model::scaling::{Measure, ScalingSettings, Statistic, Trigger};

/// One second of an environment's metrics. None: not measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSample {
    /// The end of the second the sample covers.
    pub at: DateTime<Utc>,
    /// Requests per second for the whole environment.
    pub requests: f64,
    pub latency_ms: Option<f64>,
    pub cpu_percent: Option<f64>,
    pub network_in: Option<f64>,
    pub network_out: Option<f64>,
    /// The latest queue reading (`scaling.queue_url`), jobs waiting; None: no fresh reading.
    pub queue_depth: Option<f64>,
}

impl MetricSample {
    fn value(&self, m: Measure) -> Option<f64> {
        match m {
            Measure::RequestCount => Some(self.requests),
            Measure::Latency => self.latency_ms,
            Measure::CPUUtilization => self.cpu_percent,
            Measure::NetworkIn => self.network_in,
            Measure::NetworkOut => self.network_out,
        }
    }
}

/// The second still open: requests that arrived in it so far. The whole second will have at
/// least as many, so a surge is seen before the second closes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OpenSecond {
    pub requests: f64,
    /// How far into the second (0 to 1).
    pub elapsed_s: f64,
}

/// Instance counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub desired: u32,
    pub in_service: u32,
    /// Launched, not yet in service: capacity to come.
    pub starting: u32,
}

/// The band metric scaling moves inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub min: u32,
    pub max: u32,
}

impl Band {
    pub fn clamp(&self, n: u32) -> u32 {
        n.clamp(self.min, self.max.max(self.min))
    }
}

/// The band metric scaling moves inside for an environment; without one, the desired count
/// alone. The one reading of `CapacityOptions`, for the autoscaler and the API alike.
pub fn band_of(env: &EnvironmentRecord) -> Band {
    Band {
        min: env.options.capacity.min.unwrap_or(env.desired_instances),
        max: env.options.capacity.max.unwrap_or(env.desired_instances),
    }
}

/// When the environment last scaled each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastActions {
    pub scale_out: Option<DateTime<Utc>>,
    pub scale_in: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
}

/// The desired count, and when it changes, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub desired: u32,
    pub change: Option<(Direction, String)>,
}

/// Decide the desired count. `window` holds one sample per second, oldest first.
pub fn decide_scaling(
    settings: &ScalingSettings,
    window: &[MetricSample],
    current: Counts,
    band: Band,
    last: LastActions,
    now: DateTime<Utc>,
) -> Decision {
    let from = current.desired;
    let change = |to: u32, why: String| {
        let dir = if to > from { Direction::Out } else { Direction::In };
        Decision { desired: to, change: Some((dir, format!("{why}: desired {from} -> {to}"))) }
    };
    let clamped = band.clamp(from);
    if clamped != from {
        return change(clamped, format!("desired count outside the band {}..{}", band.min, band.max));
    }
    let since = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_seconds()).unwrap_or(i64::MAX);
    let last_any = since(last.scale_out).min(since(last.scale_in));
    let out_allowed = since(last.scale_out) >= settings.scale_out_cooldown_s as i64;
    let in_allowed = last_any >= settings.scale_in_cooldown_s as i64;

    if let Some(target) = settings.target_rps.filter(|t| *t > 0.0) {
        let need = |rps: f64| ((rps / target) - 1e-9).ceil().max(0.0) as u32;
        if let (Some(last_s), true) = (window.last(), settings.surge_factor > 0.0 && out_allowed) {
            let capacity = from.max(1) as f64 * target;
            let to = band.clamp(need(last_s.requests));
            if last_s.requests >= settings.surge_factor * capacity && to > from {
                return change(
                    to,
                    format!(
                        "RequestCount {} requests/s in the last second, over {} times the capacity of {} instance(s) at target {} per instance",
                        thousands(last_s.requests),
                        settings.surge_factor,
                        from,
                        thousands(target)
                    ),
                );
            }
        }
        let out_n = settings.scale_out_window_s.max(1) as usize;
        if window.len() >= out_n && out_allowed {
            let recent = &window[window.len() - out_n..];
            let low = recent.iter().map(|s| s.requests).fold(f64::INFINITY, f64::min);
            let to = band.clamp(need(low));
            if to > from {
                return change(
                    to,
                    format!(
                        "RequestCount {} requests/s over {out_n} s above target {} per instance",
                        thousands(low),
                        thousands(target)
                    ),
                );
            }
        }
        let in_n = settings.scale_in_window_s.max(1) as usize;
        if window.len() >= in_n && in_allowed && current.starting == 0 {
            let span = &window[window.len() - in_n..];
            let high = span.iter().map(|s| s.requests).fold(0.0, f64::max);
            let to = band.clamp(need(high));
            if to < from {
                return change(
                    to,
                    format!(
                        "RequestCount at most {} requests/s over the last {in_n} s, target {} per instance",
                        thousands(high),
                        thousands(target)
                    ),
                );
            }
        }
    }

    if let Some((to, why)) = queue::track(settings, window, current, band, (out_allowed, in_allowed)) {
        return change(to, why);
    }

    if let Some(tr) = &settings.trigger {
        // A breach counts only if observed entirely after the last action of either kind.
        let fresh: Vec<&MetricSample> = window
            .iter()
            .filter(|s| last.scale_out.is_none_or(|t| s.at > t) && last.scale_in.is_none_or(|t| s.at > t))
            .collect();
        if let Some((above, values)) = breach(tr, &fresh) {
            let (inc, thr, word) = if above {
                (tr.upper_increment, tr.upper_threshold, "above")
            } else {
                (tr.lower_increment, tr.lower_threshold, "below")
            };
            let allowed = if inc > 0 { out_allowed && current.starting == 0 } else { in_allowed };
            let to = band.clamp((from as i64 + inc as i64).clamp(0, u32::MAX as i64) as u32);
            if allowed && to != from {
                let shown = values.iter().map(|v| thousands(*v)).collect::<Vec<_>>().join(", ");
                return change(
                    to,
                    format!(
                        "{:?} {:?} {shown} {} over {} s {word} {} {}",
                        tr.measure,
                        tr.statistic,
                        tr.unit,
                        tr.breach_duration_s,
                        thousands(thr),
                        tr.unit
                    ),
                );
            }
        }
    }
    Decision { desired: from, change: None }
}

/// Decide on the second still open, for a surge only: once the requests that arrived in it
/// reach `surge_factor` times the capacity (a lower bound for the whole second, so no noise
/// can fake it), scale out without waiting for the second to close. The order is sized on the
/// rate so far, counting at least half a second, so an early burst orders at most twice what it
/// shows. Everything else waits for closed seconds (`decide_scaling`).
pub fn decide_surge(
    settings: &ScalingSettings,
    open: OpenSecond,
    current: Counts,
    band: Band,
    last: LastActions,
    now: DateTime<Utc>,
) -> Decision {
    let from = current.desired;
    let none = Decision { desired: from, change: None };
    let Some(target) = settings.target_rps.filter(|t| *t > 0.0) else { return none };
    let out_allowed = last.scale_out.is_none_or(|t| (now - t).num_seconds() >= settings.scale_out_cooldown_s as i64);
    if settings.surge_factor <= 0.0 || !out_allowed || band.clamp(from) != from {
        return none;
    }
    let capacity = from.max(1) as f64 * target;
    if open.requests < settings.surge_factor * capacity {
        return none;
    }
    let rate = open.requests / open.elapsed_s.clamp(0.5, 1.0);
    let to = band.clamp(((rate / target) - 1e-9).ceil().max(0.0) as u32);
    if to <= from {
        return none;
    }
    let why = format!(
        "RequestCount {} requests in the first {} ms of this second, over {} times the capacity of {} instance(s) at target {} per instance: desired {from} -> {to}",
        thousands(open.requests),
        (open.elapsed_s * 1000.0).round() as i64,
        settings.surge_factor,
        from,
        thousands(target)
    );
    Decision { desired: to, change: Some((Direction::Out, why)) }
}

/// Whether every period of the breach duration is above the upper (true) or below the lower
/// (false) threshold; with the per-period values, oldest first.
fn breach(tr: &Trigger, window: &[&MetricSample]) -> Option<(bool, Vec<f64>)> {
    let period = tr.period_s.max(1) as usize;
    let periods = (tr.breach_duration_s.max(tr.period_s) as usize).div_ceil(period);
    if window.len() < periods * period {
        return None;
    }
    let span = &window[window.len() - periods * period..];
    let mut values = Vec::with_capacity(periods);
    for chunk in span.chunks(period) {
        let xs: Option<Vec<f64>> = chunk.iter().map(|s| s.value(tr.measure)).collect();
        let xs = xs?;
        let v = match tr.statistic {
            Statistic::Sum => xs.iter().sum(),
            Statistic::Average => xs.iter().sum::<f64>() / xs.len() as f64,
            Statistic::Minimum => xs.iter().cloned().fold(f64::INFINITY, f64::min),
            Statistic::Maximum => xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        };
        values.push(v);
    }
    if values.iter().all(|v| *v > tr.upper_threshold) {
        Some((true, values))
    } else if values.iter().all(|v| *v < tr.lower_threshold) {
        Some((false, values))
    } else {
        None
    }
}

/// `4210.4` as `4,210`: whole numbers with thousands separators, one decimal below 10.
pub fn thousands(v: f64) -> String {
    if v.abs() < 10.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub mod autoscaler;
mod queue;
pub mod wake;

#[cfg(test)]
#[path = "scaling/tests.rs"]
mod tests;
