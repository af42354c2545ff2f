//! Saved configurations (`sprout config save|list|show|delete`): an environment's options,
//! properties, scheduled actions and instance count kept under a name per application, for
//! `sprout create ENV --cfg NAME` and `sprout config put ENV --cfg NAME`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sprout_api::SaveConfiguration;
use sprout_model::config::{SavedConfiguration, non_default};

use super::error::{ApiError, bad};
use crate::context::Ctx;

/// Most saved configurations one application may keep.
const MAX_SAVED: usize = 100;

/// The saved configuration `name` of `app`, or 404 saying how to list them.
pub(crate) async fn find(ctx: &Ctx, app: &str, name: &str) -> Result<SavedConfiguration, ApiError> {
    ctx.store.get_saved_configurations(app).await?.remove(name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "saved configuration {name} of {app} not found: `sprout config list` shows them, `sprout config save ENV --name {name}` makes one"
        ))
    })
}

pub async fn list(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<Vec<SavedConfiguration>>, ApiError> {
    Ok(Json(ctx.store.get_saved_configurations(&app).await?.into_values().collect()))
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, name)): Path<(String, String)>,
) -> Result<Json<SavedConfiguration>, ApiError> {
    Ok(Json(find(&ctx, &app, &name).await?))
}

/// `POST /apps/{app}/configurations`: save (or overwrite) `name` from environment `env`.
pub async fn save(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<SaveConfiguration>,
) -> Result<(StatusCode, Json<SavedConfiguration>), ApiError> {
    sprout_model::names::check_name("saved configuration", &req.name).map_err(|m| bad(m, None))?;
    let e = ctx.store.get_environment(&app, &req.env).await?;
    let _only_writer = ctx.saved_configurations.lock().await;
    let mut all = ctx.store.get_saved_configurations(&app).await?;
    if !all.contains_key(&req.name) && all.len() >= MAX_SAVED {
        return Err(bad(
            format!("{app} already keeps {MAX_SAVED} saved configurations"),
            Some("delete one first (`sprout config delete NAME`)".to_string()),
        ));
    }
    let saved = SavedConfiguration {
        name: req.name.clone(),
        source_environment: Some(req.env.clone()),
        created_at: ctx.clock.now(),
        instances: e.desired_instances,
        options: non_default(&e.options),
        variables: e.variables.clone(),
        scheduled_actions: e.options.scaling.scheduled_actions.clone(),
    };
    all.insert(req.name.clone(), saved.clone());
    ctx.store.set_saved_configurations(&app, &all).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub async fn delete(
    State(ctx): State<Ctx>,
    Path((app, name)): Path<(String, String)>,
) -> Result<Json<SavedConfiguration>, ApiError> {
    let _only_writer = ctx.saved_configurations.lock().await;
    let mut all = ctx.store.get_saved_configurations(&app).await?;
    let Some(gone) = all.remove(&name) else {
        return Err(find(&ctx, &app, &name).await.err().unwrap_or(ApiError::NotFound(name)));
    };
    ctx.store.set_saved_configurations(&app, &all).await?;
    Ok(Json(gone))
}
