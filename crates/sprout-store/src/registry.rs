//! Registry credentials as the store keeps them: per registry host, for every application or
//! one, from `sprout registry login` or from an imported Docker config. The secret is sealed
//! (encrypted and authenticated) by the server before it reaches the store; the store never sees
//! it in the clear and has no key to open it.
//!
//! Plain data. Not here: sealing (`sprout_server::secrets`) nor choosing the credential for an
//! image (`sprout_server::registry`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which credential: the registry host, the application it is limited to (None: every
/// application) and where it came from (None: `sprout registry login`; Some(NAME): the imported
/// config NAME, which a Dockerrun `authentication.key` names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CredentialKey {
    pub host: String,
    pub app: Option<String>,
    pub source: Option<String>,
}

/// One stored registry credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCredentialRecord {
    pub key: CredentialKey,
    pub username: String,
    /// The password, sealed by the server (nonce and ciphertext); opaque to the store.
    pub sealed_secret: Vec<u8>,
    pub updated_at: DateTime<Utc>,
    /// The last time a registry accepted it, and the last time one refused it (with why).
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_failure_message: Option<String>,
}

/// How a use of a credential went, for `Store::note_registry_outcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryOutcome {
    Accepted,
    Refused(String),
}
