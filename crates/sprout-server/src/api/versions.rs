//! Uploading and listing application versions. A version is an immutable bundle: reusing a
//! label with the same content returns the existing version; with other content it is refused.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sprout_model::sprout_yaml::load_sprout_yaml;
use sprout_model::{Severity, load_dockerrun};
use sprout_store::VersionRecord;

use super::error::{ApiError, bad};
use crate::bundle::{BundleError, DEFINITION_FILE, SPROUT_YAML, unique_name, unpack};
use crate::context::Ctx;

#[derive(Deserialize)]
pub struct UploadQuery {
    pub label: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Serialize)]
pub struct VersionView {
    pub app: String,
    pub label: String,
    pub description: String,
    pub bundle_digest: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub containers: Vec<String>,
    pub images: Vec<String>,
    /// True when the label already existed with this very content.
    pub reused: bool,
    pub warnings: Vec<String>,
    /// Image reference -> id and size, recorded when the version was first deployed.
    pub resolved_images: Option<sprout_store::VersionImages>,
    /// Total size of the resolved images.
    pub image_size_bytes: Option<u64>,
    /// Set when the images are over the size budget.
    pub image_warning: Option<String>,
    /// Environments that run it, keep it as last good version, or deploy it.
    pub in_use_by: Vec<String>,
    /// Versions the lifecycle policy deleted after this one was created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_by_lifecycle: Vec<String>,
}

impl VersionView {
    fn of(v: &VersionRecord, reused: bool, warnings: Vec<String>) -> Self {
        let def: Option<sprout_model::Dockerrun> = serde_json::from_str(&v.definition).ok();
        VersionView {
            app: v.app.clone(),
            label: v.label.clone(),
            description: v.description.clone(),
            bundle_digest: v.bundle_digest.clone(),
            created_at: v.created_at,
            containers: def
                .as_ref()
                .map(|d| d.container_definitions.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            images: def.as_ref().map(|d| d.images().into_iter().map(String::from).collect()).unwrap_or_default(),
            reused,
            warnings,
            resolved_images: None,
            image_size_bytes: None,
            image_warning: None,
            in_use_by: Vec::new(),
            deleted_by_lifecycle: Vec::new(),
        }
    }

    /// Adds what the store knows beside the record: resolved images and their size.
    async fn with_images(mut self, ctx: &Ctx) -> Result<Self, ApiError> {
        if let Some(images) = ctx.store.get_version_images(&self.app, &self.label).await? {
            let (total, warning) = crate::version_images::size_report(&images);
            self.image_size_bytes = Some(total);
            self.image_warning = warning;
            self.resolved_images = Some(images);
        }
        Ok(self)
    }
}

/// An uploaded archive on disk, removed when dropped.
struct ArchiveFile(std::path::PathBuf);

impl Drop for ArchiveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the request body to a file of its own under `dir` as it arrives, refusing it once it
/// passes `limit` bytes.
async fn receive_archive(dir: &std::path::Path, body: axum::body::Body, limit: u64) -> Result<ArchiveFile, ApiError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let file = ArchiveFile(dir.join(unique_name(".archive")));
    let io = |e: std::io::Error| {
        if crate::bundle::is_disk_full(&e) {
            ApiError::InsufficientStorage(format!(
                "the disk holding {} is full: the upload was not stored; free space in the data directory and retry",
                dir.display()
            ))
        } else {
            ApiError::Internal(format!("cannot write the upload: {e}"))
        }
    };
    let mut out = tokio::fs::File::create(&file.0).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the upload did not arrive whole: {e}"), None))?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(bad(BundleError::TooLarge { limit_mb: limit / (1024 * 1024) }.to_string(), None));
        }
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    Ok(file)
}

pub async fn upload(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Query(q): Query<UploadQuery>,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    ctx.store.get_application(&app).await?;
    let now = ctx.clock.now();
    let label = q.label.filter(|l| !l.is_empty()).unwrap_or_else(|| format!("v-{}", now.format("%y%m%d_%H%M%S%6f")));
    sprout_model::names::check_label(&label).map_err(|m| bad(m, None))?;
    let bundles = ctx.settings.bundles_dir();
    std::fs::create_dir_all(&bundles)
        .map_err(|e| ApiError::Internal(format!("cannot create {}: {e}", bundles.display())))?;
    // The upload goes to a file of its own as it arrives, and is unpacked and checked off the
    // async workers: however large or well compressed, it never sits in memory whole, and the
    // API keeps answering meanwhile.
    let limit = ctx.settings.bundle_limit_bytes;
    let archive = receive_archive(&bundles, body, limit).await?;
    let unpack_in = bundles.clone();
    let unpacked = tokio::task::spawn_blocking(move || {
        let result = unpack(&unpack_in, &archive.0, limit).map(|u| {
            let loaded = load_dockerrun(DEFINITION_FILE, &u.definition).and_then(|l| {
                // Both extras are checked, so every problem of the two files shows at once.
                let mut warnings = Vec::new();
                let mut errors = Vec::new();
                if let Some(text) = &u.sprout_yaml {
                    match load_sprout_yaml(SPROUT_YAML, text, &l.dockerrun) {
                        Ok((_, w)) => warnings.extend(w),
                        Err(diags) => errors.extend(diags),
                    }
                }
                if let Some(text) = &u.cron_yaml {
                    match sprout_plan::cron::load_cron_yaml(text, l.dockerrun.web_container().is_some()) {
                        Ok((_, w)) => warnings.extend(w),
                        Err(diags) => errors.extend(diags),
                    }
                }
                if errors.is_empty() { Ok((l, warnings)) } else { Err(errors) }
            });
            (u, loaded)
        });
        drop(archive);
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("unpacking the bundle failed: {e}")))?;
    let (unpacked, loaded) = unpacked.map_err(|e| match e {
        BundleError::Io { .. } => ApiError::Internal(e.to_string()),
        BundleError::Full { .. } => ApiError::InsufficientStorage(e.to_string()),
        other => bad(other.to_string(), None),
    })?;
    let (loaded, yaml_warnings) = loaded.map_err(ApiError::InvalidDefinition)?;
    let warnings: Vec<String> = loaded
        .warnings
        .iter()
        .chain(&yaml_warnings)
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.to_string())
        .collect();
    super::host_access::refuse_violations(&ctx, &app, &loaded.dockerrun).await?;
    super::registries::check_authentication(&ctx, &app, &loaded.dockerrun).await?;
    let digest = unpacked.digest();

    match ctx.store.get_version(&app, &label).await {
        Ok(existing) if existing.bundle_digest == digest => {
            return Ok((StatusCode::OK, Json(VersionView::of(&existing, true, warnings))));
        }
        Ok(existing) => {
            return Err(ApiError::Conflict(format!(
                "version {label} already exists with bundle {}, and this bundle is {}: versions are immutable",
                existing.bundle_digest, digest
            )));
        }
        Err(sprout_store::StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let stored = tokio::task::spawn_blocking(move || unpacked.commit())
        .await
        .map_err(|e| ApiError::Internal(format!("storing the bundle failed: {e}")))?
        .map_err(|e| match e {
            BundleError::Full { .. } => ApiError::InsufficientStorage(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        })?;
    let record = VersionRecord {
        app,
        label,
        description: q.description,
        bundle_digest: stored.digest,
        bundle_path: stored.dir.to_string_lossy().into_owned(),
        definition: serde_json::to_string(&loaded.dockerrun).map_err(|e| ApiError::Internal(e.to_string()))?,
        created_at: now,
    };
    ctx.store.create_version(&record).await?;
    let mut view = VersionView::of(&record, false, warnings);
    // The new version is kept whatever the policy says: it is the newest. A failure here must
    // not fail the upload, which has succeeded.
    match crate::lifecycle::apply_lifecycle(&ctx, &record.app).await {
        Ok(deleted) => view.deleted_by_lifecycle = deleted,
        Err(e) => tracing::warn!("lifecycle policy of {} not applied: {e}", record.app),
    }
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<Vec<VersionView>>, ApiError> {
    ctx.store.get_application(&app).await?;
    let versions = ctx.store.list_versions(&app).await?;
    let in_use = crate::lifecycle::versions_in_use(&*ctx.store, &app).await?;
    let mut views = Vec::with_capacity(versions.len());
    for v in &versions {
        let mut view = VersionView::of(v, false, Vec::new()).with_images(&ctx).await?;
        view.in_use_by = in_use.get(&v.label).map(|e| e.iter().cloned().collect()).unwrap_or_default();
        views.push(view);
    }
    Ok(Json(views))
}
