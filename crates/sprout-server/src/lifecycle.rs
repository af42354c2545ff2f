//! Version lifecycle: which versions are in use, deleting a version (record and, when no other
//! version shares it, its bundle), and applying an application's lifecycle policy after each
//! new version.
//!
//! The decision itself is pure (`sprout_plan::decide_version_deletions`); this module gathers
//! its inputs from the store and acts on its answer. Not here: HTTP (see `api::lifecycle`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sprout_plan::{LifecycleLimits, VersionAge, decide_version_deletions};
use sprout_store::{Store, StoreError, VersionRecord};

use crate::context::Ctx;
use crate::events::Event;

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("version {label} is in use by environment(s) {}: deploy another version there first (or terminate them), then delete it", .environments.join(", "))]
    InUse { label: String, environments: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Label -> the environments of `app` that use it: the version they run, their last good
/// version, or any label their deploy in flight mentions (its state is opaque here, so every
/// string in it counts).
pub async fn versions_in_use(store: &dyn Store, app: &str) -> Result<BTreeMap<String, BTreeSet<String>>, StoreError> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for env in store.list_environments(Some(app)).await? {
        let mut labels = vec![env.version_label.clone()];
        labels.extend(env.last_good_version.clone());
        if let Some(state) = &env.deploy_state {
            collect_strings(state, &mut labels);
        }
        for label in labels {
            used.entry(label).or_default().insert(env.name.clone());
        }
    }
    Ok(used)
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Delete one version unless an environment uses it. Its bundle directory goes too when no
/// version of any application shares the digest.
pub async fn delete_version(ctx: &Ctx, app: &str, label: &str) -> Result<(), VersionError> {
    let version = ctx.store.get_version(app, label).await?;
    if let Some(envs) = versions_in_use(&*ctx.store, app).await?.get(label) {
        return Err(VersionError::InUse { label: label.to_string(), environments: envs.iter().cloned().collect() });
    }
    ctx.store.delete_version(app, label).await?;
    remove_bundle_if_unshared(ctx, &version).await?;
    Ok(())
}

async fn remove_bundle_if_unshared(ctx: &Ctx, version: &VersionRecord) -> Result<(), StoreError> {
    for a in ctx.store.list_applications().await? {
        if ctx.store.list_versions(&a.name).await?.iter().any(|v| v.bundle_digest == version.bundle_digest) {
            return Ok(());
        }
    }
    // Only ever a directory this server made: a stored path outside the bundles directory
    // (a hand-edited database) is left alone.
    let dir = Path::new(&version.bundle_path);
    if dir.starts_with(ctx.settings.bundles_dir())
        && dir.exists()
        && let Err(e) = std::fs::remove_dir_all(dir)
    {
        tracing::warn!("could not remove bundle {}: {e}", dir.display());
    }
    Ok(())
}

/// Apply the application's lifecycle policy now: delete what it selects and return the labels
/// deleted, oldest first. A version that became in use meanwhile is skipped, not an error.
pub async fn apply_lifecycle(ctx: &Ctx, app: &str) -> Result<Vec<String>, StoreError> {
    let policy = ctx.store.get_lifecycle(app).await?;
    if policy.is_empty() {
        return Ok(Vec::new());
    }
    let versions: Vec<VersionAge> = ctx
        .store
        .list_versions(app)
        .await?
        .into_iter()
        .map(|v| VersionAge { label: v.label, created_at: v.created_at.timestamp() })
        .collect();
    let in_use: BTreeSet<String> = versions_in_use(&*ctx.store, app).await?.into_keys().collect();
    let limits = LifecycleLimits { max_count: policy.max_count, max_age_days: policy.max_age_days };
    let mut deleted = Vec::new();
    for label in decide_version_deletions(&versions, &in_use, limits, ctx.clock.now().timestamp()) {
        match delete_version(ctx, app, &label).await {
            Ok(()) => {
                ctx.emit(app, None, Event::VersionDeleted { label: label.clone(), reason: describe(&policy) }).await;
                deleted.push(label);
            }
            Err(VersionError::InUse { .. }) => {}
            Err(VersionError::Store(StoreError::NotFound { .. })) => {}
            Err(VersionError::Store(e)) => return Err(e),
        }
    }
    Ok(deleted)
}

fn describe(p: &sprout_store::LifecyclePolicy) -> String {
    let mut parts = Vec::new();
    if let Some(n) = p.max_count {
        parts.push(format!("max count {n}"));
    }
    if let Some(d) = p.max_age_days {
        parts.push(format!("max age {d} days"));
    }
    format!("lifecycle policy: {}", parts.join(", "))
}
