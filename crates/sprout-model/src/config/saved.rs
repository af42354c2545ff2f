//! Saved configurations (`sprout config save|list|show|delete`, `create --cfg`, `config put`):
//! an environment's options, properties, scheduled actions and instance count under a name, kept
//! per application, so another environment can be created or set up identically. Options are
//! kept as the registry's key/value text (only those that differ from the default), so a saved
//! configuration reads the same after Sprout adds options.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::scaling::ScheduledAction;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedConfiguration {
    pub name: String,
    /// The environment it was saved from.
    #[serde(default)]
    pub source_environment: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The desired instance count at the time (what `create --cfg` launches unless told).
    pub instances: u32,
    /// Option key to value, for every option that is not at its default.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub scheduled_actions: Vec<ScheduledAction>,
}

/// An application's saved configurations, by name.
pub type SavedConfigurations = BTreeMap<String, SavedConfiguration>;
