//! The audit trail and environment secrets as the store keeps them. Plain data: a secret's
//! value is sealed by the server before it reaches the store, which has no key to open it.
//!
//! Not here: who may do what (the server's `api::access`) nor sealing (`sprout_server::secrets`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One mutating API call, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAudit {
    pub at: DateTime<Utc>,
    /// The token's name (never the token).
    pub token: String,
    pub scope: String,
    pub method: String,
    pub path: String,
    pub app: Option<String>,
    pub env: Option<String>,
    pub status: u16,
}

/// A recorded call with its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub call: NewAudit,
}

/// One environment secret: its name, how many times it was set, when, and the sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub app: String,
    pub env: String,
    pub name: String,
    pub version: i64,
    pub sealed: Vec<u8>,
    pub set_at: DateTime<Utc>,
}

/// A signed-in console browser, as kept across restarts: the hash of its session id, the hash
/// of the token it signed in with (never the token), the CSRF token its forms carry, and when it
/// started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    pub id_hash: String,
    pub token_hash: String,
    pub csrf: String,
    pub started_at: DateTime<Utc>,
}
