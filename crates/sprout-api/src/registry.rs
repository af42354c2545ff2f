//! Registry credentials over the API (`/api/v1/registries`): logging in, out, importing a Docker
//! config, and the list. A secret travels only in a login or import request, over the API's
//! token-protected connection; no response ever carries one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /registries/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub host: String,
    pub username: String,
    pub password: String,
    /// Only this application's pulls use it; None: every application's.
    #[serde(default)]
    pub app: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("app", &self.app)
            .finish()
    }
}

/// `POST /registries/logout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutRequest {
    pub host: String,
    #[serde(default)]
    pub app: Option<String>,
}

/// `POST /registries/import`: a Docker `config.json` or `.dockercfg`, stored under `name`
/// (what a Dockerrun `authentication.key` names).
#[derive(Clone, Serialize, Deserialize)]
pub struct ImportRequest {
    pub name: String,
    pub config: serde_json::Value,
    #[serde(default)]
    pub app: Option<String>,
}

/// One stored credential, as `sprout registry list` shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialView {
    pub host: String,
    pub username: String,
    /// The application it is limited to; None: every application.
    pub app: Option<String>,
    /// The imported config it came from; None: `sprout registry login`.
    pub config: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_failure_message: Option<String>,
    /// Set while the registry's circuit holds calls with it back: why, and the next try.
    pub held: Option<String>,
}

/// What a logout or import changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryChange {
    pub hosts: Vec<String>,
    pub removed: u64,
}
