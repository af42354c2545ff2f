//! `clone`: a new environment with the source's version (its last good one mid-deploy), option
//! settings, variables and instance count, but not its host name. The team's favourite feature
//! on Elastic Beanstalk; `swap` (swap.rs) is its other half.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sprout_api::EnvView;
use sprout_store::EnvStatus;

use super::environments::launch_environment;
use super::error::{ApiError, bad};
use super::hostnames::check_host_free;
use super::view::view;
use crate::context::Ctx;

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
    sprout_model::options::check_deploy_timeout(timeout).map_err(|m| bad(m, None))?;
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
