//! The host access policy over the API: `GET`, `PUT` and `DELETE /apps/{app}/policy` (`sprout
//! policy show|set|reset`), and the refusal of a definition the policy does not allow, at upload
//! and at deploy.

use axum::Json;
use axum::extract::{Path, State};
use sprout_model::Dockerrun;
use sprout_model::policy::normalize;
use sprout_store::HostAccessPolicy;

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::host_access::{describe, violations};

/// Refuses (naming every container, field and path, and the command that would allow it) a
/// definition that asks for more of the host than `app`'s policy allows.
pub async fn refuse_violations(ctx: &Ctx, app: &str, def: &Dockerrun) -> Result<(), ApiError> {
    let found = violations(&*ctx.store, app, def).await?;
    if found.is_empty() {
        return Ok(());
    }
    Err(bad(
        format!("the definition asks for host access that application {app} is not allowed: {}", describe(&found)),
        Some(format!("see `sprout policy show {app}`; an administrator decides what the application may reach")),
    ))
}

pub async fn show(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<HostAccessPolicy>, ApiError> {
    Ok(Json(ctx.store.get_host_access(&app).await?))
}

/// `PUT`: the whole policy. Each allowed path must be absolute, without `..`.
pub async fn set(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(mut policy): Json<HostAccessPolicy>,
) -> Result<Json<HostAccessPolicy>, ApiError> {
    for path in &mut policy.allow_host_paths {
        if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(bad(format!("allowed host path {path:?} must be absolute and without `..`"), None));
        }
        *path = normalize(path);
    }
    policy.allow_host_paths.sort();
    policy.allow_host_paths.dedup();
    ctx.store.set_host_access(&app, &policy).await?;
    Ok(Json(policy))
}

pub async fn reset(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<HostAccessPolicy>, ApiError> {
    let policy = HostAccessPolicy::default();
    ctx.store.set_host_access(&app, &policy).await?;
    Ok(Json(policy))
}
