//! One environment's controller: sense (store + engine), plan (pure), act (engine), record
//! (events, snapshot, routing). At most one runs per environment; it exits once the environment
//! is terminated and nothing of it is left.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_lb::Upstream;
use sprout_model::Dockerrun;
use sprout_plan::rotation::{Candidate, choose_rotation};
use sprout_plan::{
    EnvironmentSpec, InstanceHealth, InstanceObservation, ProbeRecord, RetireReason, Step, judge_instance,
};
use sprout_store::{EnvStatus, EnvironmentRecord, StoreError};
use tokio_util::sync::CancellationToken;

use super::routes;
use super::snapshot::{ContainerView, EnvSnapshot, InstanceView};
use crate::context::Ctx;
use crate::events::Event;
use crate::instance::spec::{config_hash, deploy_key, key_version};
use crate::instance::{self, InstanceIdentity, ObservedInstance, observe_environment};

/// Memory of one environment's controller. All of it can be rebuilt by observing again: probe
/// records restart empty (instances are probed again before taking traffic).
pub struct EnvController {
    ctx: Ctx,
    app: String,
    env: String,
    probes: HashMap<String, ProbeRecord>,
    health: super::health::HealthChecker,
    announced: HashSet<String>,
    retiring: Arc<Mutex<HashSet<String>>>,
    launches: super::launching::Launches,
    definitions: HashMap<String, Option<Arc<Dockerrun>>>,
    failures: u32,
    backoff_until: Option<DateTime<Utc>>,
    engine_down: bool,
}

/// How often cleanup of a quarantined instance (one that would not stop or be removed) is retried.
const QUARANTINE_RETRY: Duration = Duration::from_secs(30);

/// What a tick asks for next.
enum Next {
    After(Duration),
    Done,
}

impl EnvController {
    pub fn new(ctx: Ctx, app: String, env: String) -> Self {
        EnvController {
            ctx,
            app,
            env,
            probes: HashMap::new(),
            health: Default::default(),
            announced: HashSet::new(),
            retiring: Arc::default(),
            launches: Default::default(),
            definitions: HashMap::new(),
            failures: 0,
            backoff_until: None,
            engine_down: false,
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        routes::set_in_service(&self.ctx, &self.app, &self.env, routes::EnvRoute::default());
        loop {
            // Listen for kicks before the pass, not after: a launch that ends while the pass
            // runs must still wake the next one (`notify_waiters` keeps no permit).
            let kicked = self.ctx.kick.clone();
            let kicked = kicked.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            let began = tokio::time::Instant::now();
            let result = self.tick().await;
            // Slow passes delay everything (probes, routing): worth seeing when diagnosing.
            if began.elapsed() > Duration::from_millis(200) {
                tracing::debug!(app = %self.app, env = %self.env, "controller pass took {} ms", began.elapsed().as_millis());
            }
            let next = match result {
                Ok(n) => n,
                // A user's deploy or scale (or the autoscaler) wrote the environment while this
                // pass worked from an older read; its write was refused, so pass again at once.
                Err(e @ StoreError::Stale { .. }) => {
                    tracing::debug!(app = %self.app, env = %self.env, "{e}; passing again");
                    Next::After(Duration::ZERO)
                }
                Err(e) => {
                    tracing::warn!(app = %self.app, env = %self.env, "controller tick failed: {e}");
                    Next::After(self.ctx.settings.tick)
                }
            };
            let delay = match next {
                Next::Done => return,
                Next::After(d) => d,
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut kicked => {}
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn definition(&mut self, version: &str) -> Option<Arc<Dockerrun>> {
        if let Some(d) = self.definitions.get(version) {
            return d.clone();
        }
        let def = match self.ctx.store.get_version(&self.app, version).await {
            Ok(v) => serde_json::from_str::<Dockerrun>(&v.definition).ok().map(Arc::new),
            Err(_) => None,
        };
        self.definitions.insert(version.to_string(), def.clone());
        def
    }

    async fn tick(&mut self) -> Result<Next, StoreError> {
        let now = self.ctx.clock.now();
        let record = match self.ctx.store.get_environment(&self.app, &self.env).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        // Launches in flight are read before the engine is: an instance whose launch ends
        // between the two looks is still treated as launching, never judged half created.
        let launching = self.launches.snapshot();
        let observed = match observe_environment(&*self.ctx.engine, &self.ctx.settings.server_id, &self.app, &self.env)
            .await
        {
            Ok(o) => {
                self.engine_down = false;
                o
            }
            Err(e) => {
                if !self.engine_down {
                    self.engine_down = true;
                    self.ctx.emit(&self.app, Some(&self.env), Event::EngineUnavailable { error: e.to_string() }).await;
                }
                return Ok(Next::After(Duration::from_secs(2)));
            }
        };
        let retiring = self.retiring.lock().unwrap().clone();
        let live: Vec<ObservedInstance> = observed.into_iter().filter(|i| !retiring.contains(&i.id)).collect();
        for (instance, error) in self.launches.take_failures() {
            let retry_in_s = self.note_failure(now);
            self.ctx.emit(&self.app, Some(&self.env), Event::LaunchFailed { instance, error, retry_in_s }).await;
        }

        let Some(mut env) = record else {
            // Deleted from the store (terminated): retire whatever is left, then stop.
            return Ok(self.retire_all(&live, retiring.is_empty()).await);
        };
        routes::set_cname(&self.ctx, &self.app, &self.env, env.options.routing.cname.as_deref());

        if env.status == EnvStatus::Terminating && live.is_empty() && retiring.is_empty() && launching.is_empty() {
            self.ctx.store.delete_environment(&self.app, &self.env).await?;
            self.ctx.emit(&self.app, Some(&self.env), Event::EnvironmentTerminated).await;
            return Ok(self.retire_all(&[], true).await);
        }

        // Sense: judge every instance.
        self.health.set_options(&env.options.health);
        let mut views = Vec::new();
        let mut observations = Vec::new();
        let mut upstreams = Vec::new();
        for inst in &live {
            let def = self.definition(&inst.version).await;
            let (health, address) = if launching.contains_key(&inst.id) {
                // Half created: not judged, counted as capacity to come.
                (InstanceHealth::Pending, None)
            } else {
                self.judge(inst, def.as_deref(), now).await
            };
            if health == InstanceHealth::Healthy && self.announced.insert(inst.id.clone()) {
                self.failures = 0;
                let address = address.map(|a| a.to_string()).unwrap_or_default();
                self.ctx
                    .emit(&self.app, Some(&self.env), Event::InstanceInService { instance: inst.id.clone(), address })
                    .await;
            }
            views.push(InstanceView {
                id: inst.id.clone(),
                version: inst.version.clone(),
                health: health.clone(),
                in_service: false,
                address: address.map(|a| a.to_string()),
                launched_at: inst.launched_at,
                containers: inst
                    .containers
                    .iter()
                    .map(|c| {
                        let name = c.labels.get(sprout_model::names::LABEL_CONTAINER).cloned().unwrap_or_default();
                        ContainerView::from_status(&name, c)
                    })
                    .collect(),
                status: Default::default(),
                causes: Vec::new(),
                failing_check: None,
            });
            observations.push(InstanceObservation {
                id: inst.id.clone(),
                version: deploy_key(&inst.version, &inst.config),
                health,
                launched_at: inst.launched_at,
            });
        }
        // Launches whose instance the engine does not show yet still count as capacity to come.
        for (id, l) in &launching {
            if !live.iter().any(|i| &i.id == id) {
                observations.push(InstanceObservation {
                    id: id.clone(),
                    version: l.key.clone(),
                    health: InstanceHealth::Pending,
                    launched_at: l.launched_at,
                });
            }
        }

        // Plan.
        // Changed environment properties replace instances as a new version does.
        // The warm pool is planned like capacity (launched, health-checked, replaced on a
        // deploy) and kept out of rotation below.
        let warm_pool = env.options.scaling.warm_pool;
        let spec = EnvironmentSpec {
            version: deploy_key(&env.version_label, &config_hash(&env.variables)),
            desired: env.desired_instances + warm_pool,
            terminating: env.status == EnvStatus::Terminating,
            may_launch: self.backoff_until.is_none_or(|t| now >= t),
        };
        // The deploy planner (policy, health-gated batches) whenever other versions still run.
        let (plan, deploy_status) = super::deploy::plan(&env, &spec, &observations);
        super::deploy::record_progress(&self.ctx, &mut env, &plan, &deploy_status, now).await?;
        let leaving: HashSet<&str> = plan.retirements().map(|(id, _)| id).collect();

        // Route: healthy instances that are not leaving, before anything is stopped; with a
        // warm pool and no deploy running, only the desired count of them (the rest wait warm).
        let routed_now: HashSet<String> = self
            .ctx
            .routes
            .lock()
            .unwrap()
            .get(&(self.app.clone(), self.env.clone()))
            .map(|r| r.upstreams.iter().map(|u| u.instance.clone()).collect())
            .unwrap_or_default();
        let mut addrs = HashMap::new();
        let candidates: Vec<Candidate> = views
            .iter()
            .filter(|v| v.health == InstanceHealth::Healthy && !leaving.contains(v.id.as_str()))
            .filter_map(|v| {
                addrs.insert(v.id.clone(), v.address.as_ref()?.parse::<std::net::SocketAddr>().ok()?);
                Some(Candidate { id: v.id.clone(), launched_at: v.launched_at, serving: routed_now.contains(&v.id) })
            })
            .collect();
        let cap = (warm_pool > 0 && env.status == EnvStatus::Ready).then_some(env.desired_instances as usize);
        let (serve, warm) = choose_rotation(&candidates, cap);
        let warm: HashSet<String> = warm.into_iter().collect();
        for v in views.iter_mut().filter(|v| serve.contains(&v.id)) {
            v.in_service = true;
            upstreams.push(Upstream { instance: v.id.clone(), addr: addrs[&v.id] });
        }
        let hold = Some(routes::hold_config(&env.options.scaling.queue));
        routes::set_in_service(&self.ctx, &self.app, &self.env, routes::EnvRoute { upstreams, hold });

        // Act.
        for step in &plan.steps {
            if let Step::Retire { id, reason } = step {
                if launching.contains_key(id) {
                    // Its launch task owns it until the launch ends; the next tick decides.
                    continue;
                }
                let inst = live.iter().find(|i| &i.id == id).cloned().unwrap_or_default();
                self.spawn_retire(inst, reason.clone()).await;
            }
        }
        let launches: Vec<String> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Launch { version } => Some(key_version(version).to_string()),
                _ => None,
            })
            .collect();
        if !launches.is_empty() {
            self.launch(&env, &launches, now).await;
        }

        // Record.
        let (status, colour, causes) = self.health.enhance(
            &self.ctx,
            (&self.app, &self.env),
            &self.probes,
            &mut views,
            env.desired_instances,
            &env.version_label,
        );
        for v in views.iter_mut().filter(|v| warm.contains(&v.id)) {
            v.status = v.status.worst(super::enhanced::HealthStatus::Info);
            v.causes.push("warm pool: healthy and out of rotation until a scale-out needs it".into());
        }
        self.ctx.snapshots.lock().unwrap().insert(
            (self.app.clone(), self.env.clone()),
            EnvSnapshot { instances: views, status, colour, causes: causes.clone(), observed_at: now },
        );
        self.progress(&mut env, plan.ready, &causes, now).await?;

        // A launched instance waiting for its first pass is probed rapidly, so it is in service
        // soon after it is ready. Launches still in flight need no pass: each one wakes the
        // controller when it ends, and listing the engine every 100 ms meanwhile would only
        // slow the engine that is creating their containers.
        let awaiting_first_pass =
            observations.iter().any(|o| o.health == InstanceHealth::Pending && !launching.contains_key(&o.id));
        let busy = !launches.is_empty() || !launching.is_empty();
        Ok(Next::After(if awaiting_first_pass {
            super::health::STARTING_PROBE_EVERY
        } else if busy {
            self.ctx.settings.tick.min(Duration::from_millis(500))
        } else {
            self.ctx.settings.tick
        }))
    }

    async fn judge(
        &mut self,
        inst: &ObservedInstance,
        def: Option<&Dockerrun>,
        now: DateTime<Utc>,
    ) -> (InstanceHealth, Option<std::net::SocketAddr>) {
        let Some(def) = def else {
            return (
                InstanceHealth::Unhealthy(format!("runs version {:?}, which this server does not know", inst.version)),
                None,
            );
        };
        let containers = inst.container_observations(def);
        // Launches finish within a tick, so an essential container that was created but never
        // started belongs to a launch that was interrupted (the server was killed): replace it.
        if let Some(c) = containers.iter().find(|c| c.essential && c.state == Some(sprout_plan::ObservedState::Created))
        {
            let why =
                format!("essential container {} was created but never started (its launch was interrupted)", c.name);
            return (InstanceHealth::Unhealthy(why), None);
        }
        let address = inst.web_address(def);
        let s = &self.ctx.settings;
        let record = self.probes.entry(inst.id.clone()).or_default();
        let all_running =
            containers.iter().filter(|c| c.essential).all(|c| c.state == Some(sprout_plan::ObservedState::Running));
        if let (Some(addr), true) = (address, all_running) {
            self.health.check(&self.ctx, (&self.app, &self.env, &inst.id), record, addr, now).await;
        }
        let age = (now.timestamp() - inst.launched_at).max(0) as u64;
        let health =
            judge_instance(&containers, record, age, s.launch_timeout_s, self.health.options().unhealthy_threshold);
        (health, address)
    }

    async fn spawn_retire(&mut self, inst: ObservedInstance, reason: RetireReason) {
        let first_unhealthy = matches!(reason, RetireReason::Unhealthy(_));
        if let RetireReason::Unhealthy(why) = &reason {
            if !self.announced.contains(&inst.id) {
                // Never passed a health check: a failed launch, so back off further launches.
                self.note_failure(self.ctx.clock.now());
            }
            self.ctx
                .emit(
                    &self.app,
                    Some(&self.env),
                    Event::InstanceUnhealthy { instance: inst.id.clone(), reason: why.clone() },
                )
                .await;
        }
        self.retiring.lock().unwrap().insert(inst.id.clone());
        self.probes.remove(&inst.id);
        self.health.forget(&inst.id);
        let deregistration_delay = Duration::from_secs(self.health.options().deregistration_delay_s);
        self.announced.remove(&inst.id);
        let def = self.definition(&inst.version).await;
        let ctx = self.ctx.clone();
        let (app, env) = (self.app.clone(), self.env.clone());
        let retiring = self.retiring.clone();
        tokio::spawn(async move {
            // Drain: the instance is already out of the routing table; let in-flight requests
            // finish. An unhealthy instance has nothing worth waiting for.
            if !first_unhealthy {
                super::health::drain(&ctx, (&app, &env, &inst.id), deregistration_delay).await;
            }
            let names = inst.container_names(def.as_deref());
            let network =
                inst.network.clone().unwrap_or_else(|| sprout_model::names::network_name(&app, &env, &inst.id));
            let vol = ctx.settings.instance_dir(&app, &env, &inst.id).join("volumes");
            // An instance that will not stop or be removed stays in `retiring`: out of rotation
            // and out of the plan (so it is replaced), while cleanup is retried in the background.
            for attempt in 0u32.. {
                match instance::retire_instance(
                    &*ctx.engine,
                    &names,
                    &network,
                    ctx.settings.stop_timeout,
                    Some(&vol),
                    vol.parent(),
                )
                .await
                {
                    Ok(()) => {
                        ctx.emit(
                            &app,
                            Some(&env),
                            Event::InstanceRetired { instance: inst.id.clone(), reason: reason.describe() },
                        )
                        .await;
                        break;
                    }
                    Err(e) if attempt == 0 => {
                        ctx.emit(
                            &app,
                            Some(&env),
                            Event::InstanceQuarantined { instance: inst.id.clone(), error: e.to_string() },
                        )
                        .await;
                    }
                    Err(e) if attempt >= 20 => {
                        // Give it back to the controller, which plans it again (and retries).
                        ctx.emit(
                            &app,
                            Some(&env),
                            Event::RetireFailed { instance: inst.id.clone(), error: e.to_string() },
                        )
                        .await;
                        break;
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(QUARANTINE_RETRY).await;
            }
            retiring.lock().unwrap().remove(&inst.id);
            ctx.kick.notify_waiters();
        });
    }

    fn note_failure(&mut self, now: DateTime<Utc>) -> u64 {
        self.failures += 1;
        let wait = 2u64.saturating_pow(self.failures.min(5)).min(30);
        self.backoff_until = Some(now + chrono::Duration::seconds(wait as i64));
        wait
    }

    async fn launch(&mut self, env: &EnvironmentRecord, versions: &[String], now: DateTime<Utc>) {
        for version in versions {
            let Some(def) = self.definition(version).await else { continue };
            let Ok(v) = self.ctx.store.get_version(&self.app, version).await else { continue };
            let id = new_instance_id();
            let dir = self.ctx.settings.instance_dir(&self.app, &self.env, &id);
            let identity = InstanceIdentity {
                server: self.ctx.settings.server_id.clone(),
                app: self.app.clone(),
                env: self.env.clone(),
                instance: id.clone(),
                version: version.clone(),
                launched_at: now.timestamp(),
                config: config_hash(&env.variables),
                bundle_dir: v.bundle_path.clone().into(),
                log_dir: dir.join("logs"),
                volume_dir: dir.join("volumes"),
            };
            let pinned = crate::version_images::pinned(&self.ctx, &self.app, version).await;
            let plan =
                crate::version_images::pin_images(instance::plan_instance(&def, &identity, &env.variables), &pinned);
            let key = deploy_key(version, &identity.config);
            self.launches.begin(&id, super::launching::Launching { key, launched_at: identity.launched_at });
            let (ctx, launches, app, env_name, version) =
                (self.ctx.clone(), self.launches.clone(), self.app.clone(), self.env.clone(), version.clone());
            // In the background: the controller keeps ticking and probes each instance as soon
            // as its own launch is done.
            tokio::spawn(async move {
                // A few launches at a time (`Settings::launch_concurrency`): the engine's work
                // is CPU-bound, so more at once share the CPU and delay the first capacity.
                let _slot = ctx.launch_slots.clone().acquire_owned().await;
                let result = instance::launch_instance(&*ctx.engine, &plan).await;
                if result.is_ok() {
                    ctx.emit(&app, Some(&env_name), Event::InstanceLaunched { instance: id.clone(), version }).await;
                }
                launches.end(&id, result.err().map(|e| e.to_string()));
                ctx.kick.notify_waiters();
            });
        }
    }

    /// Moves the environment's status on (`progress::advance`), writes it if it changed and
    /// then says what happened; a stale write says nothing (the next pass decides again).
    async fn progress(
        &mut self,
        env: &mut EnvironmentRecord,
        ready: bool,
        causes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before = env.clone();
        let event = super::progress::advance(env, ready, causes, now);
        if *env != before {
            env.updated_at = now;
            self.ctx.store.update_environment(env).await?;
        }
        if let Some(event) = event {
            self.ctx.emit(&self.app, Some(&self.env), event).await;
        }
        Ok(())
    }

    async fn retire_all(&mut self, live: &[ObservedInstance], nothing_retiring: bool) -> Next {
        if live.is_empty() && nothing_retiring {
            routes::remove_environment(&self.ctx, &self.app, &self.env);
            self.ctx.snapshots.lock().unwrap().remove(&(self.app.clone(), self.env.clone()));
            return Next::Done;
        }
        // Terminating: nothing will come into service, so nothing is held either.
        let refuse =
            Some(sprout_lb::hold::HoldConfig { max_requests: 0, max_wait: Duration::ZERO, instance_limit: None });
        routes::set_in_service(
            &self.ctx,
            &self.app,
            &self.env,
            routes::EnvRoute { upstreams: Vec::new(), hold: refuse },
        );
        for inst in live {
            self.spawn_retire(inst.clone(), RetireReason::Terminate).await;
        }
        Next::After(Duration::from_millis(500))
    }
}

/// A new instance id: `i-` and 10 hex digits from the OS's random source.
pub fn new_instance_id() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).expect("the OS random source is available");
    format!("i-{}", hex::encode(b))
}
