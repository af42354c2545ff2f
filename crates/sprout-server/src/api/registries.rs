//! Registry credentials over the API: `GET /registries` (the list, never a secret), `POST
//! /registries/login`, `/logout` and `/import` (a Docker config.json or .dockercfg under a
//! name), and the check that a Dockerrun's `authentication.key` names an imported config.
//!
//! A login or import closes the registry's circuits at once and wakes every controller, so
//! launches that waited for a refused credential try the new one without a restart.

use axum::Json;
use axum::extract::State;
use secrecy::SecretString;
use sprout_api::{CredentialView, ImportRequest, LoginRequest, LogoutRequest, RegistryChange};
use sprout_model::Dockerrun;
use sprout_model::image::{check_registry_host, normalize_registry_host};
use sprout_store::CredentialKey;

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::registry::config::parse_docker_config;
use crate::registry::{CircuitKey, describe_refusal};

/// The registry host as stored, or a 422 saying what a host looks like.
fn host_of(given: &str) -> Result<String, ApiError> {
    let host = normalize_registry_host(given);
    check_registry_host(&host).map_err(|m| bad(m, None))?;
    Ok(host)
}

/// The scope: an existing application, or every one.
async fn scope_of(ctx: &Ctx, app: &Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(app) = app {
        ctx.store.get_application(app).await?;
    }
    Ok(app.clone())
}

/// Every circuit is forgotten for `hosts` and every environment looks again.
fn changed(ctx: &Ctx, hosts: &[String]) {
    for host in hosts {
        ctx.registries.close_circuits(host);
    }
    ctx.kick.notify_waiters();
}

pub async fn list(State(ctx): State<Ctx>) -> Result<Json<Vec<CredentialView>>, ApiError> {
    let now = ctx.clock.now();
    let views = ctx
        .store
        .list_registry_credentials()
        .await?
        .into_iter()
        .map(|c| {
            let circuit = CircuitKey {
                host: c.key.host.clone(),
                credential: Some(c.key.clone()),
                username: c.username.clone(),
                stamp: c.updated_at,
            };
            let held = ctx
                .registries
                .refusal_of(&circuit, now)
                .map(|(why, until)| describe_refusal(&c.key.host, &c.username, &why, until));
            CredentialView {
                host: c.key.host,
                username: c.username,
                app: c.key.app,
                config: c.key.source,
                updated_at: c.updated_at,
                last_success: c.last_success,
                last_failure: c.last_failure,
                last_failure_message: c.last_failure_message,
                held,
            }
        })
        .collect();
    Ok(Json(views))
}

pub async fn login(State(ctx): State<Ctx>, Json(req): Json<LoginRequest>) -> Result<Json<CredentialView>, ApiError> {
    let host = host_of(&req.host)?;
    let app = scope_of(&ctx, &req.app).await?;
    if req.username.trim().is_empty() || req.username.contains(':') {
        return Err(bad("the username must not be empty nor contain ':'", None));
    }
    if req.password.is_empty() {
        return Err(bad(
            "the password is empty",
            Some("pipe it on standard input: `... --password-stdin < file`".into()),
        ));
    }
    let key = CredentialKey { host: host.clone(), app, source: None };
    let now = ctx.clock.now();
    let record = ctx.registries.seal(key, &req.username, &SecretString::from(req.password), now);
    ctx.store.set_registry_credential(&record).await?;
    changed(&ctx, std::slice::from_ref(&host));
    tracing::info!(registry = %host, user = %record.username, "registry credential stored");
    Ok(Json(CredentialView {
        host,
        username: record.username,
        app: record.key.app,
        config: None,
        updated_at: now,
        last_success: None,
        last_failure: None,
        last_failure_message: None,
        held: None,
    }))
}

pub async fn logout(State(ctx): State<Ctx>, Json(req): Json<LogoutRequest>) -> Result<Json<RegistryChange>, ApiError> {
    let host = host_of(&req.host)?;
    let app = scope_of(&ctx, &req.app).await?;
    let removed = ctx.store.delete_registry_credentials(&host, app.as_deref()).await?;
    if removed == 0 {
        let scope = app.map_or("every application".to_string(), |a| format!("application {a}"));
        return Err(ApiError::NotFound(format!(
            "no credential for registry {host} is stored for {scope}; `sprout registry list` shows what is"
        )));
    }
    changed(&ctx, std::slice::from_ref(&host));
    Ok(Json(RegistryChange { hosts: vec![host], removed }))
}

pub async fn import(State(ctx): State<Ctx>, Json(req): Json<ImportRequest>) -> Result<Json<RegistryChange>, ApiError> {
    sprout_model::names::check_name("registry config", &req.name).map_err(|m| bad(m, None))?;
    let app = scope_of(&ctx, &req.app).await?;
    let entries = parse_docker_config(&req.config)
        .map_err(|problems| bad(format!("the Docker config cannot be imported: {}", problems.join("; ")), None))?;
    let now = ctx.clock.now();
    let records: Vec<_> = entries
        .iter()
        .map(|e| {
            let key = CredentialKey { host: e.host.clone(), app: app.clone(), source: Some(req.name.clone()) };
            ctx.registries.seal(key, &e.username, &e.password, now)
        })
        .collect();
    ctx.store.replace_registry_config(&req.name, app.as_deref(), &records).await?;
    let hosts: Vec<String> = records.iter().map(|r| r.key.host.clone()).collect();
    changed(&ctx, &hosts);
    Ok(Json(RegistryChange { hosts, removed: 0 }))
}

/// Refuses a definition whose `authentication.key` names no imported config that `app` may
/// use. Its `bucket` is Elastic Beanstalk's S3 bucket and means nothing here.
pub async fn check_authentication(ctx: &Ctx, app: &str, def: &Dockerrun) -> Result<(), ApiError> {
    let Some(auth) = &def.authentication else { return Ok(()) };
    let all = ctx.store.list_registry_credentials().await?;
    let found = all
        .iter()
        .any(|c| c.key.source.as_deref() == Some(auth.key.as_str()) && c.key.app.as_deref().is_none_or(|a| a == app));
    if found {
        return Ok(());
    }
    Err(bad(
        format!("authentication.key {:?} names no imported registry config that application {app} may use", auth.key),
        Some(format!(
            "import the Docker config.json it stands for: `sprout registry import {} --file config.json --limit-app {app}` (the bucket is ignored: Sprout keeps the config itself)",
            auth.key
        )),
    ))
}
