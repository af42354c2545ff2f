//! Whether a version may be deployed, checked before anything running is touched: the engine can
//! run its containers (no privileged one on a swarm), it has a web container, the host access
//! policy allows it, the imported config its `authentication` names exists, and each image is
//! here or its registry knows it.
//!
//! An image not on the engine is looked up at its registry (through the circuit, with the
//! credential that matches): one the registry does not have, or that it refuses to show without
//! a credential Sprout does not hold, is refused at once, naming the registry and the command to
//! fix it. One whose stored credential is refused, or whose registry is held back or down, is
//! accepted: its launches wait (running instances are untouched) until the circuit lets a pull
//! go, and health says why. Images are pulled by the controller, not here.

use std::collections::BTreeSet;

use sprout_model::Dockerrun;
use sprout_model::image::registry_of;
use sprout_model::options::Tier;
use sprout_store::VersionRecord;

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::registry::pulls::{LookUp, look_up};

/// The hint for a registry that wants a credential.
fn login_hint(image: &str, app: &str) -> String {
    format!(
        "run `sprout registry login {} --username USER --password-stdin` (add `--limit-app {app}` to limit it to this application), then retry",
        registry_of(image)
    )
}

/// The secrets `def` names must be set before a deploy replaces anything. A new environment
/// has none yet: its launches wait, saying which are missing, until they are set.
async fn check_secrets(ctx: &Ctx, v: &VersionRecord, env: &str, def: &Dockerrun) -> Result<(), ApiError> {
    match ctx.store.get_environment(&v.app, env).await {
        Ok(_) => {}
        Err(sprout_store::StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let have = crate::env_secrets::versions(&*ctx.store, &v.app, env).await?;
    let missing = crate::env_secrets::missing(def, &have);
    if missing.is_empty() {
        return Ok(());
    }
    Err(bad(
        format!("version {} names secrets that environment {env} does not have: {}", v.label, missing.join(", ")),
        Some(format!(
            "set each with `sprout secrets set {env} NAME --value-stdin`, then deploy again; nothing was replaced"
        )),
    ))
}

/// A privileged container on an engine that cannot run one (a swarm) is refused before the host
/// access policy is asked (allowing it there would not make it run), with the engine's reason.
/// The engine refuses it at launch too, for versions deployed before this check.
fn refuse_privileged(ctx: &Ctx, v: &VersionRecord, def: &Dockerrun) -> Result<(), ApiError> {
    let Some(why) = ctx.engine.privileged_refusal() else { return Ok(()) };
    match def.container_definitions.iter().position(|c| c.privileged) {
        None => Ok(()),
        Some(i) => Err(bad(
            format!(
                "version {}: container {} (containerDefinitions[{i}].privileged) cannot run on this server's engine: {why}",
                v.label, def.container_definitions[i].name
            ),
            None,
        )),
    }
}

/// The tier a new environment of `v` gets when the request names none: worker for a definition
/// with no container on host port 80 (nothing to route to), else web.
pub fn default_tier(v: &VersionRecord) -> Result<Tier, ApiError> {
    let def = definition(v)?;
    Ok(if def.web_container().is_none() { Tier::Worker } else { Tier::Web })
}

fn definition(v: &VersionRecord) -> Result<Dockerrun, ApiError> {
    serde_json::from_str(&v.definition)
        .map_err(|e| ApiError::Internal(format!("stored definition of version {} is unreadable: {e}", v.label)))
}

/// Checks `v` for deployment to environment `env` (of tier `tier`) of its application. Returns
/// notes for the caller (a registry holding back, so launches will wait).
pub async fn check_deployable(ctx: &Ctx, v: &VersionRecord, env: &str, tier: Tier) -> Result<Vec<String>, ApiError> {
    let def = definition(v)?;
    refuse_privileged(ctx, v, &def)?;
    super::host_access::refuse_violations(ctx, &v.app, &def).await?;
    if def.web_container().is_none() && tier == Tier::Web {
        return Err(bad(
            format!("version {} has no container mapping host port 80, and {env} is a web environment: the load balancer would have nothing to send traffic to", v.label),
            Some("add \"portMappings\": [{\"hostPort\": 80, \"containerPort\": <port>}] to the container that serves HTTP, or run the version in a worker environment (`sprout create ENV --tier worker`)".to_string()),
        ));
    }
    super::registries::check_authentication(ctx, &v.app, &def).await?;
    check_secrets(ctx, v, env, &def).await?;
    let config = def.authentication.as_ref().map(|a| a.key.as_str());
    let recorded = ctx.store.get_version_images(&v.app, &v.label).await?;
    let waiters = BTreeSet::from([(v.app.clone(), env.to_string())]);
    let mut notes = Vec::new();
    let mut all_present = true;
    for image in def.images() {
        // A version deployed before runs the image ids recorded then, whatever its tags say now.
        if let Some(rec) = recorded.as_ref().and_then(|r| r.get(image)) {
            if ctx.engine.image_present(&rec.id).await? {
                continue;
            }
            if rec.digest.is_none() {
                return Err(bad(
                    format!("version {} ran image {image} as {}, which is no longer on this engine", v.label, rec.id),
                    Some(format!(
                        "restore that image (e.g. rebuild it with the same content, or `docker load` it), or upload a new version to run what {image} names now"
                    )),
                ));
            }
            // Pulled again by its recorded digest before the version's instances launch.
            all_present = false;
            continue;
        }
        if ctx.engine.image_present(image).await? {
            continue;
        }
        all_present = false;
        match look_up(ctx, &v.app, config, image, &waiters).await {
            LookUp::Found(_) => {}
            LookUp::NoCredential(cause) => return Err(bad(cause, Some(login_hint(image, &v.app)))),
            LookUp::Held(cause) => notes.push(format!("image {image}: {cause}; its launches wait")),
            LookUp::Failed(message) => {
                return Err(bad(
                    format!("image {image} is not on this engine and its registry cannot give it: {message}"),
                    Some(format!(
                        "check the name and tag; build or load {image} on this machine (e.g. scripts/build-images), or push it to {}",
                        registry_of(image)
                    )),
                ));
            }
        }
    }
    if all_present && recorded.is_none() {
        crate::registry::images::record(ctx, &v.app, &v.label, &def).await.map_err(ApiError::Internal)?;
    }
    Ok(notes)
}
