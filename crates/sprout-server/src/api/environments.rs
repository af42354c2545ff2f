//! Environments: create, show, list, deploy, terminate. Each request changes the desired state
//! in the store and wakes the controllers; the controllers do the work.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sprout_store::{EnvStatus, EnvironmentRecord};

use super::deployable::check_deployable;
use super::error::{ApiError, bad};
use super::view::view;
use crate::context::Ctx;
use crate::events::Event;

pub use sprout_api::{DeployRequest, EnvView, NewEnvironment};

pub async fn create(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<NewEnvironment>,
) -> Result<(StatusCode, Json<EnvView>), ApiError> {
    sprout_model::names::check_name("environment", &req.name).map_err(|m| bad(m, None))?;
    for (name, value) in &req.variables {
        super::variables::check_variable(name, value)?;
    }
    ctx.store.get_application(&app).await?;
    if req.instances > 100 {
        return Err(bad(format!("{} instances is more than this server allows (100)", req.instances), None));
    }
    if ctx.store.get_environment(&app, &req.name).await.is_ok() {
        return Err(ApiError::Conflict(format!(
            "environment {app}/{} already exists: use `sprout deploy` to change its version",
            req.name
        )));
    }
    super::hostnames::check_host_free(&ctx, &app, &req.name).await?;
    let version = ctx.store.get_version(&app, &req.version).await?;
    let tier = match req.tier {
        Some(t) => t,
        None => super::deployable::default_tier(&version)?,
    };
    check_deployable(&ctx, &version, &req.name, tier).await?;
    let release = super::release::task_for(&version, None)?;
    let mut options = sprout_store::EnvOptions::default();
    options.deploy.timeout_s = ctx.settings.deploy_timeout_s;
    let mut variables = req.variables.clone();
    if let Some(name) = &req.cfg {
        // The saved configuration first; the request's own properties and deploy flags on top.
        let saved = super::saved::find(&ctx, &app, name).await?;
        let source = sprout_model::config::Source::Saved { name: name.clone() };
        options = sprout_model::config::from_values(&saved.options, &source)
            .map_err(|errors| bad(format!("saved configuration {name}: {}", errors.join("; ")), None))?;
        options.scaling.scheduled_actions = saved.scheduled_actions.clone();
        variables = saved.variables.clone();
        variables.extend(req.variables.clone());
    }
    if let Some(p) = &req.deploy {
        super::deploy_options::apply_patch(p, &mut options.deploy)?;
        super::deploy_options::mark_by_hand(p, &mut options.sources);
    }
    options.tier = tier;
    super::bundle_options::apply_to_new(&ctx, &app, &req.version, &mut options).await?;
    let band = sprout_plan::scaling::band_of(&EnvironmentRecord {
        options: options.clone(),
        ..EnvironmentRecord::launching(&app, &req.name, &req.version, req.instances, ctx.clock.now())
    });
    let instances = req.instances.clamp(band.min, band.max);
    let timeout = req.timeout_s.unwrap_or(options.deploy.timeout_s);
    sprout_model::options::check_deploy_timeout(timeout).map_err(|m| bad(m, None))?;
    let launch = (instances, variables, options, timeout);
    let record = launch_environment(&ctx, &app, &req.name, req.version, launch, release).await?;
    Ok((StatusCode::CREATED, Json(view(&ctx, &record))))
}

/// What a new environment launches with: instances, properties, options, launch timeout.
pub(crate) type Launch = (u32, BTreeMap<String, String>, sprout_store::EnvOptions, u64);

/// Store a new environment in `Launching` (its release task, if given, to run before the first
/// instance), record the event and wake the controllers: the shared end of `create` and `clone`.
pub(crate) async fn launch_environment(
    ctx: &Ctx,
    app: &str,
    name: &str,
    version: String,
    (instances, variables, options, timeout_s): Launch,
    release: Option<sprout_model::sprout_yaml::release::ReleaseTask>,
) -> Result<EnvironmentRecord, ApiError> {
    let now = ctx.clock.now();
    let mut record = EnvironmentRecord {
        variables,
        options,
        deploy_deadline: Some(now + chrono::Duration::seconds(timeout_s as i64)),
        ..EnvironmentRecord::launching(app, name, &version, instances, now)
    };
    if let Some(task) = release {
        super::release::begin(&mut record, None, task, now);
    }
    ctx.store.create_environment(&record).await?;
    ctx.emit(app, Some(name), Event::EnvironmentCreated { version, instances }).await;
    ctx.kick.notify_waiters();
    Ok(record)
}

pub async fn show(State(ctx): State<Ctx>, Path((app, env)): Path<(String, String)>) -> Result<Json<EnvView>, ApiError> {
    ctx.store.get_application(&app).await?;
    let e = ctx.store.get_environment(&app, &env).await?;
    Ok(Json(view(&ctx, &e)))
}

pub async fn list_of_app(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<Vec<EnvView>>, ApiError> {
    ctx.store.get_application(&app).await?;
    let envs = ctx.store.list_environments(Some(&app)).await?;
    Ok(Json(envs.iter().map(|e| view(&ctx, e)).collect()))
}

pub async fn list_all(
    State(ctx): State<Ctx>,
    caller: Option<axum::Extension<super::auth::Caller>>,
) -> Result<Json<Vec<EnvView>>, ApiError> {
    let envs = ctx.store.list_environments(None).await?;
    let shown = |app: &str| caller.as_ref().is_none_or(|c| super::access::shows(&c.0.0, app));
    Ok(Json(envs.iter().filter(|e| shown(&e.app)).map(|e| view(&ctx, e)).collect()))
}

pub async fn deploy(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<DeployRequest>,
) -> Result<Json<EnvView>, ApiError> {
    // Checked before anything is looked up: a bad number is the request's fault, whatever else.
    if let Some(t) = req.timeout_s {
        sprout_model::options::check_deploy_timeout(t).map_err(|m| bad(m, None))?;
    }
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if e.status == EnvStatus::Terminating {
            return Err(ApiError::Conflict(format!("environment {app}/{env} is terminating")));
        }
        let version = ctx.store.get_version(&app, &req.version).await?;
        check_deployable(&ctx, &version, &env, e.options.tier).await?;
        let release = super::release::task_for(&version, req.release.as_ref())?;
        let now = ctx.clock.now();
        let from = std::mem::replace(&mut e.version_label, req.version.clone());
        e.status = EnvStatus::Updating;
        e.last_error = None;
        if let Some(p) = &req.deploy {
            super::deploy_options::apply_patch(p, &mut e.options.deploy)?;
            super::deploy_options::mark_by_hand(p, &mut e.options.sources);
        }
        let bundle_changes = super::bundle_options::apply(&ctx, &app, &req.version, &mut e.options).await?;
        let band = sprout_plan::scaling::band_of(&e);
        e.desired_instances = e.desired_instances.clamp(band.min, band.max);
        let timeout = req.timeout_s.unwrap_or(e.options.deploy.timeout_s);
        // Again for the stored option: one written before ranges were checked may be anything.
        sprout_model::options::check_deploy_timeout(timeout).map_err(|m| bad(m, None))?;
        e.deploy_deadline = Some(now + chrono::Duration::seconds(timeout as i64));
        e.updated_at = now;
        if let Some(task) = release {
            super::release::begin(&mut e, Some(from.clone()), task, now);
        }
        ctx.store.update_environment(&mut e).await?;
        let source = sprout_model::config::Source::Bundle { version: req.version.clone() };
        super::config::emit_changes(&ctx, &app, &env, &bundle_changes, &source).await;
        ctx.emit(&app, Some(&env), Event::DeployStarted { from, to: req.version.clone() }).await;
        ctx.wake(&app, &env);
        Ok(Json(view(&ctx, &e)))
    })
    .await
}

pub async fn terminate(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<(StatusCode, Json<EnvView>), ApiError> {
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if e.status != EnvStatus::Terminating {
            e.status = EnvStatus::Terminating;
            e.deploy_deadline = None;
            e.updated_at = ctx.clock.now();
            ctx.store.update_environment(&mut e).await?;
            ctx.emit(&app, Some(&env), Event::TerminateStarted).await;
            ctx.wake(&app, &env);
        }
        Ok((StatusCode::ACCEPTED, Json(view(&ctx, &e))))
    })
    .await
}
