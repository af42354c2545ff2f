//! Whether a version's images are on the engine, before any of its instances launches. A
//! version that ran here before runs the image ids recorded then; if one left the engine and a
//! registry digest was recorded, exactly that image is pulled again by digest; otherwise every
//! image not present is pulled (one pull per image across the server). Once all are present, the
//! version's images are recorded (id, registry digest, size) and the answer is kept: a version's
//! images never change, so asking again costs nothing and a registry outage never stops a
//! scale-out or a restart of a version that ran here.
//!
//! Not here: the pulls themselves (`pulls`), nor holding launches (the pass, given the cause).

use std::collections::HashSet;
use std::sync::Mutex;

use sprout_model::Dockerrun;
use sprout_model::image::ImageRef;
use sprout_store::{ImageRecord, VersionImages};

use super::pulls::{self, PullState};
use crate::context::Ctx;

/// Versions (application, label) whose images are all on the engine.
#[derive(Debug, Default)]
pub struct Ready(Mutex<HashSet<(String, String)>>);

/// Whether the version's instances may launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Launches wait: why (pulls running, a registry holding calls back), in words for health.
    Waiting(String),
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_000_000.0)
}

/// Are the images of `label` (definition `def`) of `app` on the engine? Starts or joins the pulls
/// they need, for environment `env`.
pub async fn readiness(ctx: &Ctx, app: &str, env: &str, label: &str, def: &Dockerrun) -> Readiness {
    let memo = (app.to_string(), label.to_string());
    if ctx.registries.ready.0.lock().unwrap().contains(&memo) {
        return Readiness::Ready;
    }
    let recorded = match ctx.store.get_version_images(app, label).await {
        Ok(r) => r,
        Err(e) => return Readiness::Waiting(format!("cannot read the images of version {label}: {e}")),
    };
    let config = def.authentication.as_ref().map(|a| a.key.clone());
    let mut causes = Vec::new();
    for image in def.images() {
        let pinned = recorded.as_ref().and_then(|r| r.get(image));
        let (present_as, pull_as) = match pinned {
            Some(rec) if !rec.id.is_empty() => {
                let by_digest = rec.digest.as_ref().map(|d| ImageRef::parse(image).by_digest(d));
                (rec.id.clone(), by_digest)
            }
            _ => (image.to_string(), Some(image.to_string())),
        };
        match ctx.engine.image_present(&present_as).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                causes.push(format!("cannot look for image {image}: {e}"));
                continue;
            }
        }
        let Some(pull_as) = pull_as else {
            causes.push(format!(
                "version {label} ran image {image} as {present_as}, which is no longer on this engine and came from no registry: restore that image (`docker load`), or deploy a new version"
            ));
            continue;
        };
        match pulls::ensure(ctx, (app.to_string(), env.to_string()), config.clone(), &pull_as) {
            PullState::InFlight { source, progress } if progress.layers > 0 => causes.push(format!(
                "pulling image {image} from {source}: {} of {} layers, {} of {} MB",
                progress.layers_done,
                progress.layers,
                megabytes(progress.bytes_done),
                megabytes(progress.bytes)
            )),
            PullState::InFlight { source, .. } => causes.push(format!("pulling image {image} from {source}")),
            PullState::Held(cause) => causes.push(cause),
        }
    }
    if !causes.is_empty() {
        causes.dedup();
        return Readiness::Waiting(causes.join("; "));
    }
    if recorded.is_none()
        && let Err(e) = record(ctx, app, label, def).await
    {
        return Readiness::Waiting(format!("cannot record the images of version {label}: {e}"));
    }
    ctx.registries.ready.0.lock().unwrap().insert(memo);
    Readiness::Ready
}

/// Resolves every image of the definition (present on the engine) to its id, registry digest
/// and size, and records them on the version.
pub async fn record(ctx: &Ctx, app: &str, label: &str, def: &Dockerrun) -> Result<VersionImages, String> {
    let mut images = VersionImages::new();
    for image in def.images() {
        let status = ctx.engine.inspect_image(image).await.map_err(|e| e.to_string())?;
        let name = ImageRef::parse(image).name();
        let digest = status
            .repo_digests
            .iter()
            .find(|d| d.split_once('@').is_some_and(|(n, _)| n == name))
            .or(status.repo_digests.first())
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string());
        images.insert(image.to_string(), ImageRecord { id: status.id, size_bytes: status.size_bytes, digest });
    }
    ctx.store.set_version_images(app, label, &images).await.map_err(|e| e.to_string())?;
    Ok(images)
}
