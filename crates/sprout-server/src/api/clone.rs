//! `clone`: a new environment with the source's version (its last good one mid-deploy), option
//! settings, variables, secrets and instance count, but not its host name. The team's favourite feature
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
    // A domain belongs to one environment at a time: the clone answers its own names only.
    options.routing.domains.clear();
    options.routing.acme.clear();
    let timeout = req.timeout_s.unwrap_or(options.deploy.timeout_s);
    sprout_model::options::check_deploy_timeout(timeout).map_err(|m| bad(m, None))?;
    // Secrets go first, so the clone's first instances launch with them; sealed again for the
    // clone's own record (a sealed value opens only for the record it was sealed for).
    let copied = copy_secrets(&ctx, &app, (&src, &req.name)).await?;
    // A clone copies a running environment: its release task already ran where it runs.
    let launch = (source.desired_instances, source.variables.clone(), options, timeout);
    let launched = launch_environment(&ctx, &app, &req.name, version, launch, None).await;
    let record = match launched {
        Ok(r) => r,
        Err(e) => {
            for name in copied {
                let _ = ctx.store.delete_secret(&app, &req.name, &name).await;
            }
            return Err(e);
        }
    };
    Ok((StatusCode::CREATED, Json(view(&ctx, &record))))
}

/// Copies every secret of `from` to `to`; returns their names.
async fn copy_secrets(ctx: &Ctx, app: &str, (from, to): (&str, &str)) -> Result<Vec<String>, ApiError> {
    let opened = crate::env_secrets::open_all(ctx, app, from).await.map_err(ApiError::Internal)?;
    let now = ctx.clock.now();
    let mut names = Vec::new();
    for (name, value) in opened {
        let sealed = crate::env_secrets::seal(ctx, (app, to, &name), &secrecy::SecretString::from(value));
        ctx.store.put_secret(app, to, &name, &sealed, now).await?;
        names.push(name);
    }
    Ok(names)
}
