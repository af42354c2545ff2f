//! The autoscale controller, the edge around sprout-plan's `scaling::autoscaler`: every second,
//! for every environment, it senses (the last second of metrics, the store, the latest
//! snapshot), asks the environment's `ScalingMemory` what to do (fire due scheduled actions, or
//! move the desired count on metrics, or wait while a deploy runs), then acts: writes the store,
//! records an event saying why, and wakes the reconcilers, which launch or retire (scale-in
//! drains first and retires with reason ScaleIn, which raises no alert). Between those looks it
//! peeks every 100 ms at the second still open, for a surge only, so a step in load is acted on
//! before its first second ends. And when the load balancer signals that requests wait for an
//! environment with no instance in service (scaled to zero), it wakes that environment at once
//! (`sprout_plan::scaling::wake`).
//!
//! Not here: any decision (pure, in sprout-plan, with the memory it keeps between looks),
//! reading metrics (`crate::request_rates`), launching (the environment controller).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_plan::InstanceHealth;
use sprout_plan::scaling::autoscaler::{InstanceSeen, LOOK_EVERY_S, ScalingMemory, ScalingPlan, surge_possible};
use sprout_plan::scaling::wake::decide_wake;
use sprout_plan::scaling::{Direction, MetricSample};
use sprout_store::{CapacityOptions, EnvStatus, EnvironmentRecord};
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};
use crate::events::Event;

pub use crate::request_rates::{FixedMetrics, LbMetrics, MetricSource};

/// How often the autoscaler looks: the load balancer measures every second.
pub const TICK: Duration = Duration::from_secs(LOOK_EVERY_S);

/// How often, between looks, it peeks at the second still open for a surge.
pub const PEEK: Duration = Duration::from_millis(100);

/// How long after a second's boundary the autoscaler looks. The load balancer's ticker closes
/// each second 2 ms past the boundary; looking 15 ms past leaves room for timer and scheduling
/// jitter, so the look reads the second that just ended rather than the one before it.
const AFTER_CLOSE: Duration = Duration::from_millis(15);

/// Run until cancelled, one pass over every environment per second.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    let mut states: HashMap<EnvKey, ScalingMemory> = HashMap::new();
    let mut known: Vec<EnvironmentRecord> = Vec::new();
    let readings = crate::queue_reading::QueueReadings::default();
    loop {
        // Look just after each second closes in the load balancer's metrics: a spike is seen
        // at most a few milliseconds after its first full second, not up to a second later.
        // Until then, peek at the open second every 100 ms, so a surge is acted on while its
        // first second is still going.
        let into_second = u64::from(ctx.clock.now().timestamp_subsec_millis()).min(999);
        let wait = (Duration::from_millis(1000 - into_second) + AFTER_CLOSE).min(TICK + AFTER_CLOSE);
        let look_at = tokio::time::Instant::now() + wait;
        loop {
            let slice = PEEK.min(look_at.saturating_duration_since(tokio::time::Instant::now()));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(slice) => {}
                () = ctx.lb.demand() => {
                    wake(&ctx, &mut states).await;
                    continue;
                }
            }
            if tokio::time::Instant::now() >= look_at {
                break;
            }
            peek(&ctx, &mut states, &known).await;
        }
        let now = ctx.clock.now();
        let samples = ctx.metrics.read(now);
        for key in ctx.quiet.take_busy(&samples) {
            ctx.wake(&key.app, &key.env);
        }
        let envs = match ctx.store.list_environments(None).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("autoscaler cannot read environments: {e}");
                continue;
            }
        };
        let keys: HashSet<EnvKey> = envs.iter().map(|e| e.id()).collect();
        states.retain(|k, _| keys.contains(k));
        readings.retain(&keys);
        for env in &envs {
            let key = env.id();
            let state = states.entry(key.clone()).or_insert_with(|| ScalingMemory::new(now));
            let mut sample = samples.get(&key).cloned().unwrap_or(MetricSample { at: now, ..Default::default() });
            sample.queue_depth = readings.look(&ctx, env);
            let seen = instances(&ctx, env);
            let plan = state.decide_look(env, sample, seen.as_deref(), now);
            apply(&ctx, env, state, plan, now).await;
        }
        // Kept for the peeks until the next look (moved, not copied: with hundreds of
        // environments a copy each second was a good part of an idle server's work).
        known = envs;
    }
}

/// Between looks: for each environment whose open second already shows a surge against its
/// last known count, re-read it and let `decide_peek` order capacity at once.
async fn peek(ctx: &Ctx, states: &mut HashMap<EnvKey, ScalingMemory>, known: &[EnvironmentRecord]) {
    let now = ctx.clock.now();
    let open = ctx.metrics.peek(now);
    // Ten peeks a second: with no request open anywhere, no environment is even named.
    if open.is_empty() {
        return;
    }
    for env in known {
        let key = env.id();
        let (Some(o), Some(state)) = (open.get(&key), states.get_mut(&key)) else { continue };
        // Cheap test first, on what the last look read: most peeks end here.
        if !surge_possible(env, *o) {
            continue;
        }
        let Ok(fresh) = ctx.store.get_environment(&env.app, &env.name).await else { continue };
        let seen = instances(ctx, &fresh);
        let plan = state.decide_peek(&fresh, *o, seen.as_deref(), now);
        apply(ctx, &fresh, state, plan, now).await;
    }
}

/// Requests wait for environments with no instance in service: order what they need now, and
/// note it as a scale-out so the scale-in cooldown keeps the woken instance for a while.
async fn wake(ctx: &Ctx, states: &mut HashMap<EnvKey, ScalingMemory>) {
    let now = ctx.clock.now();
    for ((app, name), held) in ctx.lb.held_requests() {
        if held == 0 {
            continue;
        }
        let in_service = ctx.routing.serving(&app, &name).len();
        let Ok(env) = ctx.store.get_environment(&app, &name).await else { continue };
        let Some((to, reason)) = decide_wake(&env, held, in_service) else { continue };
        // A deploy in progress is woken too: it then launches the new version.
        let written = write(ctx, &env, true, |e| e.desired_instances = e.desired_instances.max(to)).await;
        if written {
            states.entry(env.id()).or_insert_with(|| ScalingMemory::new(now)).scaled(Direction::Out, now);
            let event = Event::ScalingDecision { from: env.desired_instances, to, reason };
            ctx.emit(&app, Some(&name), event).await;
            ctx.wake(&app, &name);
        }
    }
}

/// Write what the plan says, and only once written, tell the memory, record events and wake
/// the reconcilers.
async fn apply(ctx: &Ctx, env: &EnvironmentRecord, state: &mut ScalingMemory, plan: ScalingPlan, now: DateTime<Utc>) {
    let (app, name) = (&env.app, Some(env.name.as_str()));
    match plan {
        ScalingPlan::Hold => {}
        ScalingPlan::Wait { reason } => ctx.emit(app, name, Event::ScalingWaits { reason }).await,
        ScalingPlan::Schedule { band, desired, firings } => {
            // The band is the schedule's now: `sprout config get` says which action set it.
            let by = firings.last().map(|f| sprout_model::config::Source::Schedule { name: f.action.clone() });
            let written = write(ctx, env, false, |e| {
                e.options.capacity = CapacityOptions { min: Some(band.min), max: Some(band.max) };
                e.desired_instances = desired;
                if let Some(by) = &by {
                    for key in ["scaling.min", "scaling.max"] {
                        e.options.sources.insert(key.to_string(), by.clone());
                    }
                }
            })
            .await;
            if written {
                state.scheduled(&firings, now);
                for f in firings {
                    ctx.emit(app, name, Event::ScheduledActionFired { action: f.action, reason: f.reason }).await;
                }
                ctx.kick.notify_waiters();
            }
        }
        ScalingPlan::Scale { direction, to, reason } => {
            if write(ctx, env, false, |e| e.desired_instances = to).await {
                state.scaled(direction, now);
                ctx.emit(app, name, Event::ScalingDecision { from: env.desired_instances, to, reason }).await;
                ctx.kick.notify_waiters();
            }
        }
    }
}

/// The environment's instances in the latest snapshot, None before the first.
fn instances(ctx: &Ctx, env: &EnvironmentRecord) -> Option<Vec<InstanceSeen>> {
    let snaps = ctx.snapshots.lock().unwrap();
    let snap = snaps.get(&env.id())?;
    let seen = snap.instances.iter().map(|i| InstanceSeen {
        id: i.id.clone(),
        in_service: i.in_service,
        starting: i.health == InstanceHealth::Pending,
        launched_at: i.launched_at,
    });
    Some(seen.collect())
}

/// Re-read the environment and change it, so a write by another controller since the pass
/// began is not undone. Only a Ready environment is changed, unless `deploying_too` (a wake).
/// False (logged) when the environment is gone or the store fails.
async fn write(
    ctx: &Ctx,
    env: &EnvironmentRecord,
    deploying_too: bool,
    change: impl FnOnce(&mut EnvironmentRecord),
) -> bool {
    let mut fresh = match ctx.store.get_environment(&env.app, &env.name).await {
        Ok(e) if e.status == EnvStatus::Ready => e,
        Ok(e) if deploying_too && e.status != EnvStatus::Terminating => e,
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
