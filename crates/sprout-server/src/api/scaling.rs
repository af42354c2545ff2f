//! Scaling and scheduled actions: show and set the band, desired count and target
//! (`sprout scale`); add, list, remove, suspend, resume and preview scheduled actions
//! (`sprout schedule`). Bad input is refused naming the field, with a correct example. The
//! autoscale controller does the work; these handlers only change the store.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sprout_model::scaling::{ScalingSettings, ScheduledAction, SettingError, check_band};
use sprout_plan::scaling::band_of;
use sprout_plan::schedule::{BandChange, preview as plan_preview, validate_action};
use sprout_store::{CapacityOptions, EnvStatus, EnvironmentRecord};

use super::error::{ApiError, bad};
use crate::context::Ctx;

/// Most instances one environment may ask for.
const MAX_INSTANCES: u32 = 100;

#[derive(Serialize)]
pub struct ScalingView {
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    pub settings: ScalingSettings,
}

fn view(e: &EnvironmentRecord) -> ScalingView {
    let b = band_of(e);
    ScalingView { desired: e.desired_instances, min: b.min, max: b.max, settings: e.options.scaling.clone() }
}

fn refused(e: SettingError) -> ApiError {
    bad(format!("{}: {}", e.field, e.message), Some(format!("for example {}", e.example)))
}

/// `PUT .../scaling`: any of desired, min, max, target; the rest stay as they are.
#[derive(Deserialize, Default)]
pub struct ScaleRequest {
    pub desired: Option<u32>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub target_rps: Option<f64>,
    pub scale_in_window_s: Option<u32>,
    pub scale_in_cooldown_s: Option<u32>,
    /// Requests the load balancer holds while no instance is in service, and for how long.
    pub queue_max_requests: Option<u32>,
    pub queue_max_wait_ms: Option<u64>,
    pub warm_pool: Option<u32>,
    /// How the warm pool's instances wait: running or stopped.
    pub warm_pool_state: Option<sprout_model::scaling::WarmPoolState>,
    /// 0 removes the limit.
    pub instance_limit: Option<u32>,
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<ScalingView>, ApiError> {
    Ok(Json(view(&ctx.store.get_environment(&app, &env).await?)))
}

pub async fn set(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<ScaleRequest>,
) -> Result<Json<ScalingView>, ApiError> {
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if e.status != EnvStatus::Ready && req.desired.is_some() {
            return Err(ApiError::Conflict(format!(
                "environment {app}/{env} is {}: wait until it is Ready (`sprout status {env}`), then scale",
                e.status.as_str()
            )));
        }
        let old = band_of(&e);
        let (min, max) = (req.min.unwrap_or(old.min), req.max.unwrap_or(old.max));
        // Only a new band moves the other bound along: `--max 1` on a 2..6 band is refused, not guessed.
        check_band(min, max, req.desired).map_err(refused)?;
        if max > MAX_INSTANCES {
            return Err(bad(
                format!("max: {max} instances is more than this server allows ({MAX_INSTANCES})"),
                Some("for example --max 10".to_string()),
            ));
        }
        let mut scaling = e.options.scaling.clone();
        if let Some(t) = req.target_rps {
            scaling.target_rps = Some(t);
        }
        if let Some(w) = req.scale_in_window_s {
            scaling.scale_in_window_s = w;
        }
        if let Some(c) = req.scale_in_cooldown_s {
            scaling.scale_in_cooldown_s = c;
        }
        if let Some(n) = req.queue_max_requests {
            scaling.queue.max_requests = n;
        }
        if let Some(ms) = req.queue_max_wait_ms {
            scaling.queue.max_wait_ms = ms;
        }
        if let Some(n) = req.instance_limit {
            scaling.queue.max_in_flight_per_instance = (n > 0).then_some(n);
        }
        if let Some(n) = req.warm_pool {
            scaling.warm_pool = n;
        }
        if let Some(state) = req.warm_pool_state {
            scaling.warm_pool_state = state;
        }
        scaling.validate().map_err(refused)?;
        let given = [
            ("scaling.min", req.min.is_some()),
            ("scaling.max", req.max.is_some()),
            ("scaling.target", req.target_rps.is_some()),
            ("scaling.scale_in_window", req.scale_in_window_s.is_some()),
            ("scaling.scale_in_cooldown", req.scale_in_cooldown_s.is_some()),
            ("scaling.queue.max_requests", req.queue_max_requests.is_some()),
            ("scaling.queue.max_wait_ms", req.queue_max_wait_ms.is_some()),
            ("scaling.warm_pool", req.warm_pool.is_some()),
            ("scaling.warm_pool_state", req.warm_pool_state.is_some()),
            ("scaling.instance_limit", req.instance_limit.is_some()),
        ];
        for (key, _) in given.into_iter().filter(|(_, set)| *set) {
            e.options.sources.insert(key.to_string(), sprout_model::config::Source::Hand);
        }
        e.options.scaling = scaling;
        e.options.capacity = CapacityOptions { min: Some(min), max: Some(max) };
        e.desired_instances = req.desired.unwrap_or(e.desired_instances).clamp(min, max);
        e.updated_at = ctx.clock.now();
        ctx.store.update_environment(&mut e).await?;
        ctx.wake(&app, &env);
        Ok(Json(view(&e)))
    })
    .await
}

pub async fn list(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<Vec<ScheduledAction>>, ApiError> {
    Ok(Json(ctx.store.get_environment(&app, &env).await?.options.scaling.scheduled_actions))
}

pub async fn add(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(a): Json<ScheduledAction>,
) -> Result<(StatusCode, Json<ScheduledAction>), ApiError> {
    validate_action(&a).map_err(refused)?;
    if a.max.is_some_and(|m| m > MAX_INSTANCES) {
        return Err(bad(
            format!("max: more than this server allows ({MAX_INSTANCES})"),
            Some("for example --max 10".to_string()),
        ));
    }
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if e.options.scaling.scheduled_actions.iter().any(|x| x.name == a.name) {
            return Err(ApiError::Conflict(format!(
                "scheduled action {} already exists on {app}/{env}: remove it first (`sprout schedule remove {env} {}`) or pick another name",
                a.name, a.name
            )));
        }
        e.options.scaling.scheduled_actions.push(a.clone());
        e.updated_at = ctx.clock.now();
        ctx.store.update_environment(&mut e).await?;
        Ok((StatusCode::CREATED, Json(a.clone())))
    })
    .await
}

async fn change(
    ctx: &Ctx,
    app: &str,
    env: &str,
    name: &str,
    f: impl Fn(&mut Vec<ScheduledAction>, usize),
) -> Result<Vec<ScheduledAction>, ApiError> {
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(app, env).await?;
        let actions = &mut e.options.scaling.scheduled_actions;
        let Some(i) = actions.iter().position(|a| a.name == name) else {
            return Err(ApiError::NotFound(format!(
                "scheduled action {name} not found on {app}/{env}: `sprout schedule list {env}` shows them"
            )));
        };
        f(actions, i);
        let out = actions.clone();
        e.updated_at = ctx.clock.now();
        ctx.store.update_environment(&mut e).await?;
        Ok(out)
    })
    .await
}

pub async fn remove(
    State(ctx): State<Ctx>,
    Path((app, env, name)): Path<(String, String, String)>,
) -> Result<Json<Vec<ScheduledAction>>, ApiError> {
    Ok(Json(change(&ctx, &app, &env, &name, |v, i| drop(v.remove(i))).await?))
}

pub async fn suspend(
    State(ctx): State<Ctx>,
    Path((app, env, name)): Path<(String, String, String)>,
) -> Result<Json<Vec<ScheduledAction>>, ApiError> {
    Ok(Json(change(&ctx, &app, &env, &name, |v, i| v[i].suspended = true).await?))
}

pub async fn resume(
    State(ctx): State<Ctx>,
    Path((app, env, name)): Path<(String, String, String)>,
) -> Result<Json<Vec<ScheduledAction>>, ApiError> {
    Ok(Json(change(&ctx, &app, &env, &name, |v, i| v[i].suspended = false).await?))
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    pub days: Option<u32>,
}

pub async fn preview(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<PreviewQuery>,
) -> Result<Json<Vec<BandChange>>, ApiError> {
    let days = q.days.unwrap_or(7);
    if days == 0 || days > 366 {
        return Err(bad(format!("days: {days} is out of range 1..366"), Some("for example --days 7".to_string())));
    }
    let e = ctx.store.get_environment(&app, &env).await?;
    Ok(Json(plan_preview(
        &e.options.scaling.scheduled_actions,
        band_of(&e),
        e.desired_instances,
        ctx.clock.now(),
        days,
    )))
}
