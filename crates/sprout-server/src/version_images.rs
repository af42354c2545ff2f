//! A version's images, pinned: resolved to engine image ids when the version is first deployed
//! and recorded, so that deploying it again (a rollback) runs exactly what ran before, even if
//! a tag has moved since. Also the per-version image size report and its budget.
//!
//! Not here: pulling and recording (`registry::images`) nor launching.

use std::collections::BTreeMap;

use sprout_store::VersionImages;

use crate::context::Ctx;
use crate::instance::InstancePlan;

/// Total image size per version above which `sprout versions` warns: DESIGN.md's team ran
/// 400-900 MB images per container and paid for it in pull and start times.
pub const IMAGE_BUDGET_BYTES: u64 = 500 * 1024 * 1024;

/// The recorded image ids of a version, by reference; empty when none are recorded (or the
/// store cannot say: launching by tag is what Sprout did before images were recorded).
pub async fn pinned(ctx: &Ctx, app: &str, label: &str) -> BTreeMap<String, String> {
    match ctx.store.get_version_images(app, label).await {
        Ok(Some(images)) => images.into_iter().filter(|(_, r)| !r.id.is_empty()).map(|(k, r)| (k, r.id)).collect(),
        Ok(None) => BTreeMap::new(),
        Err(e) => {
            tracing::warn!("cannot read recorded images of {app}/{label}, launching by tag: {e}");
            BTreeMap::new()
        }
    }
}

/// Replace each container's image reference by its recorded id. Pure.
pub fn pin_images(mut plan: InstancePlan, ids: &BTreeMap<String, String>) -> InstancePlan {
    for c in &mut plan.containers {
        if let Some(id) = ids.get(&c.spec.image) {
            c.spec.image = id.clone();
        }
    }
    plan
}

/// Total size and a warning when it is over the budget.
pub fn size_report(images: &VersionImages) -> (u64, Option<String>) {
    let total: u64 = images.values().map(|r| r.size_bytes).sum();
    let warning = (total > IMAGE_BUDGET_BYTES).then(|| {
        let biggest = images
            .iter()
            .max_by_key(|(_, r)| r.size_bytes)
            .map(|(k, r)| format!("{k} is {} MB", r.size_bytes / 1_000_000))
            .unwrap_or_default();
        format!(
            "images total {} MB, over the {} MB budget ({biggest}): large images slow every pull and launch",
            total / 1_000_000,
            IMAGE_BUDGET_BYTES / 1_000_000
        )
    });
    (total, warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprout_engine::{ContainerSpec, NetworkSpec};
    use sprout_store::ImageRecord;

    use crate::instance::spec::PlannedContainer;

    fn plan(images: &[&str]) -> InstancePlan {
        InstancePlan {
            network: NetworkSpec { name: "n".into(), ..NetworkSpec::default() },
            containers: images
                .iter()
                .enumerate()
                .map(|(i, image)| PlannedContainer {
                    name: format!("c{i}"),
                    spec: ContainerSpec { image: image.to_string(), ..Default::default() },
                    wait_for: Vec::new(),
                    after: Vec::new(),
                    volumes_from: Vec::new(),
                })
                .collect(),
            dirs: Vec::new(),
            copies: Vec::new(),
        }
    }

    #[test]
    fn pins_recorded_images_and_leaves_others() {
        let ids = BTreeMap::from([("app:1".to_string(), "sha256:aaa".to_string())]);
        let got: Vec<String> = pin_images(plan(&["app:1", "nginx:1", "app:1"]), &ids)
            .containers
            .into_iter()
            .map(|c| c.spec.image)
            .collect();
        assert_eq!(got, ["sha256:aaa", "nginx:1", "sha256:aaa"]);
    }

    #[test]
    fn size_report_warns_over_budget_only() {
        let rec = |mb: u64| ImageRecord { id: "sha256:x".into(), size_bytes: mb * 1024 * 1024, digest: None };
        let small = VersionImages::from([("a".to_string(), rec(100)), ("b".to_string(), rec(300))]);
        assert_eq!(size_report(&small), (400 * 1024 * 1024, None));
        let big = VersionImages::from([("a".to_string(), rec(100)), ("ruby:big".to_string(), rec(450))]);
        let (total, warning) = size_report(&big);
        assert_eq!(total, 550 * 1024 * 1024);
        let warning = warning.expect("over budget");
        assert!(warning.contains("ruby:big"), "{warning}");
        assert!(warning.contains("budget"), "{warning}");
    }
}
