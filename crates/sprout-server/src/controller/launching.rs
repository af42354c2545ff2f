//! Instances being launched, in the background: a launch takes seconds (containers created and
//! started in waves), and the controller keeps ticking meanwhile, so the first instance ready
//! is probed and put in service without waiting for the others of its batch.
//!
//! While launching, an instance counts as capacity to come (Pending) and is neither judged (its
//! containers are half created) nor retired (its launch task owns it until it ends).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sprout_model::Dockerrun;
use sprout_model::sprout_yaml::hooks::HookPoint;
use sprout_store::EnvironmentRecord;
use tokio::sync::Notify;

use crate::context::Ctx;
use crate::events::Event;
use crate::instance::spec::{config_hash_with, deploy_key};
use crate::instance::{self, InstanceIdentity, ObservedInstance};

/// One launch in flight: the planner's deploy key (version and properties) and its start.
pub use sprout_plan::pass::LaunchInFlight as Launching;

/// Launches in flight and launches that failed since the last look.
#[derive(Debug, Clone, Default)]
pub struct Launches {
    inflight: Arc<Mutex<HashMap<String, Launching>>>,
    failed: Arc<Mutex<Vec<(String, String)>>>,
}

impl Launches {
    pub fn begin(&self, id: &str, launching: Launching) {
        self.inflight.lock().unwrap().insert(id.to_string(), launching);
    }

    /// A launch ended, with the error when it failed (the launch cleaned up after itself).
    pub fn end(&self, id: &str, error: Option<String>) {
        self.inflight.lock().unwrap().remove(id);
        if let Some(e) = error {
            self.failed.lock().unwrap().push((id.to_string(), e));
        }
    }

    pub fn snapshot(&self) -> HashMap<String, Launching> {
        self.inflight.lock().unwrap().clone()
    }

    /// The launches that failed and were not yet said: (instance, error).
    pub fn failures(&self) -> Vec<(String, String)> {
        self.failed.lock().unwrap().clone()
    }

    /// The first `n` failures were said: forget them. (Read and forgotten apart, so a pass
    /// whose write was refused says them on the next pass instead of losing them.)
    pub fn forget_failures(&self, n: usize) {
        let mut failed = self.failed.lock().unwrap();
        let n = n.min(failed.len());
        failed.drain(..n);
    }
}

/// Launches one instance of `version` (its definition `def`) for `env`, in the background: a
/// few launches at a time (`Settings::launch_concurrency`); its end wakes the controller.
/// With `stopped`, the instance is created whole and not started (the stopped warm pool).
#[allow(clippy::too_many_arguments)]
pub async fn start(
    ctx: &Ctx,
    launches: &Launches,
    env: &EnvironmentRecord,
    version: &str,
    def: &Dockerrun,
    stopped: bool,
    now: DateTime<Utc>,
    wake: Arc<Notify>,
) {
    let Ok(v) = ctx.store.get_version(&env.app, version).await else { return };
    let id = new_instance_id();
    let (secrets, versions) = match preflight(ctx, env, def).await {
        Ok(found) => found,
        Err(error) => {
            // A launch that failed before it began: said and backed off like any failed launch.
            launches.end(&id, Some(error));
            wake.notify_one();
            return;
        }
    };
    let dir = ctx.settings.instance_dir(&env.app, &env.name, &id);
    let mut identity = InstanceIdentity {
        server: ctx.settings.server_id.clone(),
        app: env.app.clone(),
        env: env.name.clone(),
        instance: id.clone(),
        version: version.to_string(),
        launched_at: now.timestamp(),
        config: config_hash_with(&env.variables, &versions),
        bundle_dir: v.bundle_path.clone().into(),
        log_dir: dir.join("logs"),
        volume_dir: dir.join("volumes"),
    };
    let pinned = crate::version_images::pinned(ctx, &env.app, version).await;
    let key = deploy_key(version, &identity.config);
    launches.begin(&id, Launching { key, launched_at: identity.launched_at, stopped, ordered_at: now });
    let (ctx, launches, app, env_name, version) =
        (ctx.clone(), launches.clone(), env.app.clone(), env.name.clone(), version.to_string());
    let (def, variables) = (def.clone(), env.variables.clone());
    let placement = env.options.placement.constraints.clone();
    tokio::spawn(async move {
        // The engine's work is CPU-bound, so more launches at once share the CPU and delay the
        // first capacity.
        let _slot = ctx.launch_slots.clone().acquire_owned().await;
        // Launched now, not when it was planned: with hundreds of launches queued for a slot,
        // the wait counted against the instance's time to pass its first health check, and
        // instances were replaced as soon as they started (issue 18).
        identity.launched_at = ctx.clock.now().timestamp();
        let mut plan = instance::plan_instance_with_secrets(&def, &identity, &variables, &secrets);
        plan.network.placement = placement;
        drop(secrets);
        let plan = crate::version_images::pin_images(plan, &pinned);
        let result = instance::launch_instance_as(&*ctx.engine, &ctx.networks, &plan, !stopped).await;
        drop(_slot);
        if result.is_ok() && stopped {
            ctx.emit(&app, Some(&env_name), Event::InstanceCreatedStopped { instance: id.clone(), version }).await;
        } else if result.is_ok() {
            // `post_start` hooks, before the launch counts as done (as Kubernetes holds a
            // container's readiness until its postStart ends); each is cut at its timeout and a
            // failing one is said, not fatal.
            let hooks = instance::hooks::hooks_of(&ctx, &app, &version, &def).await;
            if !hooks.is_empty() {
                let find = |c: &str| Some((sprout_model::names::container_name(&app, &env_name, &id, c), true));
                let who = (app.as_str(), env_name.as_str(), id.as_str());
                instance::hooks::run_hooks_in(&ctx, who, &find, &hooks, HookPoint::PostStart).await;
            }
            ctx.emit(&app, Some(&env_name), Event::InstanceLaunched { instance: id.clone(), version }).await;
        }
        // Before it leaves the launches in flight: a pass that no longer sees it launching
        // looks at the engine again (`instance::look`).
        ctx.look.note_change(&app, &env_name);
        launches.end(&id, result.err().map(|e| e.to_string()));
        wake.notify_one();
    });
}

/// Starts a stopped warm instance in the background: its containers in start order, then its
/// `post_start` hooks; no image resolution, no creation and no launch slot (a start is cheap,
/// and it is what a held request waits for). The pass judges it Pending until its first
/// health check passes. A start that fails leaves a half-started instance, which the next
/// pass replaces.
pub async fn wake_stopped(
    ctx: &Ctx,
    launches: &Launches,
    env: &EnvironmentRecord,
    inst: &ObservedInstance,
    def: &Dockerrun,
    now: DateTime<Utc>,
    wake: Arc<Notify>,
) {
    let dir = ctx.settings.instance_dir(&env.app, &env.name, &inst.id);
    // Only the containers' names and start order are read: the specs were created already.
    let identity = InstanceIdentity {
        server: ctx.settings.server_id.clone(),
        app: env.app.clone(),
        env: env.name.clone(),
        instance: inst.id.clone(),
        version: inst.version.clone(),
        launched_at: inst.launched_at,
        config: inst.config.clone(),
        bundle_dir: Default::default(),
        log_dir: dir.join("logs"),
        volume_dir: dir.join("volumes"),
    };
    let plan = instance::plan_instance(def, &identity, &Default::default());
    let key = deploy_key(&inst.version, &inst.config);
    launches.begin(&inst.id, Launching { key, launched_at: inst.launched_at, stopped: false, ordered_at: now });
    let (ctx, launches, app, env_name) = (ctx.clone(), launches.clone(), env.app.clone(), env.name.clone());
    let (id, version, def) = (inst.id.clone(), inst.version.clone(), def.clone());
    tokio::spawn(async move {
        let result = instance::start_instance(&*ctx.engine, &plan).await;
        if result.is_ok() {
            let hooks = instance::hooks::hooks_of(&ctx, &app, &version, &def).await;
            if !hooks.is_empty() {
                let find = |c: &str| Some((sprout_model::names::container_name(&app, &env_name, &id, c), true));
                let who = (app.as_str(), env_name.as_str(), id.as_str());
                instance::hooks::run_hooks_in(&ctx, who, &find, &hooks, HookPoint::PostStart).await;
            }
            ctx.emit(&app, Some(&env_name), Event::InstanceStarted { instance: id.clone(), version }).await;
        }
        ctx.look.note_change(&app, &env_name);
        launches.end(&id, result.err().map(|e| format!("starting the stopped warm instance: {e}")));
        wake.notify_one();
    });
}

/// What must hold before a launch begins, checked at every launch: the host access policy
/// (it may have changed since the version was deployed) and the secrets the definition names.
/// Gives the environment's secrets, opened, and their versions: those versions make the
/// instance's configuration, so a secret set again meanwhile makes it stale and the next pass
/// replaces it.
pub(crate) async fn preflight(
    ctx: &Ctx,
    env: &EnvironmentRecord,
    def: &Dockerrun,
) -> Result<(std::collections::BTreeMap<String, String>, std::collections::BTreeMap<String, i64>), String> {
    match crate::host_access::violations(&*ctx.store, &env.app, def).await {
        Ok(found) if found.is_empty() => {}
        Ok(found) => return Err(format!("host access not allowed: {}", crate::host_access::describe(&found))),
        Err(e) => return Err(format!("cannot read the host access policy: {e}")),
    }
    let versions = crate::env_secrets::versions(&*ctx.store, &env.app, &env.name)
        .await
        .map_err(|e| format!("cannot read the secrets: {e}"))?;
    let missing = crate::env_secrets::missing(def, &versions);
    if !missing.is_empty() {
        return Err(format!(
            "the definition names secrets this environment does not have: {}; set them with `sprout secrets set {} NAME --value-stdin`",
            missing.join(", "),
            env.name
        ));
    }
    Ok((crate::env_secrets::open_all(ctx, &env.app, &env.name).await?, versions))
}

/// A new instance id: `i-` and 10 hex digits from the OS's random source.
pub fn new_instance_id() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).expect("the OS random source is available");
    format!("i-{}", hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_inflight_and_counts_failures_once() {
        let l = Launches::default();
        let at = DateTime::from_timestamp(5, 0).unwrap();
        l.begin("i-1", Launching { key: "v1".into(), launched_at: 5, stopped: false, ordered_at: at });
        l.begin("i-2", Launching { key: "v1".into(), launched_at: 5, stopped: true, ordered_at: at });
        assert_eq!(l.snapshot().len(), 2);
        l.end("i-1", None);
        l.end("i-2", Some("boom".into()));
        assert!(l.snapshot().is_empty());
        assert_eq!(l.failures(), vec![("i-2".to_string(), "boom".to_string())]);
        l.forget_failures(1);
        assert!(l.failures().is_empty());
    }
}
