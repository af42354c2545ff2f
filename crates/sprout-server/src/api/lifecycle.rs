//! Version deletion and the application's lifecycle policy:
//! `DELETE /apps/{app}/versions/{label}`, `GET|PUT /apps/{app}/lifecycle`.
//!
//! Not here: what is in use and what a policy selects (see `crate::lifecycle`).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sprout_store::LifecyclePolicy;

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::lifecycle::{VersionError, apply_lifecycle, delete_version};

impl From<VersionError> for ApiError {
    fn from(e: VersionError) -> Self {
        match e {
            VersionError::InUse { .. } => ApiError::Conflict(e.to_string()),
            VersionError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize)]
pub struct Deleted {
    pub app: String,
    pub deleted: Vec<String>,
}

pub async fn delete(
    State(ctx): State<Ctx>,
    Path((app, label)): Path<(String, String)>,
) -> Result<Json<Deleted>, ApiError> {
    ctx.store.get_application(&app).await?;
    delete_version(&ctx, &app, &label).await?;
    Ok(Json(Deleted { app, deleted: vec![label] }))
}

#[derive(Serialize)]
pub struct PolicyView {
    pub app: String,
    pub policy: LifecyclePolicy,
    /// Versions deleted when the policy was applied (on PUT).
    pub deleted: Vec<String>,
}

pub async fn show(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<PolicyView>, ApiError> {
    let policy = ctx.store.get_lifecycle(&app).await?;
    Ok(Json(PolicyView { app, policy, deleted: Vec::new() }))
}

#[derive(Deserialize)]
pub struct SetPolicy {
    pub max_count: Option<u32>,
    pub max_age_days: Option<u32>,
}

/// Set the policy (both limits are replaced; a missing one limits nothing) and apply it now.
pub async fn set(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<SetPolicy>,
) -> Result<Json<PolicyView>, ApiError> {
    if req.max_count == Some(0) {
        return Err(bad(
            "a lifecycle max count of 0 would delete every version as it is created",
            Some("use at least 1; versions environments use are always kept".to_string()),
        ));
    }
    if req.max_age_days == Some(0) {
        return Err(bad(
            "a lifecycle max age of 0 days would delete every version as it is created",
            Some("use at least 1 day".to_string()),
        ));
    }
    let policy = LifecyclePolicy { max_count: req.max_count, max_age_days: req.max_age_days };
    ctx.store.set_lifecycle(&app, &policy).await?;
    let deleted = apply_lifecycle(&ctx, &app).await?;
    Ok(Json(PolicyView { app, policy, deleted }))
}
