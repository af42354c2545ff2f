//! Environment properties (`sprout setenv` / `sprout printenv`): variables added to every
//! container. Changing them replaces the instances under the environment's deployment policy,
//! as Elastic Beanstalk does for a configuration update.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use sprout_store::EnvStatus;

use super::error::{ApiError, bad};
use super::view::view;
use crate::context::Ctx;
use crate::events::Event;
use sprout_api::EnvView;

#[derive(Deserialize)]
pub struct VariablesChange {
    /// Set (or overwrite) these.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Remove these.
    #[serde(default)]
    pub unset: Vec<String>,
}

/// A variable name as `sprout_model::names::check_variable` accepts it, as an API error.
pub(crate) fn check_variable(name: &str, value: &str) -> Result<(), ApiError> {
    sprout_model::names::check_variable(name, value)
        .map_err(|m| bad(m, Some("use letters, digits and '_', e.g. DATABASE_URL=postgres://db/app".into())))
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let mut variables = ctx.store.get_environment(&app, &env).await?.variables;
    // Secrets are listed beside the properties, masked: `printenv` shows every name a
    // container gets, and never a secret's value.
    for s in ctx.store.list_secrets(&app, &env).await? {
        variables.insert(s.name, MASK.to_string());
    }
    Ok(Json(variables))
}

/// What `printenv` shows for a secret's value.
pub const MASK: &str = "****";

pub async fn change(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<VariablesChange>,
) -> Result<Json<EnvView>, ApiError> {
    let unset = req.unset.iter().map(|n| (n.as_str(), ""));
    for (name, value) in req.set.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(unset) {
        check_variable(name, value)?;
    }
    let secrets = ctx.store.list_secrets(&app, &env).await?;
    if let Some(s) = secrets.iter().find(|s| req.set.contains_key(&s.name)) {
        return Err(bad(
            format!("{} is a secret of {app}/{env}: one name cannot be both a property and a secret", s.name),
            Some(format!("change it with `sprout secrets set {env} {} --value-stdin`", s.name)),
        ));
    }
    super::revision::retry(|| async {
        let mut e = ctx.store.get_environment(&app, &env).await?;
        if e.status == EnvStatus::Terminating {
            return Err(ApiError::Conflict(format!("environment {app}/{env} is terminating")));
        }
        let mut variables = e.variables.clone();
        variables.extend(req.set.clone());
        for k in &req.unset {
            variables.remove(k);
        }
        if variables == e.variables {
            return Ok(Json(view(&ctx, &e)));
        }
        let mut changed: Vec<&String> = req.set.keys().chain(req.unset.iter()).collect();
        changed.sort();
        changed.dedup();
        let now = ctx.clock.now();
        e.variables = variables;
        e.status = EnvStatus::Updating;
        e.last_error = None;
        e.deploy_deadline = Some(now + chrono::Duration::seconds(e.options.deploy.timeout_s as i64));
        e.updated_at = now;
        ctx.store.update_environment(&mut e).await?;
        let names = changed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        ctx.emit(&app, Some(&env), Event::VariablesChanged { names }).await;
        ctx.wake(&app, &env);
        Ok(Json(view(&ctx, &e)))
    })
    .await
}
