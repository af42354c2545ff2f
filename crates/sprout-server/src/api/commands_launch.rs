//! The one-off instance of `sprout run`: planned like a release task's (`instance::one_off`,
//! role `run`), launched with the command's container last so that it is attached to before it
//! starts (nothing it writes is missed, and it can read its input from the first byte), and
//! removed afterwards with its output saved to the logs.

use sprout_api::command::RunRequest;
use sprout_engine::{Attached, ContainerSpec};
use sprout_model::Dockerrun;
use sprout_model::names::ROLE_RUN;
use sprout_store::{EnvironmentRecord, VersionRecord};

use super::error::ApiError;
use crate::context::Ctx;
use crate::instance::one_off::{OneOff, plan_one_off};
use crate::instance::spec::config_hash_with;
use crate::instance::{InstanceIdentity, InstancePlan};

/// The instance's plan without the command's container, and that container's spec (with a
/// terminal if asked, and its input kept open for the client).
pub(crate) async fn plan(
    ctx: &Ctx,
    env: &EnvironmentRecord,
    (def, version): (&Dockerrun, &VersionRecord),
    container: &str,
    spec: &RunRequest,
    id: &str,
) -> Result<(InstancePlan, ContainerSpec), ApiError> {
    let (secrets, versions) =
        crate::controller::launching::preflight(ctx, env, def).await.map_err(ApiError::Conflict)?;
    let dir = ctx.settings.instance_dir(&env.app, &env.name, id);
    let identity = InstanceIdentity {
        server: ctx.settings.server_id.clone(),
        app: env.app.clone(),
        env: env.name.clone(),
        instance: id.to_string(),
        version: version.label.clone(),
        launched_at: ctx.clock.now().timestamp(),
        config: config_hash_with(&env.variables, &versions),
        bundle_dir: version.bundle_path.clone().into(),
        log_dir: dir.join("logs"),
        volume_dir: dir.join("volumes"),
    };
    let one_off = OneOff { container: container.to_string(), command: spec.command.clone(), role: ROLE_RUN };
    let plan = plan_one_off(def, &one_off, &identity, &env.variables, &secrets)
        .ok_or_else(|| ApiError::NotFound(format!("no container definition is named {container}")))?;
    let mut plan =
        crate::version_images::pin_images(plan, &crate::version_images::pinned(ctx, &env.app, &version.label).await);
    let at = plan.containers.iter().position(|c| c.name == container).expect("the plan holds its own container");
    let mut task = plan.containers.remove(at).spec;
    task.tty = spec.tty;
    task.open_stdin = true;
    Ok((plan, task))
}

/// Launches what the command's container needs, then creates it, attaches to it and starts it.
pub(crate) async fn start(ctx: &Ctx, plan: &InstancePlan, task: &ContainerSpec) -> Result<Attached, ApiError> {
    crate::instance::launch_instance(&*ctx.engine, &ctx.networks, plan)
        .await
        .map_err(|e| ApiError::Conflict(format!("the one-off instance could not be launched: {e}")))?;
    ctx.engine.create_container(task).await?;
    let attached = ctx.engine.attach(&task.name).await?;
    ctx.engine.start_container(&task.name).await?;
    Ok(attached)
}

/// Stops and removes the instance (the command's container `task` last started, so first
/// stopped), its containers' output saved under its instance directory.
pub(crate) async fn remove(ctx: &Ctx, env: &EnvironmentRecord, plan: &InstancePlan, task: &ContainerSpec, id: &str) {
    let mut names: Vec<String> = plan.containers.iter().map(|c| c.spec.name.clone()).collect();
    names.push(task.name.clone());
    let dir = ctx.settings.instance_dir(&env.app, &env.name, id);
    let r = crate::instance::retire_instance(
        &*ctx.engine,
        &ctx.networks,
        &names,
        &plan.network.name,
        ctx.settings.stop_timeout,
        Some(&dir.join("volumes")),
        Some(&dir),
    )
    .await;
    if let Err(e) = r {
        tracing::warn!(app = env.app, env = env.name, instance = id, "could not remove a `sprout run` instance: {e}");
    }
}
