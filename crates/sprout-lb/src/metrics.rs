//! Per-second request metrics per environment and per instance: what health and auto-scaling
//! read, and what `/metrics` exports.
//!
//! The request path adds to atomics in the current second's live bucket of a [`Series`] it was
//! handed at publish time (no lock, no map lookup). Once a second, [`Metrics::close_second`]
//! (called by the ticker that `LoadBalancer::serve` starts, or by tests with explicit
//! timestamps) takes each live bucket into a closed [`Second`]. Closed seconds are kept for 15
//! minutes, then folded into one-minute buckets kept for 24 hours. Series of instances idle for a
//! day and no longer routed are forgotten.
//!
//! This module does not choose instances or export Prometheus text; it only counts and keeps.

mod histogram;
mod history;
mod ignored;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::StatusCode;

pub use histogram::Histogram;
use histogram::LiveHistogram;
use history::History;
pub use ignored::Ignored5xx;
use ignored::IgnoredMask;

/// Seconds kept at one-second resolution (15 minutes).
pub const SECONDS_KEPT: usize = 900;
/// Minutes kept at one-minute resolution (24 hours).
pub const MINUTES_KEPT: usize = 1440;
/// A series with no request for this long, and no longer routed, is dropped.
const FORGET_AFTER_S: i64 = 86_400;

/// What happened in one span of time (one second, or one minute once downsampled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Second {
    /// Unix time (seconds) at which the span starts.
    pub at: i64,
    /// 1 for a second, 60 for a downsampled minute.
    pub span_s: u32,
    /// Requests answered (by the instance, or by the load balancer itself for an environment).
    pub requests: u64,
    /// Answers by status class: index 0 is 1xx, 1 is 2xx, ..., 4 is 5xx.
    pub status: [u64; 5],
    /// Of the 5xx, those with a code the environment's health ignores (`health.ignore_codes`).
    pub ignored_5xx: u64,
    /// Request body bytes as declared by `Content-Length`.
    pub bytes_in: u64,
    /// Response body bytes sent to clients.
    pub bytes_out: u64,
    /// Connection attempts to an instance that failed (refused, timed out).
    pub connect_errors: u64,
    /// Requests in flight when the span closed (the largest such value for a minute).
    pub in_flight: u64,
    /// Time from receiving the request to sending the response head.
    pub latency: Histogram,
}

impl Second {
    pub fn status_2xx(&self) -> u64 {
        self.status[1]
    }
    pub fn status_5xx(&self) -> u64 {
        self.status[4]
    }

    /// Adds `other` into this span (counts add; in-flight keeps the larger).
    pub fn merge(&mut self, other: &Second) {
        self.requests += other.requests;
        for (mine, theirs) in self.status.iter_mut().zip(other.status) {
            *mine += theirs;
        }
        self.ignored_5xx += other.ignored_5xx;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.connect_errors += other.connect_errors;
        self.in_flight = self.in_flight.max(other.in_flight);
        self.latency.merge(&other.latency);
    }

    /// All spans added together, stamped with the first one's start and the total length.
    pub fn sum<'a>(spans: impl IntoIterator<Item = &'a Second>) -> Second {
        let mut total = Second::default();
        let mut first = true;
        for span in spans {
            if first {
                total.at = span.at;
                first = false;
            }
            total.span_s += span.span_s;
            total.merge(span);
        }
        total
    }
}

/// The live bucket: written by the request path with relaxed atomics.
#[derive(Default)]
struct Live {
    requests: AtomicU64,
    status: [AtomicU64; 5],
    ignored_5xx: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    connect_errors: AtomicU64,
    in_flight: AtomicI64,
    latency: LiveHistogram,
}

/// One environment's or one instance's metrics: the live bucket and the kept history.
#[derive(Default)]
pub struct Series {
    live: Live,
    ignored: IgnoredMask,
    history: Mutex<History>,
}

impl Series {
    /// Counts one answered request: status class and latency.
    pub(crate) fn record(&self, status: StatusCode, latency: Duration) {
        let live = &self.live;
        live.requests.fetch_add(1, Ordering::Relaxed);
        let class = usize::from((status.as_u16() / 100).clamp(1, 5)) - 1;
        live.status[class].fetch_add(1, Ordering::Relaxed);
        if class == 4 && self.ignored.contains(status.as_u16()) {
            live.ignored_5xx.fetch_add(1, Ordering::Relaxed);
        }
        live.latency.record(latency);
    }

    /// The 5xx codes counted as ignorable from now on.
    pub(crate) fn set_ignored(&self, codes: Ignored5xx) {
        self.ignored.set(codes);
    }

    pub(crate) fn add_bytes(&self, bytes_in: u64, bytes_out: u64) {
        if bytes_in > 0 {
            self.live.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        }
        if bytes_out > 0 {
            self.live.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_connect_error(&self) {
        self.live.connect_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn start_request(&self) {
        self.live.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end_request(&self) {
        self.live.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Requests of the open second: answered so far plus in flight now.
    fn open_requests(&self) -> u64 {
        self.live.requests.load(Ordering::Relaxed) + self.in_flight().max(0) as u64
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> i64 {
        self.live.in_flight.load(Ordering::Relaxed)
    }

    fn history(&self) -> MutexGuard<'_, History> {
        // Only plain numbers live behind this lock; a panic elsewhere leaves them usable.
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self, at: i64) {
        let live = &self.live;
        let take = |counter: &AtomicU64| counter.swap(0, Ordering::Relaxed);
        let second = Second {
            at,
            span_s: 1,
            requests: take(&live.requests),
            status: std::array::from_fn(|class| take(&live.status[class])),
            ignored_5xx: take(&live.ignored_5xx),
            bytes_in: take(&live.bytes_in),
            bytes_out: take(&live.bytes_out),
            connect_errors: take(&live.connect_errors),
            in_flight: live.in_flight.load(Ordering::Relaxed).max(0) as u64,
            latency: live.latency.take(),
        };
        self.history().close(second);
    }

    fn seconds_since(&self, after: i64) -> Vec<Second> {
        self.history().seconds_since(after)
    }
}

type EnvKey = (String, String);
type InstanceKey = (String, String, String);

/// Cumulative figures of one series since it began, for exporters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesTotals {
    pub app: String,
    pub env: String,
    /// None for the environment as a whole.
    pub instance: Option<String>,
    /// Every closed second added together.
    pub totals: Second,
    pub in_flight: i64,
}

/// Every environment's and instance's series. Locked by publish, the ticker and readers; never
/// by the request path, which holds its own `Arc<Series>` handles.
#[derive(Default)]
pub struct Metrics {
    envs: Mutex<HashMap<EnvKey, Arc<Series>>>,
    instances: Mutex<HashMap<InstanceKey, Arc<Series>>>,
    /// The last second closed; windows are counted back from it.
    last_closed: AtomicI64,
}

fn key2(app: &str, env: &str) -> EnvKey {
    (app.to_owned(), env.to_owned())
}

fn key3(app: &str, env: &str, instance: &str) -> InstanceKey {
    (app.to_owned(), env.to_owned(), instance.to_owned())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// The environment's series, created on first use.
    pub(crate) fn env_handle(&self, app: &str, env: &str) -> Arc<Series> {
        lock(&self.envs).entry(key2(app, env)).or_default().clone()
    }

    /// The instance's series, created on first use.
    pub(crate) fn instance_handle(&self, app: &str, env: &str, instance: &str) -> Arc<Series> {
        lock(&self.instances).entry(key3(app, env, instance)).or_default().clone()
    }

    /// Closes the live bucket of every series as the second starting at unix time `at`. A
    /// second at or before the last one closed is ignored (two tickers, or a clock step back).
    pub fn close_second(&self, at: i64) {
        if self.last_closed.fetch_max(at, Ordering::Relaxed) >= at {
            return;
        }
        let envs: Vec<Arc<Series>> = lock(&self.envs).values().cloned().collect();
        let instances: Vec<Arc<Series>> = lock(&self.instances).values().cloned().collect();
        for series in envs.iter().chain(&instances) {
            series.close(at);
        }
        // Our own handles would count as routing the series.
        drop((envs, instances));
        // Only the map holds a series nobody routes to; such a series idle for a day goes.
        let keep = |series: &mut Arc<Series>| {
            Arc::strong_count(series) > 1 || series.history().last_active > at - FORGET_AFTER_S
        };
        lock(&self.envs).retain(|_, series| keep(series));
        lock(&self.instances).retain(|_, series| keep(series));
    }

    /// The last second closed (unix time), or None before the first close.
    pub fn last_closed(&self) -> Option<i64> {
        let at = self.last_closed.load(Ordering::Relaxed);
        (at != 0).then_some(at)
    }

    fn window_start(&self, last_secs: u32) -> i64 {
        self.last_closed.load(Ordering::Relaxed) - i64::from(last_secs)
    }

    fn env_series(&self, app: &str, env: &str) -> Option<Arc<Series>> {
        lock(&self.envs).get(&key2(app, env)).cloned()
    }

    fn inst_series(&self, app: &str, env: &str, instance: &str) -> Option<Arc<Series>> {
        lock(&self.instances).get(&key3(app, env, instance)).cloned()
    }

    /// The environment's closed seconds among the last `last_secs`, oldest first.
    pub fn series(&self, app: &str, env: &str, last_secs: u32) -> Vec<Second> {
        let after = self.window_start(last_secs);
        self.env_series(app, env).map_or_else(Vec::new, |s| s.seconds_since(after))
    }

    /// One instance's closed seconds among the last `last_secs`, oldest first.
    pub fn instance_series(&self, app: &str, env: &str, instance: &str, last_secs: u32) -> Vec<Second> {
        let after = self.window_start(last_secs);
        self.inst_series(app, env, instance).map_or_else(Vec::new, |s| s.seconds_since(after))
    }

    /// The environment's one-minute buckets (older than 15 minutes, up to 24 hours), oldest first.
    pub fn minutes(&self, app: &str, env: &str) -> Vec<Second> {
        self.env_series(app, env).map_or_else(Vec::new, |s| s.history().minutes())
    }

    /// The environment's last `last_secs` seconds added together.
    pub fn summary(&self, app: &str, env: &str, last_secs: u32) -> Second {
        Second::sum(&self.series(app, env, last_secs))
    }

    /// One instance's last `last_secs` seconds added together.
    pub fn instance_summary(&self, app: &str, env: &str, instance: &str, last_secs: u32) -> Second {
        Second::sum(&self.instance_series(app, env, instance, last_secs))
    }

    /// Requests per second over the last `last_secs` closed seconds (a second with no data
    /// counts as zero requests).
    pub fn rate(&self, app: &str, env: &str, last_secs: u32) -> f64 {
        if last_secs == 0 {
            return 0.0;
        }
        self.summary(app, env, last_secs).requests as f64 / f64::from(last_secs)
    }

    /// Requests of the second still open, per environment that has any: answered in it so far
    /// plus in flight now (a lower bound, near enough, for what arrived in it). Auto-scaling
    /// reads it ten times a second to see a surge before the second closes; idle environments,
    /// most of them on a dense host, are left out rather than copied out each time.
    pub fn open_seconds(&self) -> Vec<((String, String), u64)> {
        let envs = lock(&self.envs);
        envs.iter()
            .filter_map(|(k, s)| {
                let n = s.open_requests();
                (n > 0).then(|| (k.clone(), n))
            })
            .collect()
    }

    /// Requests in flight in the environment now.
    pub fn in_flight(&self, app: &str, env: &str) -> i64 {
        self.env_series(app, env).map_or(0, |s| s.in_flight())
    }

    /// Requests in flight on one instance now.
    pub fn instance_in_flight(&self, app: &str, env: &str, instance: &str) -> i64 {
        self.inst_series(app, env, instance).map_or(0, |s| s.in_flight())
    }

    /// Instances of an environment that have a series, sorted.
    pub fn instances(&self, app: &str, env: &str) -> Vec<String> {
        let mut ids: Vec<String> =
            lock(&self.instances).keys().filter(|(a, e, _)| a == app && e == env).map(|(_, _, i)| i.clone()).collect();
        ids.sort();
        ids
    }

    /// Cumulative totals of every series: environments first, then instances.
    pub fn totals(&self) -> Vec<SeriesTotals> {
        let envs: Vec<(EnvKey, Arc<Series>)> = lock(&self.envs).iter().map(|(k, s)| (k.clone(), s.clone())).collect();
        let instances: Vec<(InstanceKey, Arc<Series>)> =
            lock(&self.instances).iter().map(|(k, s)| (k.clone(), s.clone())).collect();
        let mut out: Vec<SeriesTotals> = envs
            .into_iter()
            .map(|((app, env), s)| SeriesTotals {
                app,
                env,
                instance: None,
                totals: s.history().totals.clone(),
                in_flight: s.in_flight(),
            })
            .chain(instances.into_iter().map(|((app, env, instance), s)| SeriesTotals {
                app,
                env,
                instance: Some(instance),
                totals: s.history().totals.clone(),
                in_flight: s.in_flight(),
            }))
            .collect();
        out.sort_by(|a, b| (&a.app, &a.env, &a.instance).cmp(&(&b.app, &b.env, &b.instance)));
        out
    }
}

/// Closes a second each time the wall clock passes a whole second, until `shutdown`.
///
/// Wall-clock seconds (not a monotonic clock) so that series line up with timestamps elsewhere
/// (events, Prometheus); `close_second` ignores a clock stepping back.
// Seconds are Unix seconds, so every process's series line up: the wall clock is the point.
#[allow(clippy::disallowed_methods)]
pub(crate) async fn run_clock(metrics: &Metrics, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // Wake just past the boundary so the second being closed is over.
        let to_boundary = Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos()));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(to_boundary + Duration::from_millis(2)) => {}
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        metrics.close_second(now.as_secs() as i64 - 1);
    }
}

#[cfg(test)]
mod tests;
