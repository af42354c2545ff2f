//! The release step of an environment's pass: sense the deploy's release task (its recorded run,
//! its one-off instance on the engine, its launch in flight), plan (`sprout_plan::release`), act
//! (write the environment, say the events, remove finished instances with their output saved to
//! the logs, launch the task's instance). Launches and removals run in the background; each end
//! wakes the controller.
//!
//! It also removes `sprout run` instances left by a server that stopped while streaming them.
//!
//! Not here: what a run's outcome means (the planner), the one-off instance's shape
//! (`instance::one_off`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sprout_engine::ContainerState;
use sprout_model::names::{LABEL_CONTAINER, ROLE_RELEASE, ROLE_RUN, network_name};
use sprout_plan::release::{ReleaseInput, ReleaseRun, TAIL_LINES, TaskSeen, needs_tail, plan_release};
use sprout_store::{EnvironmentRecord, StoreError};
use tokio::sync::Notify;

use super::definitions::Definitions;
use crate::context::Ctx;
use crate::instance::one_off::{OneOff, plan_one_off};
use crate::instance::spec::config_hash_with;
use crate::instance::{InstanceIdentity, ObservedInstance};

/// Release instances being launched or removed by this server, and launches that failed.
#[derive(Debug, Clone, Default)]
pub struct Releases {
    launching: Arc<Mutex<HashSet<String>>>,
    removing: Arc<Mutex<HashSet<String>>>,
    failed: Arc<Mutex<HashMap<String, String>>>,
}

/// What this server was doing with one-off instances, read *before* the engine is looked at: a
/// launch or a `sprout run` that ends between the two looks is then still in flight for this
/// pass, never mistaken for an instance that vanished (which would start the task again) or
/// one nobody streams.
#[derive(Debug, Clone, Default)]
pub struct Before {
    launching: HashSet<String>,
    failed: HashMap<String, String>,
    live_runs: HashSet<String>,
}

impl Releases {
    /// What the step needs from before the engine's look (`Before`).
    pub fn before_look(&self) -> Before {
        Before {
            launching: self.launching.lock().unwrap().clone(),
            failed: self.failed.lock().unwrap().clone(),
            live_runs: crate::api::commands::live_runs(),
        }
    }

    /// The release step. `env` is replaced by what was written; the answer is why launches of
    /// the environment's version wait, if they do.
    pub async fn step(
        &self,
        ctx: &Ctx,
        env: &mut EnvironmentRecord,
        (before, one_offs): (&Before, &[ObservedInstance]),
        definitions: &mut Definitions,
        wake: &Arc<Notify>,
    ) -> Result<Option<String>, StoreError> {
        // A `sprout run` instance no session of this server streams was left by a server that
        // stopped meanwhile: its client is gone, so it goes.
        for left in one_offs.iter().filter(|i| i.role.as_deref() == Some(ROLE_RUN)) {
            if !before.live_runs.contains(&left.id) {
                self.remove(ctx, env, left, wake);
            }
        }
        let on_engine: Vec<&ObservedInstance> =
            one_offs.iter().filter(|i| i.role.as_deref() == Some(ROLE_RELEASE)).collect();
        let run = ReleaseRun::read(env);
        if run.is_none() && on_engine.is_empty() {
            return Ok(None);
        }
        let now = ctx.clock.now();
        let task = run.as_ref().and_then(|r| {
            let inst = on_engine.iter().find(|i| i.id == r.instance)?;
            inst.containers.iter().find(|c| c.labels.get(LABEL_CONTAINER) == Some(&r.task.container))
        });
        let seen = task.map(|c| match c.state {
            ContainerState::Created => TaskSeen::Created,
            ContainerState::Running => TaskSeen::Running,
            ContainerState::Exited => TaskSeen::Exited { code: c.exit_code.unwrap_or(-1), oom: c.oom_killed },
            other => TaskSeen::Other(format!("{other:?}").to_lowercase()),
        });
        let mut tail = String::new();
        if let Some(c) = task.filter(|_| needs_tail(env, seen.as_ref(), now)) {
            tail = ctx.engine.container_logs(&c.name, TAIL_LINES).await.unwrap_or_default();
            // An empty output still counts as read.
            if tail.is_empty() {
                tail.push('\n');
            }
        }
        let id = run.as_ref().map(|r| r.instance.clone()).unwrap_or_default();
        let launching = before.launching.contains(&id);
        let launch_error = before.failed.get(&id).cloned();
        let input = ReleaseInput {
            env,
            seen,
            tail,
            launching,
            launch_error,
            on_engine: on_engine.iter().map(|i| i.id.clone()).collect(),
            now,
        };
        let plan = plan_release(&input);
        if let Some(mut record) = plan.write {
            ctx.store.update_environment(&mut record).await?;
            *env = record;
            self.failed.lock().unwrap().remove(&id);
        }
        for event in plan.events {
            ctx.emit(&env.app, Some(&env.name), event).await;
        }
        for remove in plan.remove {
            if let Some(inst) = on_engine.iter().find(|i| i.id == remove) {
                self.remove(ctx, env, inst, wake);
            }
        }
        if let Some(run) = plan.start {
            self.launch(ctx, env, run, on_engine.iter().find(|i| i.id == id).copied(), definitions, wake).await;
        }
        Ok(plan.gate)
    }

    /// Stops and removes a release instance in the background, its engine logs saved under its
    /// instance directory first (`sprout logs --all` shows them).
    fn remove(&self, ctx: &Ctx, env: &EnvironmentRecord, inst: &ObservedInstance, wake: &Arc<Notify>) {
        if self.launching.lock().unwrap().contains(&inst.id) || !self.removing.lock().unwrap().insert(inst.id.clone()) {
            return;
        }
        let (ctx, removing, wake, inst) = (ctx.clone(), self.removing.clone(), wake.clone(), inst.clone());
        let (app, env) = (env.app.clone(), env.name.clone());
        tokio::spawn(async move {
            let names = inst.container_names(None);
            let network = inst.network.clone().unwrap_or_else(|| network_name(&app, &env, &inst.id));
            let dir = ctx.settings.instance_dir(&app, &env, &inst.id);
            let stop = ctx.settings.stop_timeout;
            let vol = dir.join("volumes");
            let r = crate::instance::retire_instance(
                &*ctx.engine,
                &ctx.networks,
                &names,
                &network,
                stop,
                Some(&vol),
                Some(&dir),
            )
            .await;
            if let Err(e) = r {
                tracing::warn!(app, env, instance = inst.id, "could not remove release instance (will retry): {e}");
            }
            ctx.look.note_change(&app, &env);
            removing.lock().unwrap().remove(&inst.id);
            wake.notify_one();
        });
    }

    /// Launches the run's one-off instance in the background, after removing anything left of
    /// an earlier launch of it that never started.
    async fn launch(
        &self,
        ctx: &Ctx,
        env: &EnvironmentRecord,
        run: ReleaseRun,
        leftover: Option<&ObservedInstance>,
        definitions: &mut Definitions,
        wake: &Arc<Notify>,
    ) {
        if !self.launching.lock().unwrap().insert(run.instance.clone()) {
            return;
        }
        let fail = |error: String| {
            self.launching.lock().unwrap().remove(&run.instance);
            self.failed.lock().unwrap().insert(run.instance.clone(), error);
            wake.notify_one();
        };
        let Some(def) = definitions.get(&*ctx.store, &env.app, &run.version).await else {
            return fail(format!("version {} has no usable definition", run.version));
        };
        let version = match ctx.store.get_version(&env.app, &run.version).await {
            Ok(v) => v,
            Err(e) => return fail(format!("cannot read version {}: {e}", run.version)),
        };
        let (secrets, versions) = match super::launching::preflight(ctx, env, &def).await {
            Ok(found) => found,
            Err(error) => return fail(error),
        };
        let dir = ctx.settings.instance_dir(&env.app, &env.name, &run.instance);
        let identity = InstanceIdentity {
            server: ctx.settings.server_id.clone(),
            app: env.app.clone(),
            env: env.name.clone(),
            instance: run.instance.clone(),
            version: run.version.clone(),
            launched_at: ctx.clock.now().timestamp(),
            config: config_hash_with(&env.variables, &versions),
            bundle_dir: version.bundle_path.clone().into(),
            log_dir: dir.join("logs"),
            volume_dir: dir.join("volumes"),
        };
        let one_off =
            OneOff { container: run.task.container.clone(), command: run.task.command.clone(), role: ROLE_RELEASE };
        let Some(plan) = plan_one_off(&def, &one_off, &identity, &env.variables, &secrets) else {
            return fail(format!("version {} has no container definition {}", run.version, run.task.container));
        };
        let plan =
            crate::version_images::pin_images(plan, &crate::version_images::pinned(ctx, &env.app, &run.version).await);
        let leftover = leftover.map(|i| (i.container_names(None), i.network.clone()));
        let (ctx, launching, failed, wake) = (ctx.clone(), self.launching.clone(), self.failed.clone(), wake.clone());
        let (app, env_name) = (env.app.clone(), env.name.clone());
        tokio::spawn(async move {
            if let Some((names, network)) = leftover {
                let network = network.unwrap_or_else(|| plan.network.name.clone());
                let stop = ctx.settings.stop_timeout;
                let _ = crate::instance::retire::remove_instance_objects(
                    &*ctx.engine,
                    &ctx.networks,
                    &names,
                    &network,
                    stop,
                )
                .await;
            }
            let result = crate::instance::launch_instance(&*ctx.engine, &ctx.networks, &plan).await;
            if let Err(e) = result {
                failed.lock().unwrap().insert(run.instance.clone(), e.to_string());
            }
            ctx.look.note_change(&app, &env_name);
            launching.lock().unwrap().remove(&run.instance);
            wake.notify_one();
        });
    }
}
