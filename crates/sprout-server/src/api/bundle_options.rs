//! The `options:` section of a version's `sprout.yaml`, applied when the version is deployed
//! (and when an environment is created with it), as Elastic Beanstalk applies `.ebextensions`
//! option_settings. As there, an option set directly (by hand, a saved configuration or a
//! schedule) wins over the bundle's: the bundle sets only options at their default or set by
//! an earlier bundle, and an option the previous bundle set that the new one leaves out goes
//! back to its default.

use sprout_model::Dockerrun;
use sprout_model::config::{self, Changes, DEFINITIONS, Source};
use sprout_model::options::EnvOptions;

use super::error::{ApiError, bad};
use crate::context::Ctx;

/// The options `version`'s bundle sets (empty without a `sprout.yaml` or an `options:`).
async fn bundle_options(
    ctx: &Ctx,
    app: &str,
    version: &str,
) -> Result<sprout_model::sprout_yaml::options::BundleOptions, ApiError> {
    let v = ctx.store.get_version(app, version).await?;
    let def: Dockerrun = serde_json::from_str(&v.definition)
        .map_err(|e| ApiError::Internal(format!("stored definition of version {version} is unreadable: {e}")))?;
    let dir = std::path::PathBuf::from(&v.bundle_path);
    let yaml = tokio::task::spawn_blocking(move || crate::bundle::read_sprout_yaml(&dir, &def))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|m| bad(format!("sprout.yaml of version {version}: {m}"), None))?;
    Ok(yaml.options)
}

/// The changes the bundle of `version` makes to `options`, in registry form.
fn changes_for(options: &EnvOptions, given: &sprout_model::sprout_yaml::options::BundleOptions) -> Changes {
    let mut changes = Changes::new();
    for def in DEFINITIONS {
        let from_bundle = matches!(config::source_of(options, def), Source::Bundle { .. });
        let free = from_bundle || config::source_of(options, def) == Source::Default;
        if !free {
            continue;
        }
        match given.get(def.key) {
            Some(value) => drop(changes.insert(def.key, value.clone())),
            None if from_bundle => drop(changes.insert(def.key, None)),
            None => {}
        }
    }
    changes
}

/// Apply `version`'s bundle options to `options` (in place); the keys that changed.
pub(crate) async fn apply(
    ctx: &Ctx,
    app: &str,
    version: &str,
    options: &mut EnvOptions,
) -> Result<Vec<sprout_api::OptionChanged>, ApiError> {
    let given = bundle_options(ctx, app, version).await?;
    let changes = changes_for(options, &given);
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let before = options.clone();
    let source = Source::Bundle { version: version.to_string() };
    config::apply(options, &changes, &source)
        .map_err(|m| bad(format!("the options: of version {version}'s sprout.yaml: {m}"), None))?;
    Ok(DEFINITIONS
        .iter()
        .filter_map(|d| {
            let (from, to) = ((d.get)(&before), (d.get)(options));
            (from != to).then(|| sprout_api::OptionChanged { key: d.key.to_string(), from, to })
        })
        .collect())
}

/// `apply` for an environment being created.
pub(crate) async fn apply_to_new(
    ctx: &Ctx,
    app: &str,
    version: &str,
    options: &mut EnvOptions,
) -> Result<(), ApiError> {
    apply(ctx, app, version, options).await.map(drop)
}
