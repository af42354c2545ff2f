//! Deploy controls: abort a deploy in progress (roll back to the last good version).
//!
//! Not here: starting a deploy (`environments`), its options (`deploy_options`), carrying it out
//! (the environment's controller and `sprout_plan::pass`).

use axum::Json;
use axum::extract::{Path, State};

use sprout_store::EnvStatus;

use super::error::ApiError;
use crate::context::Ctx;
use crate::events::Event;

/// `POST /apps/{app}/environments/{env}/abort`: stop the deploy in progress and roll back to the
/// last good version. The rollback is a deploy itself: health-gated, under the same policy.
pub async fn abort(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<sprout_api::EnvView>, ApiError> {
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if !matches!(e.status, EnvStatus::Launching | EnvStatus::Updating) {
            return Err(ApiError::Conflict(format!(
                "environment {app}/{env} has no deploy in progress (status {}): nothing to abort",
                e.status.as_str()
            )));
        }
        let now = ctx.clock.now();
        let aborted = e.version_label.clone();
        let rollback_to =
            sprout_plan::progress::roll_back(&mut e, format!("deploy of version {aborted} was aborted"), now);
        e.updated_at = now;
        ctx.store.update_environment(&mut e).await?;
        ctx.emit(&app, Some(&env), Event::DeployAborted { version: aborted, rollback_to }).await;
        ctx.wake(&app, &env);
        Ok(Json(super::view::view(&ctx, &e)))
    })
    .await
}
