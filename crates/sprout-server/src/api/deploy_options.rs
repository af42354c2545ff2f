//! The deploy option settings (policy, batch size, health-check gating, timeout) that `create`,
//! `deploy` and `PUT .../options/deploy` accept as a partial `deploy` object: checked and applied
//! here.

use axum::Json;
use axum::extract::{Path, State};
use sprout_model::config::Source;
use sprout_store::options::{BatchSizeType, DeployOptions};

use super::error::{ApiError, bad};
use crate::context::Ctx;

pub use sprout_api::DeployOptionsPatch;

/// Apply `patch` to `o`, refusing values that make no sense, naming the field.
pub fn apply_patch(patch: &DeployOptionsPatch, o: &mut DeployOptions) -> Result<(), ApiError> {
    if let Some(p) = patch.policy {
        o.policy = Some(p);
    }
    if let Some(t) = patch.batch_size_type {
        o.batch_size_type = t;
    }
    if let Some(n) = patch.batch_size {
        o.batch_size = n;
    }
    if o.batch_size == 0 || (o.batch_size_type == BatchSizeType::Percentage && o.batch_size > 100) {
        return Err(bad(
            format!("deploy.batch_size {} is out of range for a {:?} batch size", o.batch_size, o.batch_size_type),
            Some("give a percentage from 1 to 100 (e.g. `--batch-size 30%`) or a fixed count of at least 1 (`--batch-size 2`)".to_string()),
        ));
    }
    if let Some(b) = patch.ignore_health_check {
        o.ignore_health_check = b;
    }
    if let Some(t) = patch.timeout_s {
        sprout_model::options::check_deploy_timeout(t).map_err(|m| bad(format!("deploy.timeout_s: {m}"), None))?;
        o.timeout_s = t;
    }
    Ok(())
}

/// Record that the options `patch` gives were set by hand (so `sprout config get` says so, and
/// a bundle's `options:` leaves them alone).
pub fn mark_by_hand(patch: &DeployOptionsPatch, sources: &mut std::collections::BTreeMap<String, Source>) {
    let given = [
        ("deployment.policy", patch.policy.is_some()),
        ("deployment.batch_size_type", patch.batch_size_type.is_some()),
        ("deployment.batch_size", patch.batch_size.is_some()),
        ("deployment.ignore_health_check", patch.ignore_health_check.is_some()),
        ("deployment.timeout", patch.timeout_s.is_some()),
    ];
    for (key, _) in given.into_iter().filter(|(_, set)| *set) {
        sources.insert(key.to_string(), Source::Hand);
    }
}

/// `PUT /apps/{app}/environments/{env}/options/deploy`: change deploy options; they apply from
/// the next deploy (and to a rollback).
pub async fn set_options(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(patch): Json<DeployOptionsPatch>,
) -> Result<Json<DeployOptions>, ApiError> {
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        apply_patch(&patch, &mut e.options.deploy)?;
        mark_by_hand(&patch, &mut e.options.sources);
        e.updated_at = ctx.clock.now();
        ctx.store.update_environment(&mut e).await?;
        Ok(Json(e.options.deploy))
    })
    .await
}
