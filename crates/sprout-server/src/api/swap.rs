//! `clone` and `swap`: the production team's favourite pair. Clone copies an environment's
//! version, option settings, variables and instance count into a new environment; swap
//! exchanges two environments' host names in one routing-table publish, so no request fails.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sprout_store::{EnvStatus, EnvironmentRecord};

use super::environments::{EnvView, launch_environment, view};
use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::controller::routes;
use crate::events::Event;

/// Refuse a new environment whose own host name another environment answers after a swap.
pub async fn check_host_free(ctx: &Ctx, app: &str, name: &str) -> Result<(), ApiError> {
    for e in ctx.store.list_environments(Some(app)).await? {
        if e.options.routing.prefix(&e.name) == name && e.name != name {
            return Err(ApiError::Conflict(format!(
                "environment {} answers to {name}.{app} since a swap; swap it back (`sprout swap {} {name}`) or pick another name",
                e.name, e.name
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct CloneRequest {
    pub name: String,
    /// Seconds the launch may take before it counts as failed.
    pub timeout_s: Option<u64>,
}

pub async fn clone(
    State(ctx): State<Ctx>,
    Path((app, src)): Path<(String, String)>,
    Json(req): Json<CloneRequest>,
) -> Result<(StatusCode, Json<EnvView>), ApiError> {
    sprout_model::names::check_name("environment", &req.name).map_err(|m| bad(m, None))?;
    let source = ctx.store.get_environment(&app, &src).await?;
    if ctx.store.get_environment(&app, &req.name).await.is_ok() {
        return Err(ApiError::Conflict(format!("environment {app}/{} already exists", req.name)));
    }
    check_host_free(&ctx, &app, &req.name).await?;
    // The clone runs what the source runs now; mid-deploy, that is the last good version.
    let version = match source.status {
        EnvStatus::Updating => source.last_good_version.clone().unwrap_or(source.version_label.clone()),
        _ => source.version_label.clone(),
    };
    let mut options = source.options.clone();
    options.routing.cname = None;
    let timeout = req.timeout_s.unwrap_or(options.deploy.timeout_s);
    let record = launch_environment(
        &ctx,
        &app,
        &req.name,
        version,
        source.desired_instances,
        source.variables.clone(),
        options,
        timeout,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&ctx, &record))))
}

#[derive(Deserialize)]
pub struct SwapRequest {
    pub source: String,
    pub destination: String,
}

pub use sprout_api::SwapView;

pub async fn swap(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<SwapRequest>,
) -> Result<Json<SwapView>, ApiError> {
    if req.source == req.destination {
        return Err(bad("swap needs two different environments", Some("e.g. `sprout swap staging production`".into())));
    }
    let a = ctx.store.get_environment(&app, &req.source).await?;
    let b = ctx.store.get_environment(&app, &req.destination).await?;
    for e in [&a, &b] {
        if e.status == EnvStatus::Terminating {
            return Err(ApiError::Conflict(format!("environment {app}/{} is terminating", e.name)));
        }
    }
    let a_prefix = a.options.routing.prefix(&a.name).to_string();
    let b_prefix = b.options.routing.prefix(&b.name).to_string();
    let a = point_at(&ctx, &app, &a.name, &b_prefix).await?;
    let b = point_at(&ctx, &app, &b.name, &a_prefix).await?;
    // One publish moves both names: in-flight and new requests always find an environment.
    routes::swap_cnames(&ctx, &app, (&a.name, &b_prefix), (&b.name, &a_prefix));
    for (e, prefix) in [(&a, &b_prefix), (&b, &a_prefix)] {
        ctx.emit(&app, Some(&e.name), Event::HostnameSwapped { host: ctx.settings.hostnames(&app, prefix).join(", ") })
            .await;
    }
    Ok(Json(SwapView { source: view(&ctx, &a), destination: view(&ctx, &b) }))
}

/// Points `env`'s hostname prefix at `prefix`. Only the prefix changes, so when another writer
/// came first (the controller recording progress) the same change goes onto a fresh read.
async fn point_at(ctx: &Ctx, app: &str, env: &str, prefix: &str) -> Result<EnvironmentRecord, ApiError> {
    let now = ctx.clock.now();
    let pointed = sprout_store::change_environment(&*ctx.store, app, env, |e| {
        e.options.routing.cname = Some(prefix.to_string()).filter(|p| *p != e.name);
        e.updated_at = now;
    })
    .await?;
    Ok(pointed)
}
