//! Environment secrets (`sprout secrets set|list|unset`): set and removed by name, listed by
//! name, version and time, never shown. Setting or removing one replaces the instances under
//! the deployment policy, as a property does; the answer is the environment, for `--wait`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sprout_api::EnvView;
use sprout_store::EnvStatus;

use super::error::{ApiError, bad};
use super::view::view;
use crate::context::Ctx;
use crate::events::Event;

#[derive(Deserialize)]
pub struct SecretValue {
    pub value: String,
}

/// A secret as listed: never its value.
#[derive(Serialize)]
pub struct SecretView {
    pub name: String,
    pub version: i64,
    pub set_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    ctx.store.get_environment(&app, &env).await?;
    let list = ctx.store.list_secrets(&app, &env).await?;
    Ok(Json(list.into_iter().map(|s| SecretView { name: s.name, version: s.version, set_at: s.set_at }).collect()))
}

pub async fn set(
    State(ctx): State<Ctx>,
    Path((app, env, name)): Path<(String, String, String)>,
    Json(req): Json<SecretValue>,
) -> Result<Json<EnvView>, ApiError> {
    // The value is checked for size and NUL only: the message names the secret, never the value.
    super::variables::check_variable(&name, &req.value)?;
    let e = ctx.store.get_environment(&app, &env).await?;
    if e.variables.contains_key(&name) {
        return Err(bad(
            format!("{name} is an environment property of {app}/{env}: one name cannot be both"),
            Some(format!("remove the property first with `sprout setenv {env} {name}=`, then set the secret")),
        ));
    }
    let value = secrecy::SecretString::from(req.value);
    let sealed = crate::env_secrets::seal(&ctx, (&app, &env, &name), &value);
    drop(value);
    ctx.store.put_secret(&app, &env, &name, &sealed, ctx.clock.now()).await?;
    changed(&ctx, (&app, &env), &name, false).await
}

pub async fn unset(
    State(ctx): State<Ctx>,
    Path((app, env, name)): Path<(String, String, String)>,
) -> Result<Json<EnvView>, ApiError> {
    ctx.store.get_environment(&app, &env).await?;
    if !ctx.store.delete_secret(&app, &env, &name).await? {
        return Err(ApiError::NotFound(format!("environment {app}/{env} has no secret {name}")));
    }
    changed(&ctx, (&app, &env), &name, true).await
}

/// Marks the environment as updating (the controller replaces its instances, whose
/// configuration now differs), says so in an event and wakes the controller.
async fn changed(ctx: &Ctx, (app, env): (&str, &str), name: &str, removed: bool) -> Result<Json<EnvView>, ApiError> {
    let updated = super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(app, env).await?;
        if e.status == EnvStatus::Terminating {
            return Ok(e);
        }
        let now = ctx.clock.now();
        e.status = EnvStatus::Updating;
        e.last_error = None;
        e.deploy_deadline = Some(now + chrono::Duration::seconds(e.options.deploy.timeout_s as i64));
        e.updated_at = now;
        ctx.store.update_environment(&mut e).await?;
        Ok(e)
    })
    .await?;
    ctx.emit(app, Some(env), Event::SecretChanged { name: name.to_string(), removed }).await;
    ctx.wake(app, env);
    Ok(Json(view(ctx, &updated)))
}
