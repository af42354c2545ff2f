//! Records the store keeps. Plain data; `*Record` is what a row holds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An immutable application version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub app: String,
    pub label: String,
    pub description: String,
    /// `sha256:<hex>` of the bundle's content.
    pub bundle_digest: String,
    /// Where the unpacked bundle lives in the data directory.
    pub bundle_path: String,
    /// The validated Dockerrun as JSON (`sprout_model::Dockerrun` serialized).
    pub definition: String,
    pub created_at: DateTime<Utc>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventLevel {
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "INFO",
            EventLevel::Warn => "WARN",
            EventLevel::Error => "ERROR",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "INFO" => EventLevel::Info,
            "WARN" => EventLevel::Warn,
            "ERROR" => EventLevel::Error,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub app: String,
    pub env: Option<String>,
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    /// Machine-readable type, e.g. `InstanceStarted`.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: i64,
    pub app: String,
    pub env: Option<String>,
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Deploy,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Deploy => "deploy",
            Scope::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "read" => Scope::Read,
            "deploy" => Scope::Deploy,
            "admin" => Scope::Admin,
            _ => return None,
        })
    }
    /// Does a token of this scope allow an action that needs `needed`?
    pub fn allows(self, needed: Scope) -> bool {
        let rank = |s: Scope| match s {
            Scope::Read => 0,
            Scope::Deploy => 1,
            Scope::Admin => 2,
        };
        rank(self) >= rank(needed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    /// `sha256:<hex>` of the token; the token itself is never stored.
    pub hash: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
}
