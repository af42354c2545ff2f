//! Notifications over the API (`/api/v1/apps/{app}/notify`): webhooks (add, list, remove,
//! test) and the log of deliveries. A webhook's secret travels only in the add request; no
//! response carries it, only whether one is set.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /apps/{app}/notify`.
#[derive(Clone, Serialize, Deserialize)]
pub struct NewWebhook {
    /// None: every environment of the application.
    #[serde(default)]
    pub env: Option<String>,
    pub url: String,
    /// `json` (default) or `slack`.
    #[serde(default)]
    pub format: Option<String>,
    /// `alerts` (default) or `all`.
    #[serde(default)]
    pub events: Option<String>,
    /// Signs every body with HMAC-SHA256 when set.
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("env", &self.env)
            .field("url", &self.url)
            .field("format", &self.format)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A webhook as shown: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: String,
    pub app: String,
    /// None: every environment.
    pub env: Option<String>,
    pub url: String,
    pub format: String,
    pub events: String,
    pub signed: bool,
    pub created_at: DateTime<Utc>,
}

/// One delivery, for `sprout notify log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub webhook: String,
    pub env: String,
    pub severity: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// Pending: when it is tried next; else when it was last tried.
    pub next_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// `POST /apps/{app}/notify/{id}/test`: the delivery queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestQueued {
    pub delivery: i64,
}
