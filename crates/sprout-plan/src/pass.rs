//! One environment's pass, as one pure step: from the environment, what was observed (instances
//! and their containers, live traffic, launches in flight and failed) and what the controller
//! remembers (checks, announced instances, launch back-off), plus `now`, everything the pass
//! should do: the routing entry, the environment's change (deploy progress, status), the events,
//! launches and retirements, the snapshot `sprout status` shows, and when to look again.
//!
//! The controller (`sprout_server::controller::env`) only senses, calls `plan_pass`, and acts.
//! Not here: running probes (the controller folds their outcomes into `Memory::checks` before
//! the pass), the deploy policies (`deploy`), the status step (`progress`), enhanced health
//! (`enhanced`).

use std::collections::BTreeSet;
use std::time::Duration;

use sprout_model::environment::{EnvStatus, EnvironmentRecord};
use sprout_model::event::Event;
use sprout_model::names::key_version;
use sprout_model::options::{RoutingOptions, Tier};
use sprout_model::scaling::WarmPoolState;

use crate::batches::{advance_batches, deploy_spec};
use crate::deploy::plan_deploy;
use crate::enhanced::{HealthStatus, judge_environment_status, judge_instance_status};
use crate::health::InstanceHealth;
use crate::reconcile::{EnvironmentSpec, InstanceObservation, RetireReason, Step};
use crate::rotation::{Candidate, choose_rotation};
use crate::snapshot::{EnvSnapshot, InstanceView};

mod judging;
#[cfg(test)]
mod tests;
mod types;

use judging::{judge, note_replacements};
pub use types::*;

pub use crate::checks::STARTING_PROBE_EVERY;
/// While launches are in flight, the most a pass waits (each launch's end wakes it anyway).
pub const BUSY_EVERY: Duration = Duration::from_millis(500);
/// While the engine does not answer, the first wait before looking again; it doubles with each
/// look that fails, up to `ENGINE_DOWN_MAX`.
pub const ENGINE_DOWN_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between looks at an engine that does not answer.
pub const ENGINE_DOWN_MAX: Duration = Duration::from_secs(8);
/// While instances of a terminated environment are being retired, how often to look again.
pub const TERMINATING_EVERY: Duration = Duration::from_millis(500);
/// The longest launch back-off after failures, in seconds.
pub const MAX_BACKOFF_S: u64 = 30;

/// The pass: see the module's documentation.
pub fn plan_pass(input: &PassInput, memory: &Memory) -> PassPlan {
    let mut memory = memory.clone();
    let now = input.now;
    let mut events = Vec::new();
    if let Some(error) = &input.engine_error {
        // Said once. Nothing is judged: the instances may well be serving (the load balancer
        // reaches them at their own addresses, and keeps the last routing table).
        if !memory.engine_down {
            events.push(Event::EngineUnavailable { error: error.clone() });
        }
        memory.engine_down = true;
        let wait = ENGINE_DOWN_EVERY.saturating_mul(1 << memory.engine_retries.min(8)).min(ENGINE_DOWN_MAX);
        memory.engine_retries = memory.engine_retries.saturating_add(1);
        let mut plan = PassPlan::wait(events, memory, wait);
        plan.snapshot = input.previous.map(|s| s.engine_unavailable(error));
        return plan;
    }
    memory.engine_down = false;
    memory.engine_retries = 0;
    for (instance, error) in &input.launch_failures {
        let retry_in_s = memory.note_failure(now);
        events.extend(memory.launch_failures.note(instance, error, retry_in_s, now));
    }
    let mut plan = match input.env {
        None => plan_gone(input, memory, events),
        Some(env)
            if env.status == EnvStatus::Terminating
                && input.instances.is_empty()
                && input.retiring == 0
                && input.launching.is_empty() =>
        {
            events.push(Event::EnvironmentTerminated);
            let mut plan = plan_gone(input, memory, events);
            plan.write = Some(Write::Delete);
            plan
        }
        Some(env) => plan_running(input, env, memory, events),
    };
    plan.launch_failures_noted = input.launch_failures.len();
    plan
}

/// Deleted from the store (terminated): retire whatever is left, then stop.
fn plan_gone(input: &PassInput, mut memory: Memory, events: Vec<Event>) -> PassPlan {
    if input.instances.is_empty() && input.retiring == 0 {
        let mut plan = PassPlan::wait(events, Memory::default(), Duration::ZERO);
        plan.route = Some(RouteChange::Remove);
        plan.next = Next::Done;
        return plan;
    }
    let retire = input
        .instances
        .iter()
        .map(|i| {
            memory.forget(&i.id);
            Retirement { id: i.id.clone(), reason: RetireReason::Terminate, drain: true }
        })
        .collect();
    let mut plan = PassPlan::wait(events, memory, TERMINATING_EVERY);
    plan.route = Some(RouteChange::Refuse);
    plan.retire = retire;
    plan
}

fn plan_running(input: &PassInput, read: &EnvironmentRecord, mut memory: Memory, mut events: Vec<Event>) -> PassPlan {
    let now = input.now;
    let mut env = read.clone();
    let health_options = read.options.health.clone();
    // A wake is timed from its order to its instance's first passing check.
    for (id, l) in input.launching.iter().filter(|(_, l)| !l.stopped) {
        memory.wake_began.entry(id.clone()).or_insert(l.ordered_at);
    }
    memory.wake_began.retain(|id, _| input.launching.contains_key(id) || input.instances.iter().any(|i| &i.id == id));
    // A worker has no route and no HTTP probe: its containers are its health.
    let worker = read.options.tier == Tier::Worker;

    // Judge every instance. With a stopped warm pool, an instance created whole and never
    // started waits stopped: capacity to the planners, started on demand.
    let stopped_mode = read.options.scaling.warm_pool_state == WarmPoolState::Stopped;
    let mut stopped = BTreeSet::new();
    let mut never_started = BTreeSet::new();
    let mut views = Vec::new();
    let mut observations = Vec::new();
    for inst in &input.instances {
        let checks = memory.checks.get(&inst.id).cloned().unwrap_or_default();
        let settled = !input.launching.contains_key(&inst.id);
        let health = if stopped_mode && settled && crate::warm::is_stopped(inst.containers.as_deref()) {
            stopped.insert(inst.id.clone());
            InstanceHealth::Healthy
        } else {
            judge(input, inst, &checks, health_options.unhealthy_threshold, worker)
        };
        if stopped_mode && settled && inst.started_at.is_none() {
            // A stopped warm instance with a container removed by hand: replaced, not a failed
            // launch to back off from.
            never_started.insert(inst.id.clone());
        }
        let address =
            if input.launching.contains_key(&inst.id) || inst.containers.is_none() { None } else { inst.address };
        if health == InstanceHealth::Healthy && !stopped.contains(&inst.id) && memory.announced.insert(inst.id.clone())
        {
            memory.failures = 0;
            if let Some(began) = memory.wake_began.remove(&inst.id) {
                // Whole milliseconds, as the store keeps it: the same figure before a restart and after.
                memory.wake_time = Some(Duration::from_millis((now - began).num_milliseconds().max(0) as u64));
            }
            events.extend(memory.launch_failures.served(inst.launched_at));
            let address = address.map(|a| a.to_string()).unwrap_or_default();
            events.push(Event::InstanceInService { instance: inst.id.clone(), address });
        }
        observations.push(InstanceObservation {
            id: inst.id.clone(),
            version: inst.key.clone(),
            health: health.clone(),
            launched_at: inst.launched_at,
        });
        views.push(InstanceView {
            id: inst.id.clone(),
            version: inst.version.clone(),
            health,
            in_service: false,
            address: address.map(|a| a.to_string()),
            launched_at: inst.launched_at,
            containers: inst.views.clone(),
            status: Default::default(),
            causes: Vec::new(),
            failing_check: None,
        });
    }
    // Launches whose instance the engine does not show yet still count as capacity to come.
    for (id, l) in &input.launching {
        if !input.instances.iter().any(|i| &i.id == id) {
            observations.push(InstanceObservation {
                id: id.clone(),
                version: l.key.clone(),
                health: InstanceHealth::Pending,
                launched_at: l.launched_at,
            });
        }
    }

    // Plan: the warm pool is planned like capacity (launched, health-checked, replaced on a
    // deploy) and kept out of rotation below.
    let warm_pool = env.options.scaling.warm_pool;
    let running: Vec<&str> = input.instances.iter().map(|i| i.key.as_str()).collect();
    events.extend(memory.crash_loops.expire(&input.desired_key, &running, now));
    let mut spec = EnvironmentSpec {
        version: input.desired_key.clone(),
        desired: env.desired_instances + warm_pool,
        terminating: env.status == EnvStatus::Terminating,
        may_launch: memory.backoff_until.is_none_or(|t| now >= t)
            && memory.crash_loops.held_until(&input.desired_key, now).is_none()
            && input.images_waiting.is_none()
            && input.release_waiting.is_none(),
    };
    let (mut plan, mut deploy_status) = plan_deploy(&spec, &deploy_spec(&env), &observations);
    judging::moved_by_drain(&mut plan, &input.on_drained_nodes);
    let (loop_events, in_a_loop) = note_replacements(input, &plan, &mut memory.crash_loops);
    events.extend(loop_events);
    if spec.may_launch && memory.crash_loops.held_until(&spec.version, now).is_some() {
        // A replacement this pass made a loop of its cause: its launch waits out the back-off.
        spec.may_launch = false;
        (plan, deploy_status) = plan_deploy(&spec, &deploy_spec(&env), &observations);
        judging::moved_by_drain(&mut plan, &input.on_drained_nodes);
    }
    if stopped_mode {
        crate::warm::prefer_running_on_scale_in(&mut plan, &observations, &stopped, env.desired_instances);
        if env.status == EnvStatus::Ready {
            let desired = (input.desired_key.as_str(), env.desired_instances);
            crate::warm::retire_running_beyond_desired(&mut plan, &observations, &stopped, &input.serving, desired);
        }
    }
    events.extend(advance_batches(&mut env, &plan, &deploy_status, now));
    let leaving: BTreeSet<&str> = plan.retirements().map(|(id, _)| id).collect();

    // Route: healthy instances that are not leaving; with a warm pool and no deploy running,
    // only the desired count of them (the rest wait warm).
    let candidates: Vec<Candidate> = views
        .iter()
        .filter(|v| {
            v.health == InstanceHealth::Healthy && !leaving.contains(v.id.as_str()) && (worker || v.address.is_some())
        })
        .map(|v| Candidate { id: v.id.clone(), launched_at: v.launched_at, serving: input.serving.contains(&v.id) })
        .collect();
    let cap = (warm_pool > 0 && env.status == EnvStatus::Ready).then_some(env.desired_instances as usize);
    let (serve, warm) = choose_rotation(&candidates, cap);
    let mut upstreams = Vec::new();
    for v in views.iter_mut().filter(|v| serve.contains(&v.id)) {
        v.in_service = true;
        if let Some(addr) = input.instances.iter().find(|i| i.id == v.id).and_then(|i| i.address) {
            upstreams.push((v.id.clone(), addr));
        }
    }
    let mut queue = env.options.scaling.queue.clone();
    let coming = crate::scaling::band_of(&env).max > 0 && !views.iter().any(|v| v.health.is_unhealthy());
    if upstreams.is_empty() && coming {
        // Nothing serves and an instance is (or will be, at the first request) coming: hold
        // requests for as long as one takes to come, not the configured bound.
        queue.max_wait_ms = crate::scaling::wake::hold_bound_ms(memory.wake_time, queue.max_wait_ms);
    }
    let route = if worker {
        RouteChange::Remove
    } else {
        RouteChange::Set {
            upstreams,
            queue,
            load_balancer: env.options.load_balancer.clone(),
            ignore_codes: env.options.health.ignore_codes.clone(),
            routing: RoutingOptions {
                cname: env.options.routing.cname.clone().filter(|c| *c != env.name),
                ..env.options.routing.clone()
            },
        }
    };

    // Retirements: an instance being launched is its launch task's until the launch ends.
    let mut retire = Vec::new();
    for (id, reason) in plan.retirements() {
        if input.launching.contains_key(id) {
            continue;
        }
        if let RetireReason::Unhealthy(why) = reason {
            if !memory.announced.contains(id) && !never_started.contains(id) {
                // Never passed a health check: a failed launch, so back off further launches.
                memory.note_failure(now);
            }
            if !in_a_loop.contains(id) {
                events.push(Event::InstanceUnhealthy { instance: id.to_string(), reason: why.clone() });
            }
        }
        memory.forget(id);
        // Nothing to drain from an instance that stopped (its node drained) or failed.
        let drain = !matches!(reason, RetireReason::Unhealthy(_) | RetireReason::NodeDrained);
        retire.push(Retirement { id: id.to_string(), reason: reason.clone(), drain });
    }
    let mut launch: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Launch { version } => Some(key_version(version).to_string()),
            Step::Retire { .. } => None,
        })
        .collect();
    let stopping: BTreeSet<String> =
        input.launching.iter().filter(|(_, l)| l.stopped).map(|(id, _)| id.clone()).collect();
    let mut pool = if stopped_mode {
        crate::warm::decide_warm(&crate::warm::WarmInput {
            desired_instances: env.desired_instances,
            desired_key: &input.desired_key,
            observations: &observations,
            stopped: &stopped,
            stopping: &stopping,
            leaving: &leaving,
            launches: launch.len(),
        })
    } else {
        Default::default()
    };
    for id in &pool.start {
        memory.wake_began.insert(id.clone(), now);
    }
    let deferred = crate::warm::defer_refill_while_waking(&mut pool, &observations, &stopping);
    launch.truncate(launch.len() - deferred);
    if spec.may_launch && launch.is_empty() && input.launching.is_empty() {
        // Free to launch and wanting none: failures of launches nobody wants are over.
        events.extend(memory.launch_failures.end());
    }

    // Enhanced health, for the snapshot and a failed deploy's reason.
    for (view, inst) in views.iter_mut().zip(&input.instances) {
        let checks = memory.checks.get(&view.id).cloned().unwrap_or_default();
        let facts = checks.facts(health_options.healthy_threshold);
        view.failing_check =
            (facts.failing > 0).then(|| facts.last_failure.clone().unwrap_or_else(|| "no answer".into()));
        (view.status, view.causes) = judge_instance_status(&view.health, &facts, inst.traffic);
    }
    // Instances moved off a drained node are planned departures, not failing ones: the
    // environment is judged without them (fewer in service than desired is a warning, no alert).
    let drained: BTreeSet<&str> =
        plan.retirements().filter(|(_, r)| **r == RetireReason::NodeDrained).map(|(id, _)| id).collect();
    for v in views.iter_mut().filter(|v| drained.contains(v.id.as_str())) {
        v.status = HealthStatus::Info;
        v.causes = vec!["its node was drained: replaced on another node".into()];
    }
    let judged: Vec<InstanceView> = views.iter().filter(|v| !drained.contains(v.id.as_str())).cloned().collect();
    let (mut status, _, mut causes) =
        judge_environment_status(&judged, env.desired_instances, &env.version_label, input.traffic);
    let (looping, loop_causes) = memory.crash_loops.judge(now);
    status = status.worst(looping);
    causes.extend(loop_causes);
    if let Some(why) = &input.images_waiting {
        // Said as events once (pull started, registry refused); here for as long as it lasts.
        let held = why.contains("refused") || why.contains("did not answer") || why.contains("failed");
        status = status.worst(if held { HealthStatus::Warning } else { HealthStatus::Info });
        causes.push(format!("launches wait for images: {why}"));
    }
    if let Some(why) = &input.release_waiting {
        let failed = why.contains("failed");
        status = status.worst(if failed { HealthStatus::Severe } else { HealthStatus::Info });
        causes.push(why.clone());
    }
    if let Some((level, cause)) = memory.launch_failures.judge(memory.backoff_until, now) {
        status = status.worst(level);
        causes.push(cause);
    }
    let all_stopped = views.iter().all(|v| stopped.contains(&v.id));
    if env.desired_instances == 0 && all_stopped && crate::scaling::band_of(&env).max > 0 {
        // Scaled to zero by the autoscaler, which demand wakes: planned, nothing to fix.
        status = HealthStatus::Info;
        causes = crate::scaling::wake::at_zero_causes(&env, memory.wake_time, stopped.len());
    }
    for v in views.iter_mut().filter(|v| stopped.contains(&v.id)) {
        v.status = HealthStatus::Info;
        v.causes = vec!["warm pool: stopped, started on demand (health-checked before it serves)".into()];
    }
    let colour = status.colour();
    for v in views.iter_mut().filter(|v| warm.contains(&v.id)) {
        v.status = v.status.worst(HealthStatus::Info);
        v.causes.push("warm pool: healthy and out of rotation until a scale-out needs it".into());
    }

    // The status step: Ready, or the rollback of an overrun deploy.
    let ready = plan.ready && input.release_waiting.is_none();
    if let Some(event) = crate::progress::advance(&mut env, ready, &causes, now) {
        events.push(event);
    }
    let write = (env != *read).then(|| {
        env.updated_at = now;
        Write::Update(Box::new(env))
    });

    // A launched instance waiting for its first check is looked at rapidly. Launches still in
    // flight need no pass: each wakes the controller when it ends.
    let awaiting_first_pass =
        observations.iter().any(|o| o.health == InstanceHealth::Pending && !input.launching.contains_key(&o.id));
    let busy = !launch.is_empty() || !input.launching.is_empty() || !pool.start.is_empty();
    let next = if awaiting_first_pass {
        STARTING_PROBE_EVERY
    } else if busy {
        input.tick.min(BUSY_EVERY)
    } else {
        input.tick
    };
    PassPlan {
        route: Some(route),
        write,
        events,
        retire,
        launch,
        stopped_launches: pool.stopped_launches,
        start: pool.start,
        snapshot: Some(EnvSnapshot { instances: views, status, colour, causes, observed_at: now }),
        memory,
        next: Next::After(next),
        launch_failures_noted: 0,
    }
}
