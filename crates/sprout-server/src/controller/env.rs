//! One environment's controller, a thin shell around the pure pass (`sprout_plan::pass`): sense
//! (store, engine, finished probes, live traffic), plan (`plan_pass`), act (one routing publish,
//! one compare-and-set write, then events, retirements and launches). At most one runs per
//! environment; it ends once the environment is terminated and nothing of it is left.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sprout_model::options::Tier;
use sprout_plan::ObservedState;
use sprout_plan::checks::probes_to_start;
use sprout_plan::enhanced::HealthStatus;
use sprout_plan::pass::{Memory, Next, PassInput, SeenInstance, Write, plan_pass};
use sprout_store::StoreError;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::definitions::Definitions;
use super::health::{self, Probes};
use super::launching::{self, Launches};
use super::release::Releases;
use super::retiring::Retiring;
use crate::context::{Ctx, EnvKey};
use crate::instance::look::Fresh;
use crate::instance::spec::{config_hash_with, deploy_key};
use crate::instance::{ObservedInstance, container_view, observe_environment};

/// What one environment's controller keeps between passes; all of it can be rebuilt by
/// observing again (see `sprout_plan::pass::Memory`).
pub struct EnvController {
    ctx: Ctx,
    app: String,
    env: String,
    wake: Arc<Notify>,
    memory: Memory,
    probes: Probes,
    retiring: Retiring,
    launches: Launches,
    definitions: Definitions,
    releases: Releases,
    /// When the environment's networks were last listed (`NETWORKS_EVERY`).
    networks_at: Option<tokio::time::Instant>,
}

/// How often a Ready environment's networks are listed beside its containers: only an instance
/// whose containers are all gone (a launch cut short) is found by its network alone.
const NETWORKS_EVERY: Duration = Duration::from_secs(30);

impl EnvController {
    pub fn new(ctx: Ctx, app: String, env: String) -> Self {
        let wake = ctx.waker(&app, &env);
        let retiring = Retiring::new(wake.clone());
        let (memory, probes, launches, definitions, releases) = Default::default();
        EnvController {
            ctx,
            app,
            env,
            wake,
            memory,
            probes,
            retiring,
            launches,
            definitions,
            releases,
            networks_at: None,
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        // A web environment's names hold requests while its first instances start; a worker's
        // answer nothing (it has no route).
        let worker =
            self.ctx.store.get_environment(&self.app, &self.env).await.is_ok_and(|e| e.options.tier == Tier::Worker);
        if !worker {
            self.ctx.routing.set_in_service(&self.app, &self.env, Default::default());
        }
        // The last wake measured before a restart: an environment at zero holds requests for
        // as long as a wake really takes, not the unmeasured default.
        match self.ctx.store.get_wake_time(&self.app, &self.env).await {
            Ok(wake) => self.memory.wake_time = wake,
            Err(e) => tracing::warn!(app = %self.app, env = %self.env, "cannot read the measured wake: {e}"),
        }
        loop {
            // Listen for the global kick before the pass (`notify_waiters` keeps no permit); the
            // environment's own wake-up keeps one.
            let kicked = self.ctx.kick.clone();
            let kicked = kicked.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            let delay = match self.pass().await {
                Ok(Next::Done) => return,
                Ok(Next::After(d)) => d,
                // Another writer (a user's deploy or scale, the autoscaler) changed the
                // environment since this pass read it: its write was refused, pass again.
                Err(e @ StoreError::Stale { .. }) => {
                    tracing::debug!(app = %self.app, env = %self.env, "{e}; passing again");
                    Duration::ZERO
                }
                Err(e) => {
                    tracing::warn!(app = %self.app, env = %self.env, "controller pass failed: {e}");
                    self.ctx.settings.tick
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut kicked => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Why the desired version's images are not on the engine yet (pulls running, a registry
    /// holding calls back); None when they are, or the version is unknown (judged elsewhere).
    async fn images_waiting(&mut self, env: &sprout_store::EnvironmentRecord) -> Option<String> {
        // Nothing to launch, nothing to pull: an environment at zero without a warm pool pulls
        // when it scales out.
        if env.status == sprout_store::EnvStatus::Terminating
            || env.desired_instances + env.options.scaling.warm_pool == 0
        {
            return None;
        }
        let def = self.definitions.get(&*self.ctx.store, &self.app, &env.version_label).await?;
        let label = &env.version_label;
        match crate::registry::images::readiness(&self.ctx, &self.app, &self.env, label, &def).await {
            crate::registry::images::Readiness::Ready => None,
            crate::registry::images::Readiness::Waiting(why) => Some(why),
        }
    }

    /// The environment's instances on the engine. While the engine's events are live, from the
    /// list shared by every controller (`instance::look`), taken after every change this
    /// controller knows of (a launch, start or retirement that ended, an engine event about the
    /// environment) and at most `LIST_AGE` old, so a change nobody announced is still found.
    /// Without the events, nothing says when a shared list is stale: the engine is asked for
    /// this environment's objects alone, as each pass did before lists were shared.
    async fn observe(&self, with_networks: bool) -> Result<Vec<ObservedInstance>, sprout_engine::EngineError> {
        let (ctx, who) = (&self.ctx, (self.app.as_str(), self.env.as_str()));
        let server = &ctx.settings.server_id;
        if !ctx.events_live.get() {
            return observe_environment(&*ctx.engine, server, who, with_networks).await;
        }
        let now = tokio::time::Instant::now();
        let fresh = Fresh {
            after_change: ctx.look.last_change(&self.app, &self.env),
            not_before: now.checked_sub(super::watch::LIST_AGE).unwrap_or(now),
        };
        ctx.look.environment(&*ctx.engine, server, who, with_networks, fresh).await
    }

    async fn pass(&mut self) -> Result<Next, StoreError> {
        // Sense.
        let now = self.ctx.clock.now();
        let mut env = match self.ctx.store.get_environment(&self.app, &self.env).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let secret_versions = match &env {
            Some(e) => crate::env_secrets::versions(&*self.ctx.store, &e.app, &e.name).await?,
            None => Default::default(),
        };
        // Launches in flight are read before the engine is: an instance whose launch ends
        // between the two looks is still treated as launching, never judged half created.
        let launching = self.launches.snapshot();
        let release_before = self.releases.before_look();
        let launch_failures = self.launches.failures();
        let with_networks = env.as_ref().is_none_or(|e| e.status != sprout_store::EnvStatus::Ready)
            || self.networks_at.is_none_or(|at| at.elapsed() >= NETWORKS_EVERY);
        if with_networks {
            self.networks_at = Some(tokio::time::Instant::now());
        }
        let (observed, engine_error) = match self.observe(with_networks).await {
            Ok(o) => (o, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        // One-off instances (release tasks, `sprout run`) are not the environment's capacity.
        let (one_offs, observed): (Vec<ObservedInstance>, Vec<ObservedInstance>) =
            observed.into_iter().partition(|i| i.role.is_some());
        let release_waiting = match env.as_mut() {
            Some(e) if engine_error.is_none() => {
                self.releases
                    .step(&self.ctx, e, (&release_before, &one_offs), &mut self.definitions, &self.wake)
                    .await?
            }
            _ => None,
        };
        let retiring = self.retiring.snapshot();
        let live: Vec<ObservedInstance> = observed.into_iter().filter(|i| !retiring.contains(&i.id)).collect();
        let options = env.as_ref().map(|e| e.options.health.clone()).unwrap_or_default();
        // A worker is not probed over HTTP: its containers are its health (`sprout_plan::pass`).
        let worker = env.as_ref().is_some_and(|e| e.options.tier == Tier::Worker);
        let live_ids: HashSet<&str> = live.iter().map(|i| i.id.as_str()).collect();
        self.probes.fold(&mut self.memory.checks, &live_ids, &options);
        let mut instances = Vec::new();
        // Instances ready to be probed, by address; which are probed is decided for all at once.
        let mut probe_at: std::collections::BTreeMap<&str, std::net::SocketAddr> = Default::default();
        for inst in &live {
            let def = self.definitions.get(&*self.ctx.store, &self.app, &inst.version).await;
            let containers = def.as_ref().map(|d| inst.container_observations(d));
            let address = def.as_ref().and_then(|d| inst.web_address(d));
            let all_running = containers
                .as_ref()
                .is_some_and(|cs| cs.iter().filter(|c| c.essential).all(|c| c.state == Some(ObservedState::Running)));
            if let (Some(addr), true, false, false) = (address, all_running, launching.contains_key(&inst.id), worker) {
                let checks = self.memory.checks.entry(inst.id.clone()).or_default();
                health::note_refused(&self.ctx, (&self.app, &self.env, &inst.id), checks);
                probe_at.insert(inst.id.as_str(), addr);
            }
            instances.push(SeenInstance {
                id: inst.id.clone(),
                version: inst.version.clone(),
                key: deploy_key(&inst.version, &inst.config),
                launched_at: inst.launched_at,
                started_at: inst.started_at(),
                containers,
                views: inst.containers.iter().map(container_view).collect(),
                address,
                traffic: health::traffic(&self.ctx, (&self.app, &self.env), Some(&inst.id)),
            });
        }
        let candidates = self.memory.checks.iter().filter(|(id, _)| probe_at.contains_key(id.as_str()));
        for id in probes_to_start(candidates.map(|(id, c)| (id.as_str(), c)), now, &options) {
            let who = (id, self.memory.checks[id].record.passed_once);
            self.probes.start(&self.ctx, who, probe_at[id], &options, now, self.wake.clone());
        }
        let previous = self.ctx.snapshots.lock().unwrap().get(&EnvKey::new(&self.app, &self.env)).cloned();
        let images_waiting = match &env {
            Some(e) if engine_error.is_none() => self.images_waiting(e).await,
            _ => None,
        };
        // Stopped essential containers on a drained node were the operator's doing: asked only
        // then (a cluster engine's node listing), so a steady pass lists no nodes.
        let stopped = instances.iter().any(|i| {
            !launching.contains_key(&i.id)
                && i.containers
                    .as_ref()
                    .is_some_and(|cs| cs.iter().any(|c| c.essential && c.state != Some(ObservedState::Running)))
        });
        let on_drained_nodes = if stopped {
            crate::nodes::on_drained_nodes(&self.ctx, &self.app, &self.env).await
        } else {
            Default::default()
        };
        let input = PassInput {
            env: env.as_ref(),
            desired_key: env
                .as_ref()
                .map(|e| deploy_key(&e.version_label, &config_hash_with(&e.variables, &secret_versions)))
                .unwrap_or_default(),
            instances,
            launching: launching.into_iter().collect(),
            launch_failures,
            retiring: retiring.len(),
            serving: self.ctx.routing.serving(&self.app, &self.env),
            traffic: health::traffic(&self.ctx, (&self.app, &self.env), None),
            engine_error,
            images_waiting,
            release_waiting,
            on_drained_nodes,
            previous: previous.as_ref(),
            launch_timeout_s: self.ctx.settings.launch_timeout_s,
            tick: self.ctx.settings.tick,
            now,
        };

        // Plan.
        let plan = plan_pass(&input, &self.memory);
        // Quiet: nothing moves and nobody is served, so only the engine's events or the next
        // health check need bring the next pass (`watch`).
        let quiet = input.launching.is_empty()
            && input.retiring == 0
            && input.traffic.requests == 0
            && input.env.is_some_and(|e| e.status == sprout_store::EnvStatus::Ready)
            && plan.events.is_empty()
            && plan.launch.is_empty()
            && plan.start.is_empty()
            && plan.retire.is_empty()
            && plan.snapshot.as_ref().is_some_and(|s| matches!(s.status, HealthStatus::Ok | HealthStatus::Info));
        drop(input);

        // Act: route, write (nothing more if it was refused), events, retirements, launches.
        if let Some(change) = plan.route {
            self.ctx.routing.publish(&self.app, &self.env, change);
        }
        match plan.write {
            Some(Write::Update(mut record)) => self.ctx.store.update_environment(&mut record).await?,
            Some(Write::Delete) => self.ctx.store.delete_environment(&self.app, &self.env).await?,
            None => {}
        }
        self.launches.forget_failures(plan.launch_failures_noted);
        if let Some(wake) = plan.memory.wake_time.filter(|w| Some(*w) != self.memory.wake_time) {
            // Lost if this write fails: the next wake is measured and noted again.
            if let Err(e) = self.ctx.store.set_wake_time(&self.app, &self.env, wake, now).await {
                tracing::warn!(app = %self.app, env = %self.env, "cannot note the measured wake: {e}");
            }
        }
        self.memory = plan.memory;
        for event in plan.events {
            self.ctx.emit(&self.app, Some(&self.env), event).await;
        }
        let delay = Duration::from_secs(options.deregistration_delay_s);
        for retirement in plan.retire {
            let inst = live.iter().find(|i| i.id == retirement.id).cloned().unwrap_or_default();
            let def = self.definitions.get(&*self.ctx.store, &self.app, &inst.version).await;
            let who = (self.app.as_str(), self.env.as_str());
            self.retiring.start(&self.ctx, who, inst, def, retirement, delay);
        }
        if let Some(env) = &env {
            let stopped_from = plan.launch.len() - plan.stopped_launches.min(plan.launch.len());
            for (n, version) in plan.launch.iter().enumerate() {
                let Some(def) = self.definitions.get(&*self.ctx.store, &self.app, version).await else { continue };
                let stopped = n >= stopped_from;
                launching::start(&self.ctx, &self.launches, env, version, &def, stopped, now, self.wake.clone()).await;
            }
            for id in &plan.start {
                let Some(inst) = live.iter().find(|i| &i.id == id) else { continue };
                let Some(def) = self.definitions.get(&*self.ctx.store, &self.app, &inst.version).await else {
                    continue;
                };
                launching::wake_stopped(&self.ctx, &self.launches, env, inst, &def, now, self.wake.clone()).await;
            }
        }
        // A probe started is next due an interval on: one that passes wakes nobody and is
        // folded in by the next pass, which then finds the instance due (`Probes::start`).
        let interval = chrono::Duration::seconds(options.interval_s.max(1) as i64);
        let next_probe = self
            .memory
            .checks
            .iter()
            .map(|(id, c)| if self.probes.pending(id) { now + interval } else { c.next_due().unwrap_or(now) })
            .min();
        let live = self.ctx.events_live.get();
        let next = super::watch::pace(plan.next, quiet, live, next_probe, now);
        let key = EnvKey::new(&self.app, &self.env);
        self.ctx.quiet.set(&key, quiet && live && next != Next::Done);
        match &plan.snapshot {
            Some(snapshot) => {
                let deploying = env.as_ref().is_some_and(|e| e.status == sprout_store::EnvStatus::Updating);
                crate::notify::on_health(&self.ctx, &self.app, &self.env, snapshot, deploying).await
            }
            None if plan.next == Next::Done => crate::notify::forget(&self.ctx, &self.app, &self.env).await,
            None => {}
        }
        match plan.snapshot {
            Some(snapshot) => self.ctx.snapshots.lock().unwrap().insert(key, snapshot),
            None if plan.next == Next::Done => self.ctx.snapshots.lock().unwrap().remove(&key),
            None => None,
        };
        Ok(next)
    }
}
