//! Notifications as the store keeps them: webhook targets per application (or one of its
//! environments), the queue of deliveries to them, and the alert planner's memory of each
//! environment's open incidents (JSON, opaque here). A target's HMAC secret is sealed by the
//! server before it reaches the store.
//!
//! Plain data. Not here: which events alert (`sprout_plan::alerts`), sending
//! (`sprout_server::notify`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;

/// One webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// `n-` and 8 hex digits.
    pub id: String,
    pub app: String,
    /// None: every environment of the application.
    pub env: Option<String>,
    pub url: String,
    /// `json` or `slack`.
    pub format: String,
    /// `alerts` or `all`.
    pub events: String,
    /// The HMAC secret, sealed by the server; None when the target signs nothing.
    pub sealed_secret: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Given up after its retries (or its target was removed).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}

/// A notification to queue for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub target_id: String,
    pub app: String,
    pub env: String,
    pub created_at: DateTime<Utc>,
    pub severity: String,
    /// The notice as JSON.
    pub body: String,
}

/// One queued (or sent, or abandoned) delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Queue order.
    pub id: i64,
    pub target_id: String,
    pub app: String,
    pub env: String,
    pub created_at: DateTime<Utc>,
    pub severity: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When it may be tried next (pending), or was last tried.
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub done_at: Option<DateTime<Utc>>,
}

/// The outcome of one attempt, for `Store::record_delivery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
}

/// The store's notification tables; every `Store` is one.
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Adds a webhook (`Conflict` if its id exists).
    async fn add_notify_target(&self, target: &NotifyTarget) -> Result<()>;
    /// The webhooks of one application (or of all), oldest first.
    async fn list_notify_targets(&self, app: Option<&str>) -> Result<Vec<NotifyTarget>>;
    /// Removes a webhook of `app` and marks its pending deliveries failed; false if none had
    /// that id.
    async fn remove_notify_target(&self, app: &str, id: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Queues deliveries, in the order given, in one transaction.
    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()>;
    /// Pending deliveries in queue order, at most `limit`.
    async fn pending_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// Records how an attempt at delivery `id` went.
    async fn record_delivery(&self, id: i64, attempt: &DeliveryAttempt) -> Result<()>;
    /// The latest deliveries of `app`, newest first, at most `limit`.
    async fn list_deliveries(&self, app: &str, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// The alert planner's memory of one environment (JSON), if it has any.
    async fn get_alert_memory(&self, app: &str, env: &str) -> Result<Option<String>>;
    /// Replaces it; None forgets it.
    async fn set_alert_memory(&self, app: &str, env: &str, state: Option<&str>) -> Result<()>;
}
