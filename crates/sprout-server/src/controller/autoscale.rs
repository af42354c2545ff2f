//! The autoscale controller: every second, for every environment, read the last second of
//! metrics, fire due scheduled actions, decide the desired count (`sprout_plan::scaling`),
//! write it to the store with an event saying why, and wake the reconcilers, which launch or
//! retire (scale-in drains first and retires with reason ScaleIn, which raises no alert).
//! Between those looks it peeks every 100 ms at the second still open, for a surge only
//! (`decide_surge`), so a step in load is acted on before its first second ends.
//!
//! It waits while a deploy runs. Its memory (the metric window, last actions, measured launch
//! time, actions fired) is rebuilt by watching again after a restart: scale-in then waits a
//! full stabilisation window, which errs on the side of capacity. Not here: the decisions
//! themselves (pure, in sprout-plan) and launching (the environment controller).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_lb::LoadBalancer;
use sprout_plan::InstanceHealth;
use sprout_plan::scaling::{
    Band, Counts, Direction, LastActions, MetricSample, OpenSecond, decide_scaling, decide_surge,
};
use sprout_plan::schedule::due_actions;
use sprout_store::{CapacityOptions, EnvStatus, EnvironmentRecord};
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};
use crate::events::Event;

/// How often the autoscaler looks: the load balancer measures every second.
pub const TICK: Duration = Duration::from_secs(1);

/// How often, between looks, it peeks at the second still open for a surge.
pub const PEEK: Duration = Duration::from_millis(100);

/// Lead for scheduled actions before any launch has been measured.
const DEFAULT_LAUNCH_S: i64 = 3;

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
            let key = (r.app.clone(), r.env.clone());
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
        metrics.open_seconds().into_iter().map(|(key, n)| (key, OpenSecond { requests: n as f64, elapsed_s })).collect()
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
        self.closed.lock().unwrap().insert((app.into(), env.into()), rps);
    }

    /// The open second, whenever peeked at, has had this many requests so far.
    pub fn set_open(&self, app: &str, env: &str, requests: f64) {
        self.open.lock().unwrap().insert((app.into(), env.into()), requests);
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

/// What the autoscaler remembers about one environment.
struct EnvScaling {
    window: VecDeque<MetricSample>,
    last: LastActions,
    last_checked: DateTime<Utc>,
    fired: BTreeSet<(String, DateTime<Utc>)>,
    waiting: bool,
    /// Seconds from launch to in service, most recent launches.
    launch_s: VecDeque<i64>,
    in_service: HashSet<String>,
}

impl EnvScaling {
    fn new(now: DateTime<Utc>) -> Self {
        EnvScaling {
            window: VecDeque::new(),
            last: LastActions::default(),
            last_checked: now,
            fired: BTreeSet::new(),
            waiting: false,
            launch_s: VecDeque::new(),
            in_service: HashSet::new(),
        }
    }

    /// How early a schedule orders capacity: the slowest recent launch plus one tick.
    fn lead(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            self.launch_s.iter().copied().max().unwrap_or(DEFAULT_LAUNCH_S) + TICK.as_secs() as i64,
        )
    }
}

/// Run until cancelled, one pass over every environment per second.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    let mut states: HashMap<EnvKey, EnvScaling> = HashMap::new();
    let mut known: Vec<EnvironmentRecord> = Vec::new();
    loop {
        // Look just after each second closes in the load balancer's metrics (it closes them
        // 2 ms past the boundary): a spike is seen at most a few milliseconds after its first
        // full second, not up to a second later. Until then, peek at the open second every
        // 100 ms, so a surge is acted on while its first second is still going.
        let into_second = u64::from(ctx.clock.now().timestamp_subsec_millis()).min(999);
        let wait = Duration::from_millis(1000 - into_second + 15).min(TICK + Duration::from_millis(15));
        let look_at = tokio::time::Instant::now() + wait;
        loop {
            let slice = PEEK.min(look_at.saturating_duration_since(tokio::time::Instant::now()));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(slice) => {}
            }
            if tokio::time::Instant::now() >= look_at {
                break;
            }
            peek(&ctx, &mut states, &known).await;
        }
        let now = ctx.clock.now();
        let samples = ctx.metrics.read(now);
        let envs = match ctx.store.list_environments(None).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("autoscaler cannot read environments: {e}");
                continue;
            }
        };
        let keys: HashSet<EnvKey> = envs.iter().map(|e| (e.app.clone(), e.name.clone())).collect();
        states.retain(|k, _| keys.contains(k));
        known = envs.clone();
        for env in envs {
            let key = (env.app.clone(), env.name.clone());
            let state = states.entry(key.clone()).or_insert_with(|| EnvScaling::new(now));
            let sample = samples.get(&key).cloned().unwrap_or(MetricSample { at: now, ..Default::default() });
            tick_env(&ctx, env, state, sample, now).await;
        }
    }
}

async fn tick_env(ctx: &Ctx, env: EnvironmentRecord, state: &mut EnvScaling, sample: MetricSample, now: DateTime<Utc>) {
    let s = &env.options.scaling;
    state.window.push_back(sample);
    let keep = (s.scale_in_window_s.max(s.scale_out_window_s) as usize)
        .max(s.trigger.as_ref().map(|t| t.breach_duration_s as usize).unwrap_or(0))
        + 5;
    while state.window.len() > keep.min(3600) {
        state.window.pop_front();
    }
    state.fired.retain(|(_, at)| now - *at < chrono::Duration::days(1));
    let counts = observe(ctx, &env, state, now);

    match env.status {
        EnvStatus::Terminating => return,
        EnvStatus::Launching | EnvStatus::Updating => {
            if !state.waiting && configured(&env) {
                state.waiting = true;
                let reason = format!(
                    "the environment is {} (a deploy is in progress); scaling resumes once it is Ready",
                    env.status.as_str()
                );
                ctx.emit(&env.app, Some(&env.name), Event::ScalingWaits { reason }).await;
            }
            return;
        }
        EnvStatus::Ready => state.waiting = false,
    }

    let band = band_of(&env);
    let firings = due_actions(
        &s.scheduled_actions,
        band,
        env.desired_instances,
        &state.fired,
        state.last_checked,
        now,
        state.lead(),
    );
    state.last_checked = now;
    if let Some(last) = firings.last() {
        let (min, max, desired) = (last.band.min, last.band.max, last.desired);
        let ok = write(ctx, &env, |e| {
            e.options.capacity = CapacityOptions { min: Some(min), max: Some(max) };
            e.desired_instances = desired;
        })
        .await;
        if ok {
            for f in &firings {
                state.fired.insert((f.action.clone(), f.at));
                ctx.emit(
                    &env.app,
                    Some(&env.name),
                    Event::ScheduledActionFired { action: f.action.clone(), reason: f.reason.clone() },
                )
                .await;
            }
            // A schedule's desired count is a fresh start: forget the load seen before it, so
            // metric scale-in waits a whole stabilisation window from here.
            state.window.clear();
            state.last.scale_out = Some(now);
            ctx.kick.notify_waiters();
        }
        return;
    }

    let window: Vec<MetricSample> = state.window.iter().cloned().collect();
    let d = decide_scaling(s, &window, counts, band, state.last, now);
    if let Some((dir, reason)) = d.change {
        let to = d.desired;
        if write(ctx, &env, |e| e.desired_instances = to).await {
            match dir {
                Direction::Out => state.last.scale_out = Some(now),
                Direction::In => state.last.scale_in = Some(now),
            }
            ctx.emit(&env.app, Some(&env.name), Event::ScalingDecision { from: env.desired_instances, to, reason })
                .await;
            ctx.kick.notify_waiters();
        }
    }
}

/// Between looks: for each environment whose open second already shows a surge against its
/// last known count, re-read it and let `decide_surge` order capacity at once.
async fn peek(ctx: &Ctx, states: &mut HashMap<EnvKey, EnvScaling>, known: &[EnvironmentRecord]) {
    let now = ctx.clock.now();
    let open = ctx.metrics.peek(now);
    for env in known {
        let key = (env.app.clone(), env.name.clone());
        let (Some(o), Some(state), Some(target)) =
            (open.get(&key), states.get_mut(&key), env.options.scaling.target_rps)
        else {
            continue;
        };
        // Cheap test first, on what the last look read: most peeks end here.
        if env.status != EnvStatus::Ready
            || o.requests < env.options.scaling.surge_factor * f64::from(env.desired_instances.max(1)) * target
        {
            continue;
        }
        let Ok(fresh) = ctx.store.get_environment(&env.app, &env.name).await else { continue };
        if fresh.status != EnvStatus::Ready {
            continue;
        }
        let counts = observe(ctx, &fresh, state, now);
        let d = decide_surge(&fresh.options.scaling, *o, counts, band_of(&fresh), state.last, now);
        if let Some((_, reason)) = d.change
            && write(ctx, &fresh, |e| e.desired_instances = d.desired).await
        {
            state.last.scale_out = Some(now);
            ctx.emit(
                &fresh.app,
                Some(&fresh.name),
                Event::ScalingDecision { from: fresh.desired_instances, to: d.desired, reason },
            )
            .await;
            ctx.kick.notify_waiters();
        }
    }
}

/// The band metric scaling moves inside; without one, the desired count alone.
fn band_of(env: &EnvironmentRecord) -> Band {
    Band {
        min: env.options.capacity.min.unwrap_or(env.desired_instances),
        max: env.options.capacity.max.unwrap_or(env.desired_instances),
    }
}

/// Whether anything would move this environment's count: a band, a target, a trigger or a
/// schedule. Others hear nothing from the autoscaler.
fn configured(env: &EnvironmentRecord) -> bool {
    let (c, s) = (&env.options.capacity, &env.options.scaling);
    c.min != c.max || s.target_rps.is_some() || s.trigger.is_some() || !s.scheduled_actions.is_empty()
}

/// Counts from the latest snapshot; notes how long new instances took to come into service.
fn observe(ctx: &Ctx, env: &EnvironmentRecord, state: &mut EnvScaling, now: DateTime<Utc>) -> Counts {
    let snaps = ctx.snapshots.lock().unwrap();
    let Some(snap) = snaps.get(&(env.app.clone(), env.name.clone())) else {
        return Counts { desired: env.desired_instances, in_service: 0, starting: env.desired_instances };
    };
    let mut c = Counts { desired: env.desired_instances, ..Default::default() };
    let mut seen = HashSet::new();
    for i in &snap.instances {
        if i.in_service {
            c.in_service += 1;
            seen.insert(i.id.clone());
            let took = now.timestamp() - i.launched_at;
            if !state.in_service.contains(&i.id) && (0..120).contains(&took) {
                state.launch_s.push_back(took);
                if state.launch_s.len() > 5 {
                    state.launch_s.pop_front();
                }
            }
        } else if i.health == InstanceHealth::Pending {
            c.starting += 1;
        }
    }
    state.in_service = seen;
    // Ordered but not yet visible (the reconciler is still creating them) is starting too:
    // otherwise a scale-in could cancel capacity that is seconds from serving.
    c.starting = c.starting.max(c.desired.saturating_sub(c.in_service));
    c
}

/// Re-read the environment and change it, so a write by another controller since the pass
/// began is not undone. False (logged) when the environment is gone or the store fails.
async fn write(ctx: &Ctx, env: &EnvironmentRecord, change: impl FnOnce(&mut EnvironmentRecord)) -> bool {
    let mut fresh = match ctx.store.get_environment(&env.app, &env.name).await {
        Ok(e) if e.status == EnvStatus::Ready => e,
        Ok(_) => return false,
        Err(e) => {
            tracing::warn!(app = %env.app, env = %env.name, "autoscaler cannot read the environment: {e}");
            return false;
        }
    };
    change(&mut fresh);
    fresh.updated_at = ctx.clock.now();
    match ctx.store.update_environment(&mut fresh).await {
        Ok(()) => true,
        // Someone wrote since the read just above (a user's `sprout scale`): theirs stands, and
        // the next look decides again.
        Err(e @ sprout_store::StoreError::Stale { .. }) => {
            tracing::debug!(app = %env.app, env = %env.name, "{e}");
            false
        }
        Err(e) => {
            tracing::warn!(app = %env.app, env = %env.name, "autoscaler cannot record the desired count: {e}");
            false
        }
    }
}
