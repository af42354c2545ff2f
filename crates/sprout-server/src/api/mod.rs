//! The REST API (`/api/v1`): applications, versions, environments, events. Every route but
//! `/healthz` and `/metrics` needs a bearer token.

pub mod access;
pub mod admin;
pub mod auth;
pub mod bundle_options;
pub mod certs;
pub mod clone;
pub mod commands;
mod commands_launch;
pub mod config;
pub mod cron;
pub mod deploy_options;
pub mod deployable;
pub mod deploys;
pub mod domains;
pub mod environments;
pub mod error;
pub mod health;
pub mod host_access;
pub mod hostnames;
pub mod lifecycle;
pub mod logs;
pub mod metrics;
mod names;
pub mod nodes;
pub mod notify;
pub mod registries;
pub mod release;
mod revision;
pub mod routing;
pub mod saved;
pub mod scaling;
pub mod secrets;
pub mod swap;
pub mod tokens;
pub mod variables;
pub mod versions;
pub mod view;

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sprout_store::{Application, EventRecord};

use crate::context::Ctx;
use error::ApiError;

pub fn router(ctx: Ctx) -> Router {
    let api = Router::new()
        .route("/info", get(info))
        .route("/nodes", get(nodes::list))
        .route("/apps", get(list_apps).post(create_app))
        .route("/apps/{app}/versions", get(versions::list).post(versions::upload))
        .route("/apps/{app}/versions/{label}", delete(lifecycle::delete))
        .route("/apps/{app}/lifecycle", get(lifecycle::show).put(lifecycle::set))
        .route("/apps/{app}/policy", get(host_access::show).put(host_access::set).delete(host_access::reset))
        .route("/apps/{app}/environments/{env}/clone", post(clone::clone))
        .route("/apps/{app}/swap", post(swap::swap))
        .route("/apps/{app}/domains", get(domains::list))
        .route("/apps/{app}/environments/{env}/https", get(domains::show_https).put(domains::set_https))
        .route("/certificates", get(certs::list).post(certs::add))
        .route("/certificates/acme", get(certs::acme))
        .route("/certificates/served", get(certs::served))
        .route("/certificates/{id}", delete(certs::remove))
        .route("/certificates/{id}/renew", post(certs::renew))
        .route("/apps/{app}/environments/{env}/domains", post(domains::add))
        .route("/apps/{app}/environments/{env}/domains/{host}", delete(domains::remove))
        .route("/apps/{app}/environments/{env}/variables", get(variables::show).patch(variables::change))
        .route("/apps/{app}/environments/{env}/secrets", get(secrets::list))
        .route("/apps/{app}/environments/{env}/secrets/{name}", axum::routing::put(secrets::set).delete(secrets::unset))
        .route("/apps/{app}/environments", get(environments::list_of_app).post(environments::create))
        .route("/apps/{app}/environments/{env}", get(environments::show).delete(environments::terminate))
        .route("/apps/{app}/environments/{env}/health", get(health::show))
        .route("/apps/{app}/environments/{env}/deploy", post(environments::deploy))
        .route("/apps/{app}/environments/{env}/logs", get(logs::show))
        .route("/apps/{app}/environments/{env}/abort", post(deploys::abort))
        .route("/apps/{app}/environments/{env}/release", get(release::show))
        .route("/apps/{app}/environments/{env}/cron", get(cron::list))
        .route("/apps/{app}/environments/{env}/config", get(config::show).patch(config::change))
        .route("/apps/{app}/configurations", get(saved::list).post(saved::save))
        .route("/apps/{app}/configurations/{name}", get(saved::show).delete(saved::delete))
        .route("/apps/{app}/environments/{env}/exec", post(commands::exec))
        .route("/apps/{app}/environments/{env}/run", post(commands::run))
        .route("/apps/{app}/environments/{env}/options/deploy", axum::routing::put(deploy_options::set_options))
        .route("/apps/{app}/environments/{env}/scaling", get(scaling::show).put(scaling::set))
        .route("/apps/{app}/environments/{env}/schedules", get(scaling::list).post(scaling::add))
        .route("/apps/{app}/environments/{env}/schedules/preview", get(scaling::preview))
        .route("/apps/{app}/environments/{env}/schedules/{name}", delete(scaling::remove))
        .route("/apps/{app}/environments/{env}/schedules/{name}/suspend", post(scaling::suspend))
        .route("/apps/{app}/environments/{env}/schedules/{name}/resume", post(scaling::resume))
        .route("/apps/{app}/events", get(events))
        .route("/apps/{app}/notify", get(notify::list).post(notify::add))
        .route("/apps/{app}/notify/log", get(notify::log))
        .route("/apps/{app}/notify/{id}", delete(notify::remove))
        .route("/apps/{app}/notify/{id}/test", post(notify::test))
        .route("/environments", get(environments::list_all))
        .route("/routing", get(routing::show))
        .route("/registries", get(registries::list))
        .route("/registries/login", post(registries::login))
        .route("/registries/logout", post(registries::logout))
        .route("/registries/import", post(registries::import))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{name}", delete(tokens::revoke))
        .route("/audit", get(tokens::audit))
        .route("/admin/backup", post(admin::backup))
        .layer(axum::extract::DefaultBodyLimit::max(ctx.settings.bundle_limit_bytes as usize))
        // Outermost: the token is checked first, then the names in the path.
        .route_layer(axum::middleware::from_fn(names::check_path_names))
        .route_layer(axum::middleware::from_fn_with_state(ctx.clone(), auth::require_token));
    // `/metrics` is outside the token layer: Prometheus scrapes without a token (see metrics.rs).
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::show))
        .nest("/api/v1", api)
        .with_state(ctx)
}

#[derive(Serialize)]
struct Info {
    version: &'static str,
    engine: Option<sprout_engine::EngineInfo>,
    engine_error: Option<String>,
    load_balancer: String,
}

async fn info(State(ctx): State<Ctx>) -> Json<Info> {
    let (engine, engine_error) = match ctx.engine.info().await {
        Ok(i) => (Some(i), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Json(Info {
        version: env!("CARGO_PKG_VERSION"),
        engine,
        engine_error,
        load_balancer: ctx.settings.http_addr.clone(),
    })
}

#[derive(Deserialize)]
pub struct NewApp {
    pub name: String,
}

async fn create_app(
    State(ctx): State<Ctx>,
    Json(req): Json<NewApp>,
) -> Result<(axum::http::StatusCode, Json<Application>), ApiError> {
    sprout_model::names::check_name("application", &req.name).map_err(|m| error::bad(m, None))?;
    let app = Application { name: req.name, created_at: ctx.clock.now() };
    ctx.store.create_application(&app).await?;
    Ok((axum::http::StatusCode::CREATED, Json(app)))
}

async fn list_apps(
    State(ctx): State<Ctx>,
    caller: Option<axum::Extension<auth::Caller>>,
) -> Result<Json<Vec<Application>>, ApiError> {
    let mut apps = ctx.store.list_applications().await?;
    if let Some(c) = caller {
        apps.retain(|a| access::shows(&c.0.0, &a.name));
    }
    Ok(Json(apps))
}

#[derive(Deserialize)]
pub struct EventQuery {
    pub env: Option<String>,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<u32>,
}

async fn events(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Query(q): Query<EventQuery>,
) -> Result<Json<Vec<EventRecord>>, ApiError> {
    ctx.store.get_application(&app).await?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let list = if q.after > 0 {
        ctx.store.list_events(&app, q.env.as_deref(), q.after, limit).await?
    } else {
        ctx.store.recent_events(&app, q.env.as_deref(), limit).await?
    };
    Ok(Json(list))
}
