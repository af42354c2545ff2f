//! `swap`: exchanges two environments' host names and custom domains in one routing-table
//! publish, so no request fails (blue/green after a `clone`).

use axum::Json;
use axum::extract::{Path, State};

use serde::Deserialize;
use sprout_store::{EnvStatus, EnvironmentRecord};

use super::error::{ApiError, bad};
use super::view::view;
use crate::context::Ctx;
use crate::events::Event;

#[derive(Deserialize)]
pub struct SwapRequest {
    pub source: String,
    pub destination: String,
}

pub use sprout_api::SwapView;

pub async fn swap(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<SwapRequest>,
) -> Result<Json<SwapView>, ApiError> {
    if req.source == req.destination {
        return Err(bad("swap needs two different environments", Some("e.g. `sprout swap staging production`".into())));
    }
    let a = ctx.store.get_environment(&app, &req.source).await?;
    let b = ctx.store.get_environment(&app, &req.destination).await?;
    for e in [&a, &b] {
        if e.status == EnvStatus::Terminating {
            return Err(ApiError::Conflict(format!("environment {app}/{} is terminating", e.name)));
        }
    }
    let a_prefix = a.options.routing.prefix(&a.name).to_string();
    let b_prefix = b.options.routing.prefix(&b.name).to_string();
    let names = |e: &EnvironmentRecord| (e.options.routing.domains.clone(), e.options.routing.acme.clone());
    let (a_domains, b_domains) = (names(&a), names(&b));
    let a = point_at(&ctx, &app, &a.name, &b_prefix, &b_domains).await?;
    let b = point_at(&ctx, &app, &b.name, &a_prefix, &a_domains).await?;
    // One publish moves both sets of names: in-flight and new requests always find an
    // environment.
    ctx.routing.set_names(&app, &[(&a.name, &a.options.routing), (&b.name, &b.options.routing)]);
    for (e, prefix) in [(&a, &b_prefix), (&b, &a_prefix)] {
        let names: Vec<String> =
            ctx.settings.hostnames(&app, prefix).into_iter().chain(e.options.routing.domains.clone()).collect();
        ctx.emit(&app, Some(&e.name), Event::HostnameSwapped { host: names.join(", ") }).await;
    }
    Ok(Json(SwapView { source: view(&ctx, &a), destination: view(&ctx, &b) }))
}

/// Points `env`'s hostname prefix at `prefix` and gives it `domains` (and which of them are
/// ACME's). Only the names change, so
/// when another writer came first (the controller recording progress) the same change goes onto
/// a fresh read.
async fn point_at(
    ctx: &Ctx,
    app: &str,
    env: &str,
    prefix: &str,
    (domains, acme): &(Vec<String>, Vec<String>),
) -> Result<EnvironmentRecord, ApiError> {
    let now = ctx.clock.now();
    let pointed = sprout_store::change_environment(&*ctx.store, app, env, |e| {
        e.options.routing.cname = Some(prefix.to_string()).filter(|p| *p != e.name);
        e.options.routing.domains = domains.clone();
        e.options.routing.acme = acme.clone();
        e.updated_at = now;
    })
    .await?;
    Ok(pointed)
}
