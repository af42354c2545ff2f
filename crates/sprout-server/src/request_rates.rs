//! Where the autoscaler reads load: the `MetricSource` trait, the load balancer's per-second
//! metrics behind it, and a fixed source for tests and benchmarks. Not here: what the readings
//! decide (sprout-plan's `scaling`) or when they are read (the controller's loop).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sprout_lb::LoadBalancer;
use sprout_plan::scaling::{MetricSample, OpenSecond};

use crate::routing::EnvKey;

/// Where the autoscaler reads an environment's metrics, one sample per environment per call.
pub trait MetricSource: Send + Sync + 'static {
    fn read(&self, now: DateTime<Utc>) -> HashMap<EnvKey, MetricSample>;

    /// The second still open, per environment. Empty when the source cannot tell: decisions
    /// then wait for closed seconds.
    fn peek(&self, _now: DateTime<Utc>) -> HashMap<EnvKey, OpenSecond> {
        HashMap::new()
    }
}

/// The load balancer's own per-second metrics: each environment's last closed second (request
/// rate, mean latency, bytes in and out), so every Elastic Beanstalk trigger measure but CPU has
/// a value.
pub struct LbMetrics {
    lb: Arc<LoadBalancer>,
}

impl LbMetrics {
    pub fn new(lb: Arc<LoadBalancer>) -> Self {
        LbMetrics { lb }
    }
}

impl MetricSource for LbMetrics {
    fn read(&self, now: DateTime<Utc>) -> HashMap<EnvKey, MetricSample> {
        let mut out = HashMap::new();
        for r in self.lb.stats().routes.values() {
            // An environment answers under several host names; its metrics are kept once.
            let key = EnvKey::new(&r.app, &r.env);
            if out.contains_key(&key) {
                continue;
            }
            let Some(last) = self.lb.metrics().series(&r.app, &r.env, 1).pop() else {
                // No request in the last closed second: a quiet second is a sample too (scale-in
                // depends on seeing it).
                out.insert(key, MetricSample { at: now, requests: 0.0, ..Default::default() });
                continue;
            };
            let span = f64::from(last.span_s.max(1));
            let latency_ms = (last.latency.count() > 0)
                .then(|| last.latency.sum().as_secs_f64() * 1000.0 / last.latency.count() as f64);
            out.insert(
                key,
                MetricSample {
                    at: now,
                    requests: last.requests as f64 / span,
                    latency_ms,
                    cpu_percent: None,
                    network_in: Some(last.bytes_in as f64 / span),
                    network_out: Some(last.bytes_out as f64 / span),
                    queue_depth: None,
                },
            );
        }
        out
    }

    fn peek(&self, now: DateTime<Utc>) -> HashMap<EnvKey, OpenSecond> {
        // The live bucket holds this second only once the previous one is closed (the ticker
        // closes it 2 ms past the boundary); before that it still holds the previous second.
        let metrics = self.lb.metrics();
        if metrics.last_closed() != Some(now.timestamp() - 1) {
            return HashMap::new();
        }
        let elapsed_s = f64::from(now.timestamp_subsec_millis()) / 1000.0;
        metrics
            .open_seconds()
            .into_iter()
            .map(|((app, env), n)| (EnvKey::new(app, env), OpenSecond { requests: n as f64, elapsed_s }))
            .collect()
    }
}

/// A metric source that reports what it is told, for tests and benchmarks.
#[derive(Default)]
pub struct FixedMetrics {
    closed: Mutex<HashMap<EnvKey, f64>>,
    open: Mutex<HashMap<EnvKey, f64>>,
}

impl FixedMetrics {
    /// Every closed second of the environment has this many requests.
    pub fn set_rps(&self, app: &str, env: &str, rps: f64) {
        self.closed.lock().unwrap().insert(EnvKey::new(app, env), rps);
    }

    /// The open second, whenever peeked at, has had this many requests so far.
    pub fn set_open(&self, app: &str, env: &str, requests: f64) {
        self.open.lock().unwrap().insert(EnvKey::new(app, env), requests);
    }
}

impl MetricSource for FixedMetrics {
    fn read(&self, now: DateTime<Utc>) -> HashMap<EnvKey, MetricSample> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .map(|(k, r)| (k.clone(), MetricSample { at: now, requests: *r, ..Default::default() }))
            .collect()
    }

    fn peek(&self, now: DateTime<Utc>) -> HashMap<EnvKey, OpenSecond> {
        let elapsed_s = f64::from(now.timestamp_subsec_millis()) / 1000.0;
        self.open.lock().unwrap().iter().map(|(k, r)| (k.clone(), OpenSecond { requests: *r, elapsed_s })).collect()
    }
}
