//! Custom domains (`sprout domains add|list|remove`): the real names an environment answers to
//! besides `ENV.APP.localhost`, exact or one-level wildcards. A name belongs to one environment
//! at a time, across every application; adding one that another environment holds is refused
//! naming the holder. Changes are published to the load balancer at once.
//!
//! Not here: moving domains between environments (`swap.rs`), certificates for them (`certs.rs`).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sprout_model::domains::parse_domain;
use sprout_store::{EnvStatus, EnvironmentRecord};

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::events::Event;

/// One writer of domains at a time, so two requests for the same name cannot both find it free.
static CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Deserialize)]
pub struct AddDomains {
    pub hosts: Vec<String>,
    /// Obtain and renew certificates for them over ACME (HTTP-01: exact names only).
    #[serde(default)]
    pub acme: bool,
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub env: Option<String>,
}

/// One domain as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainView {
    pub host: String,
    pub env: String,
    pub wildcard: bool,
    /// Its certificate is obtained and renewed over ACME.
    #[serde(default)]
    pub acme: bool,
}

pub async fn list(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<DomainView>>, ApiError> {
    ctx.store.get_application(&app).await?;
    if let Some(env) = &q.env {
        ctx.store.get_environment(&app, env).await?;
    }
    let mut out = Vec::new();
    for e in ctx.store.list_environments(Some(&app)).await? {
        if q.env.as_ref().is_some_and(|env| *env != e.name) {
            continue;
        }
        for host in &e.options.routing.domains {
            out.push(DomainView {
                host: host.clone(),
                env: e.name.clone(),
                wildcard: host.starts_with("*."),
                acme: e.options.routing.acme.contains(host),
            });
        }
    }
    out.sort_by(|a, b| (&a.host, &a.env).cmp(&(&b.host, &b.env)));
    Ok(Json(out))
}

pub async fn add(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<AddDomains>,
) -> Result<Json<Vec<DomainView>>, ApiError> {
    if req.hosts.is_empty() {
        return Err(bad(
            "name at least one domain",
            Some("e.g. `sprout domains add production ads.example.com`".into()),
        ));
    }
    // Every name is checked before anything changes: all are added or none.
    let wanted: Vec<String> =
        req.hosts.iter().map(|h| parse_domain(h)).collect::<Result<Vec<_>, _>>().map_err(|m| bad(m, None))?;
    if req.acme
        && let Some(wild) = wanted.iter().find(|h| h.starts_with("*."))
    {
        return Err(bad(
            format!("{wild}: ACME certificates are obtained with HTTP-01 here, which cannot prove a wildcard name (it needs DNS-01)"),
            Some("add the wildcard without --acme and upload its certificate with `sprout certs add`, or add each name with --acme".into()),
        ));
    }
    let _one_writer = CHANGES.lock().await;
    let target = ctx.store.get_environment(&app, &env).await?;
    if target.status == EnvStatus::Terminating {
        return Err(ApiError::Conflict(format!("environment {app}/{env} is terminating")));
    }
    for other in ctx.store.list_environments(None).await? {
        if other.app == app && other.name == env {
            continue;
        }
        if let Some(host) = wanted.iter().find(|h| other.options.routing.domains.contains(h)) {
            return Err(ApiError::Conflict(format!(
                "{host} belongs to environment {}/{}: a name answers for one environment at a time; remove it there first (`sprout domains remove {} {host}` in application {}) or exchange names with `sprout swap`",
                other.app, other.name, other.name, other.app
            )));
        }
    }
    let have: BTreeSet<String> = target.options.routing.domains.iter().cloned().collect();
    let added: Vec<String> =
        wanted.iter().filter(|h| !have.contains(*h)).cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let changed = change(&ctx, (&app, &env), |routing| {
        for host in &added {
            if !routing.domains.contains(host) {
                routing.domains.push(host.clone());
            }
        }
        if req.acme {
            for host in &wanted {
                if !routing.acme.contains(host) {
                    routing.acme.push(host.clone());
                }
            }
        }
    })
    .await?;
    if !added.is_empty() {
        ctx.emit(&app, Some(&env), Event::DomainsChanged { added, removed: Vec::new() }).await;
    }
    if req.acme {
        ctx.acme.wake.notify_one();
    }
    Ok(Json(views(&changed)))
}

pub async fn remove(
    State(ctx): State<Ctx>,
    Path((app, env, host)): Path<(String, String, String)>,
) -> Result<Json<Vec<DomainView>>, ApiError> {
    let host = parse_domain(&host).map_err(|m| bad(m, None))?;
    let _one_writer = CHANGES.lock().await;
    let target = ctx.store.get_environment(&app, &env).await?;
    if !target.options.routing.domains.contains(&host) {
        let held: Vec<&str> = target.options.routing.domains.iter().map(String::as_str).collect();
        return Err(ApiError::NotFound(format!(
            "environment {app}/{env} does not answer {host} (its domains: {})",
            if held.is_empty() { "none".to_string() } else { held.join(", ") }
        )));
    }
    let changed = change(&ctx, (&app, &env), |routing| {
        routing.domains.retain(|d| *d != host);
        routing.acme.retain(|d| *d != host);
    })
    .await?;
    ctx.emit(&app, Some(&env), Event::DomainsChanged { added: Vec::new(), removed: vec![host] }).await;
    Ok(Json(views(&changed)))
}

/// An environment's HTTPS options; absent fields stay as they are.
#[derive(Deserialize)]
pub struct HttpsOptions {
    pub redirect: Option<bool>,
    /// 0 turns HSTS off.
    pub hsts_max_age: Option<u64>,
}

/// The HTTPS options as they are now.
#[derive(Serialize, Deserialize)]
pub struct HttpsView {
    pub redirect: bool,
    pub hsts_max_age: Option<u64>,
}

/// The environment's HTTPS options as stored (and published to the load balancer).
pub async fn show_https(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<HttpsView>, ApiError> {
    let routing = ctx.store.get_environment(&app, &env).await?.options.routing;
    Ok(Json(HttpsView { redirect: routing.https_redirect, hsts_max_age: routing.hsts_max_age }))
}

/// Sets whether plain HTTP is redirected to HTTPS (308) and the HSTS max-age, published at once.
pub async fn set_https(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<HttpsOptions>,
) -> Result<Json<HttpsView>, ApiError> {
    const MAX_HSTS: u64 = 2 * 365 * 24 * 3600;
    if req.hsts_max_age.is_some_and(|s| s > MAX_HSTS) {
        return Err(bad(format!("an HSTS max-age of more than {MAX_HSTS} s (two years) is refused"), None));
    }
    let now = ctx.clock.now();
    let changed = sprout_store::change_environment(&*ctx.store, &app, &env, |e| {
        if let Some(redirect) = req.redirect {
            e.options.routing.https_redirect = redirect;
        }
        if let Some(age) = req.hsts_max_age {
            e.options.routing.hsts_max_age = Some(age).filter(|a| *a > 0);
        }
        e.updated_at = now;
    })
    .await?;
    ctx.routing.set_names(&app, &[(&env, &changed.options.routing)]);
    let routing = &changed.options.routing;
    Ok(Json(HttpsView { redirect: routing.https_redirect, hsts_max_age: routing.hsts_max_age }))
}

/// Writes the environment's domains (on a fresh read when another writer came first) and
/// publishes its names to the load balancer.
async fn change(
    ctx: &Ctx,
    (app, env): (&str, &str),
    edit: impl Fn(&mut sprout_model::options::RoutingOptions),
) -> Result<EnvironmentRecord, ApiError> {
    let now = ctx.clock.now();
    let changed = sprout_store::change_environment(&*ctx.store, app, env, |e| {
        edit(&mut e.options.routing);
        e.updated_at = now;
    })
    .await?;
    ctx.routing.set_names(app, &[(env, &changed.options.routing)]);
    Ok(changed)
}

fn views(e: &EnvironmentRecord) -> Vec<DomainView> {
    let mut out: Vec<DomainView> = e
        .options
        .routing
        .domains
        .iter()
        .map(|h| DomainView {
            host: h.clone(),
            env: e.name.clone(),
            wildcard: h.starts_with("*."),
            acme: e.options.routing.acme.contains(h),
        })
        .collect();
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
}
