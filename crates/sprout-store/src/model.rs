//! Records the store keeps. Plain data; `*Record` is what a row holds. The environment and its
//! options are domain types of `sprout-model`, re-exported here for the store's callers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub use sprout_model::environment::{EnvStatus, EnvironmentRecord};
pub use sprout_model::event::EventLevel;

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
    /// The one application it may reach (None: every application).
    #[serde(default)]
    pub limit_app: Option<String>,
    /// The one environment name it may change (None: every environment of its applications).
    #[serde(default)]
    pub limit_env: Option<String>,
    /// After this it is refused (None: never).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last accepted, to the minute.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// A token of `scope` with no limits and no expiry.
    pub fn unlimited(name: &str, hash: String, scope: Scope, created_at: DateTime<Utc>) -> Self {
        TokenRecord {
            name: name.to_string(),
            hash,
            scope,
            created_at,
            limit_app: None,
            limit_env: None,
            expires_at: None,
            last_used_at: None,
        }
    }
}
