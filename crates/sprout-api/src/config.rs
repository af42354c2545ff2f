//! Configuration over the API: an environment's options with their defaults and sources
//! (`GET .../config`), one change to them (`PATCH .../config`: `sprout config set|unset|edit|put`)
//! and saved configurations (`/apps/{app}/configurations`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One option of an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionView {
    pub key: String,
    /// None: unset (the option has no value by default, e.g. no target).
    pub value: Option<String>,
    pub default: Option<String>,
    /// The default in words, when it is not a plain value.
    pub default_note: Option<String>,
    /// Where the value came from: `default`, `set by hand`, `saved configuration NAME`,
    /// `sprout.yaml of version LABEL`, `schedule NAME`.
    pub source: String,
    pub allowed: String,
    pub description: String,
}

/// `GET /apps/{app}/environments/{env}/config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    pub app: String,
    pub env: String,
    pub options: Vec<OptionView>,
    pub variables: BTreeMap<String, String>,
    pub desired_instances: u32,
}

/// `PATCH /apps/{app}/environments/{env}/config`: options by key or Elastic Beanstalk alias
/// (null: back to the default), optionally the whole set of properties, or a saved
/// configuration to apply whole. `dry_run` says what would change without changing it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfigChange {
    #[serde(default)]
    pub options: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub saved: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionChanged {
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What a change did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChangeView {
    pub changed: Vec<OptionChanged>,
    /// Properties set, changed or removed, by name.
    pub variables_changed: Vec<String>,
    /// True when running instances are replaced (under the deployment policy) for it.
    pub replaces_instances: bool,
    /// The desired instance count before and after (a new band moves it).
    pub desired: (u32, u32),
    /// What the change affects, in words, one line each.
    pub effects: Vec<String>,
    pub applied: bool,
}

/// `POST /apps/{app}/configurations`: save environment `env`'s configuration as `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveConfiguration {
    pub name: String,
    pub env: String,
}
