//! Notifications: environments' events and health, turned into alerts by the pure planner
//! (`sprout_plan::alerts`), queued in the store for every webhook that wants them, and sent by
//! one background task (`deliver`) that retries with back-off. Queueing is a store write and
//! never waits on a receiver, so a webhook that is down or slow holds up no controller.
//!
//! Each environment's alert memory (its open incidents) is kept in the store as well as here, so
//! a restarted server resolves what it alerted before it stopped.
//!
//! - `deliver`: the queue's sender: in order per webhook and environment, at least once.
//! - `render`: a notice as JSON or as a Slack-compatible message; signing.
//! - `hmac`: HMAC-SHA256.

pub mod deliver;
pub mod hmac;
pub mod render;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sprout_model::event::Event;
use sprout_plan::alerts::{self, AlertMemory, Class, HealthView, Notice, Severity};
use sprout_plan::snapshot::EnvSnapshot;
use sprout_store::{NewDelivery, NotifyTarget};
use tokio::sync::Notify;

use crate::context::{Ctx, EnvKey};

/// One environment's memory: loaded from the store on first use.
type Slot = Arc<tokio::sync::Mutex<Option<AlertMemory>>>;

/// The notifier the server's context carries: alert memories and the sender's wake-up.
#[derive(Default)]
pub struct Notifier {
    memories: Mutex<HashMap<EnvKey, Slot>>,
    /// Woken when deliveries are queued.
    pub wake: Notify,
}

impl Notifier {
    fn slot(&self, app: &str, env: &str) -> Slot {
        self.memories.lock().unwrap().entry(EnvKey::new(app, env)).or_default().clone()
    }
}

/// What a webhook's secret is sealed with: the webhook it belongs to.
pub fn seal_context(id: &str, app: &str) -> String {
    format!("sprout webhook secret\n{app}\n{id}")
}

/// Seal a webhook secret with the server's key (the one registry credentials use).
pub fn seal_secret(ctx: &Ctx, id: &str, app: &str, secret: &SecretString) -> Vec<u8> {
    ctx.registries.key.seal(secret, &seal_context(id, app))
}

/// An event of `app`/`env` was recorded: alerts and info it makes are queued.
pub async fn on_event(ctx: &Ctx, app: &str, env: &str, event: &Event) {
    let class = alerts::classify(event);
    if class == Class::Quiet {
        return;
    }
    // Trouble during a deploy is the deploy's incident (one read, for signals only: rare).
    let deploying = matches!(class, Class::Signal { .. })
        && ctx.store.get_environment(app, env).await.is_ok_and(|e| e.status == sprout_store::EnvStatus::Updating);
    let now = ctx.clock.now();
    let notices = with_memory(ctx, app, env, |mem| alerts::on_event(mem, event, deploying, now)).await;
    queue(ctx, app, env, &notices, now).await;
}

/// The environment's pass judged its health (`deploying`: a deploy is in progress): held alerts
/// go out, incidents resolve.
pub async fn on_health(ctx: &Ctx, app: &str, env: &str, snapshot: &EnvSnapshot, deploying: bool) {
    let view = HealthView {
        status: snapshot.status,
        deploying,
        causes: snapshot.causes.clone(),
        instances: snapshot.instances.len(),
        in_service: snapshot.instances.iter().filter(|i| i.in_service).count(),
    };
    let now = ctx.clock.now();
    let notices = with_memory(ctx, app, env, |mem| alerts::on_health(mem, &view, now)).await;
    queue(ctx, app, env, &notices, now).await;
}

/// The environment is gone: what it alerted is resolved, and its memory forgotten.
pub async fn forget(ctx: &Ctx, app: &str, env: &str) {
    let now = ctx.clock.now();
    let notices = with_memory(ctx, app, env, |mem| alerts::close_all(mem, now)).await;
    queue(ctx, app, env, &notices, now).await;
    ctx.notifier.memories.lock().unwrap().remove(&EnvKey::new(app, env));
}

/// Runs `f` on the environment's memory (loaded once from the store), storing it when changed.
async fn with_memory(ctx: &Ctx, app: &str, env: &str, f: impl FnOnce(&mut AlertMemory) -> Vec<Notice>) -> Vec<Notice> {
    let slot = ctx.notifier.slot(app, env);
    let mut guard = slot.lock().await;
    if guard.is_none() {
        let loaded = match ctx.store.get_alert_memory(app, env).await {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(app, env, "the stored alert memory does not parse, starting afresh: {e}");
                AlertMemory::default()
            }),
            Ok(None) => AlertMemory::default(),
            Err(e) => {
                // Not remembered: the next call reads again.
                tracing::warn!(app, env, "cannot read the alert memory: {e}");
                return Vec::new();
            }
        };
        *guard = Some(loaded);
    }
    let mem = guard.as_mut().expect("loaded above");
    let before = mem.clone();
    let notices = f(mem);
    if *mem != before {
        let state =
            if mem.incidents.is_empty() { None } else { Some(serde_json::to_string(&*mem).unwrap_or_default()) };
        if let Err(e) = ctx.store.set_alert_memory(app, env, state.as_deref()).await {
            tracing::warn!(app, env, "could not store the alert memory: {e}");
        }
    }
    notices
}

/// Does `target` want notices of `env` at `severity`?
pub fn wants(target: &NotifyTarget, env: &str, severity: Severity) -> bool {
    target.env.as_deref().is_none_or(|e| e == env) && (severity.is_alert() || target.events == "all")
}

/// Queue `notices` for every webhook of `app` that wants them, and wake the sender.
async fn queue(ctx: &Ctx, app: &str, env: &str, notices: &[Notice], now: DateTime<Utc>) {
    if notices.is_empty() {
        return;
    }
    let targets = match ctx.store.list_notify_targets(Some(app)).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(app, env, "cannot read the webhooks, {} notice(s) not queued: {e}", notices.len());
            return;
        }
    };
    let mut rows = Vec::new();
    for n in notices {
        tracing::info!(app, env, severity = n.severity.as_str(), "notice: {}", n.message);
        for t in targets.iter().filter(|t| wants(t, env, n.severity)) {
            rows.push(NewDelivery {
                target_id: t.id.clone(),
                app: app.to_string(),
                env: env.to_string(),
                created_at: now,
                severity: n.severity.as_str().to_string(),
                body: serde_json::to_string(n).unwrap_or_default(),
            });
        }
    }
    if rows.is_empty() {
        return;
    }
    if let Err(e) = ctx.store.enqueue_deliveries(&rows).await {
        tracing::warn!(app, env, "could not queue {} notification(s): {e}", rows.len());
    }
    ctx.notifier.wake.notify_one();
}

/// Queue a test notice for one webhook; the delivery's id.
pub async fn queue_test(ctx: &Ctx, target: &NotifyTarget) -> Result<i64, sprout_store::StoreError> {
    let now = ctx.clock.now();
    let notice = Notice {
        severity: Severity::Info,
        incident: None,
        kind: "test".into(),
        message: format!("Test notification from Sprout for application {} (webhook {})", target.app, target.id),
        at: now,
        count: 1,
    };
    let env = target.env.clone().unwrap_or_default();
    let row = NewDelivery {
        target_id: target.id.clone(),
        app: target.app.clone(),
        env,
        created_at: now,
        severity: notice.severity.as_str().to_string(),
        body: serde_json::to_string(&notice).unwrap_or_default(),
    };
    ctx.store.enqueue_deliveries(std::slice::from_ref(&row)).await?;
    ctx.notifier.wake.notify_one();
    let latest = ctx.store.list_deliveries(&target.app, 20).await?;
    Ok(latest.iter().find(|d| d.target_id == target.id && d.body == row.body).map_or(0, |d| d.id))
}
