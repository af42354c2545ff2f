//! An environment as Sprout keeps it: the desired state the controller converges on (version,
//! instance count, variables, option settings) and the progress it records (status, deploy
//! deadline and state, last good version). Plain data: the store persists it, the planners read
//! it, the API shows it. Not here: how it is stored or changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An environment's identity: the application that owns it and its name. The key of every
/// per-environment map (routes, snapshots, wake-ups, metrics, scaling memory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EnvId {
    pub app: String,
    pub env: String,
}

impl EnvId {
    pub fn new(app: impl Into<String>, env: impl Into<String>) -> Self {
        EnvId { app: app.into(), env: env.into() }
    }
}

impl std::fmt::Display for EnvId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.app, self.env)
    }
}

/// Where an environment is in its life, as Elastic Beanstalk names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvStatus {
    Launching,
    Updating,
    Ready,
    Terminating,
}

impl EnvStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvStatus::Launching => "Launching",
            EnvStatus::Updating => "Updating",
            EnvStatus::Ready => "Ready",
            EnvStatus::Terminating => "Terminating",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Launching" => EnvStatus::Launching,
            "Updating" => EnvStatus::Updating,
            "Ready" => EnvStatus::Ready,
            "Terminating" => EnvStatus::Terminating,
            _ => return None,
        })
    }
}

/// An environment: the desired state the reconciler converges on, plus progress it records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    pub app: String,
    pub name: String,
    /// The version the environment should run.
    pub version_label: String,
    /// The version that last became fully healthy here (None before the first success).
    pub last_good_version: Option<String>,
    pub desired_instances: u32,
    pub status: EnvStatus,
    /// Environment properties, added to every container.
    pub variables: BTreeMap<String, String>,
    /// When the deploy in progress must have finished, if one is in progress.
    pub deploy_deadline: Option<DateTime<Utc>>,
    /// Set when the last deploy failed: why.
    pub last_error: Option<String>,
    /// Option settings: deployment policy, health check, capacity, scaling.
    pub options: crate::options::EnvOptions,
    /// Progress of the deploy in flight (owned by the deploy controller), so a restarted
    /// server resumes it; None when no deploy runs.
    pub deploy_state: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Raised by one on every update; `Store::update_environment` applies a change only to the
    /// revision it was read at (0 for a new environment).
    #[serde(default)]
    pub revision: i64,
}

impl EnvironmentRecord {
    /// A new environment of `app` named `name`, launching `desired` instances of `version` with
    /// default options, no variables and no deadline, created at `now`.
    pub fn launching(app: &str, name: &str, version: &str, desired: u32, now: DateTime<Utc>) -> Self {
        EnvironmentRecord {
            app: app.to_string(),
            name: name.to_string(),
            version_label: version.to_string(),
            last_good_version: None,
            desired_instances: desired,
            status: EnvStatus::Launching,
            variables: BTreeMap::new(),
            deploy_deadline: None,
            last_error: None,
            options: Default::default(),
            deploy_state: None,
            created_at: now,
            updated_at: now,
            revision: 0,
        }
    }

    pub fn id(&self) -> EnvId {
        EnvId::new(&self.app, &self.name)
    }
}
