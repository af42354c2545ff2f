//! Records about a version's life after upload: the images it was resolved to when first
//! deployed, and the application's lifecycle policy (how many and how old versions to keep).
//!
//! Plain data. Not here: deciding which versions to delete (`sprout_plan::lifecycle`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A local image as resolved at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The engine's image id (`sha256:...`): what a container runs, whatever the tag says later.
    pub id: String,
    pub size_bytes: u64,
    /// The registry's digest (`sha256:...`) when the image came from a registry: it names the
    /// same content there, so the image can be pulled again exactly if it leaves the engine.
    /// None for a local build, and for versions recorded before digests were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Image reference in the definition (e.g. `adserver/app:1.4`) -> what it resolved to.
pub type VersionImages = BTreeMap<String, ImageRecord>;

/// An application's version lifecycle policy. `None` limits nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecyclePolicy {
    /// Keep at most this many versions (newest first).
    pub max_count: Option<u32>,
    /// Delete versions older than this many days.
    pub max_age_days: Option<u32>,
}

impl LifecyclePolicy {
    pub fn is_empty(&self) -> bool {
        self.max_count.is_none() && self.max_age_days.is_none()
    }
}
