//! Controllers: the supervisor keeps one `EnvController` task per environment in the store and
//! sweeps the engine for instances no environment wants.

pub mod autoscale;
pub mod cron;
pub mod definitions;
pub mod env;
pub mod health;
pub mod launching;
pub mod release;
pub mod retiring;
pub mod watch;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sprout_model::names::*;
use sprout_plan::{FoundInstance, plan_orphans};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};
use crate::events::Event;

/// How often orphans are looked for.
const ORPHAN_SWEEP: Duration = Duration::from_secs(10);

/// Run until cancelled: start a controller for every environment, sweep orphans.
pub async fn supervise(ctx: Ctx, cancel: CancellationToken) {
    let mut tasks: HashMap<EnvKey, JoinHandle<()>> = HashMap::new();
    let mut next_sweep = tokio::time::Instant::now();
    let autoscaler = tokio::spawn(autoscale::run(ctx.clone(), cancel.child_token()));
    let watcher = tokio::spawn(watch::run(ctx.clone(), cancel.child_token()));
    let cron = tokio::spawn(cron::run(ctx.clone(), cancel.child_token()));
    loop {
        tasks.retain(|_, h| !h.is_finished());
        match ctx.store.list_environments(None).await {
            Ok(envs) => {
                let known: BTreeSet<EnvKey> = envs.iter().map(|e| e.id()).collect();
                for key in &known {
                    if !tasks.contains_key(key) {
                        let c = env::EnvController::new(ctx.clone(), key.app.clone(), key.env.clone());
                        tasks.insert(key.clone(), tokio::spawn(c.run(cancel.child_token())));
                    }
                }
                if tokio::time::Instant::now() >= next_sweep {
                    next_sweep = tokio::time::Instant::now() + ORPHAN_SWEEP;
                    let running: BTreeSet<EnvKey> = tasks.keys().cloned().collect();
                    sweep_orphans(&ctx, &known.union(&running).cloned().collect()).await;
                }
            }
            Err(e) => tracing::warn!("supervisor cannot read environments: {e}"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ctx.kick.notified() => {}
            _ = tokio::time::sleep(ctx.settings.tick) => {}
        }
    }
    for (_, h) in tasks {
        let _ = h.await;
    }
    let _ = autoscaler.await;
    let _ = watcher.await;
    let _ = cron.await;
}

/// Remove instances of this server that belong to no environment.
pub async fn sweep_orphans(ctx: &Ctx, known: &BTreeSet<EnvKey>) {
    let filter = std::collections::BTreeMap::from([(LABEL_SERVER.to_string(), ctx.settings.server_id.clone())]);
    let (Ok(containers), Ok(networks)) =
        (ctx.engine.list_containers(&filter).await, ctx.engine.list_networks(&filter).await)
    else {
        return;
    };
    let label = |l: &std::collections::BTreeMap<String, String>, k: &str| l.get(k).cloned().unwrap_or_default();
    let mut found: Vec<FoundInstance> = containers
        .iter()
        .map(|c| FoundInstance {
            app: label(&c.labels, LABEL_APP),
            env: label(&c.labels, LABEL_ENV),
            instance: label(&c.labels, LABEL_INSTANCE),
        })
        .collect();
    found.extend(networks.iter().map(|n| FoundInstance {
        app: label(&n.labels, LABEL_APP),
        env: label(&n.labels, LABEL_ENV),
        instance: label(&n.labels, LABEL_INSTANCE),
    }));
    for o in plan_orphans(known, &found) {
        let names: Vec<String> = containers
            .iter()
            .filter(|c| label(&c.labels, LABEL_INSTANCE) == o.instance && label(&c.labels, LABEL_ENV) == o.env)
            .map(|c| c.name.clone())
            .collect();
        let net = network_name(&o.app, &o.env, &o.instance);
        let stop = ctx.settings.stop_timeout;
        if crate::instance::retire::remove_instance_objects(&*ctx.engine, &ctx.networks, &names, &net, stop)
            .await
            .is_ok()
        {
            ctx.emit(
                &o.app,
                Some(&o.env),
                Event::OrphanRemoved { app: o.app.clone(), env: o.env.clone(), instance: o.instance.clone() },
            )
            .await;
        }
    }
}
