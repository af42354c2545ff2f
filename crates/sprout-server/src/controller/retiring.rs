//! Instances being retired, in the background: drained (unless unhealthy), their `pre_stop`
//! hooks run, then stopped and
//! removed with their network and volumes. An instance that will not stop or be removed stays
//! in the set, out of rotation and out of the plan (so it is replaced), while cleanup is
//! retried; after many failures it is given back to the controller, which plans it again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_model::Dockerrun;
use sprout_model::sprout_yaml::hooks::HookPoint;
use sprout_plan::pass::Retirement;
use tokio::sync::Notify;

use crate::context::Ctx;
use crate::events::Event;
use crate::instance::{self, ObservedInstance};

/// How often cleanup of a quarantined instance (one that would not stop or be removed) is retried.
const QUARANTINE_RETRY: Duration = Duration::from_secs(30);
/// Cleanup attempts before a quarantined instance is given back to the controller.
const QUARANTINE_ATTEMPTS: u32 = 20;

/// The ids of instances being retired, and the controller's wake-up (each retirement's end
/// wakes it).
#[derive(Debug, Clone)]
pub struct Retiring {
    ids: Arc<Mutex<HashSet<String>>>,
    wake: Arc<Notify>,
}

impl Retiring {
    pub fn new(wake: Arc<Notify>) -> Self {
        Retiring { ids: Arc::default(), wake }
    }

    pub fn snapshot(&self) -> HashSet<String> {
        self.ids.lock().unwrap().clone()
    }

    /// Retire `inst` as `retirement` says, in the background; its end wakes the controller.
    pub fn start(
        &self,
        ctx: &Ctx,
        (app, env): (&str, &str),
        inst: ObservedInstance,
        def: Option<Arc<Dockerrun>>,
        retirement: Retirement,
        deregistration_delay: Duration,
    ) {
        self.ids.lock().unwrap().insert(inst.id.clone());
        let (ctx, retiring, wake) = (ctx.clone(), self.ids.clone(), self.wake.clone());
        let (app, env) = (app.to_string(), env.to_string());
        tokio::spawn(async move {
            // Drain: the instance is already out of the routing table; let in-flight requests
            // finish. An unhealthy instance has nothing worth waiting for.
            if retirement.drain {
                super::health::drain(&ctx, (&app, &env, &inst.id), deregistration_delay).await;
            }
            // The containers' goodbye (`pre_stop`), out of rotation and before SIGTERM; each
            // hook is cut at its timeout, so a hanging one never holds the stop for long.
            if let Some(def) = def.as_deref() {
                let hooks = instance::hooks::hooks_of(&ctx, &app, &inst.version, def).await;
                instance::hooks::run_hooks(&ctx, (&app, &env), &inst, &hooks, HookPoint::PreStop).await;
            }
            let names = inst.container_names(def.as_deref());
            let network =
                inst.network.clone().unwrap_or_else(|| sprout_model::names::network_name(&app, &env, &inst.id));
            let vol = ctx.settings.instance_dir(&app, &env, &inst.id).join("volumes");
            let reason = retirement.reason.describe();
            for attempt in 0u32.. {
                let stop = ctx.settings.stop_timeout;
                match instance::retire_instance(
                    &*ctx.engine,
                    &ctx.networks,
                    &names,
                    &network,
                    stop,
                    Some(&vol),
                    vol.parent(),
                )
                .await
                {
                    Ok(()) => {
                        ctx.emit(&app, Some(&env), Event::InstanceRetired { instance: inst.id.clone(), reason }).await;
                        break;
                    }
                    Err(e) if attempt == 0 => {
                        let event = Event::InstanceQuarantined { instance: inst.id.clone(), error: e.to_string() };
                        ctx.emit(&app, Some(&env), event).await;
                    }
                    Err(e) if attempt >= QUARANTINE_ATTEMPTS => {
                        let event = Event::RetireFailed { instance: inst.id.clone(), error: e.to_string() };
                        ctx.emit(&app, Some(&env), event).await;
                        break;
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(QUARANTINE_RETRY).await;
            }
            ctx.look.note_change(&app, &env);
            retiring.lock().unwrap().remove(&inst.id);
            wake.notify_one();
        });
    }
}
