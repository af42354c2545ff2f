//! A user's write landing while a controller pass works from an older read of the environment.
//!
//! The store in front of the controllers lets the test slip a user's `sprout deploy` in just
//! before the controller's next write, every time at the same point, so the race is not left to
//! timing. Before environments carried a revision, the controller's write put the old version
//! back and the deploy was lost without a word.
#![allow(clippy::disallowed_methods)] // component tests still run on the system clock (see docs/architecture.md)

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sprout_store::{
    Application, EnvStatus, EnvironmentRecord, EventRecord, LifecyclePolicy, MemoryStore, NewEvent, Result, Store,
    TokenRecord, VersionImages, VersionRecord,
};

mod common;

/// A change another writer makes to an environment.
type Change = Box<dyn Fn(&mut EnvironmentRecord) + Send + Sync>;

/// SQLite, except that the next `update_environment` after `arm` first lets another writer
/// change the environment (a fresh read, its change, its write).
struct RacingStore {
    inner: MemoryStore,
    armed: Mutex<Option<Change>>,
    refused: Mutex<u32>,
}

impl RacingStore {
    fn arm(&self, change: Change) {
        *self.armed.lock().unwrap() = Some(change);
    }
}

/// Notifications pass straight through.
#[async_trait]
impl sprout_store::NotifyStore for RacingStore {
    async fn add_notify_target(&self, target: &sprout_store::NotifyTarget) -> Result<()> {
        self.inner.add_notify_target(target).await
    }
    async fn list_notify_targets(&self, app: Option<&str>) -> Result<Vec<sprout_store::NotifyTarget>> {
        self.inner.list_notify_targets(app).await
    }
    async fn remove_notify_target(&self, app: &str, id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        self.inner.remove_notify_target(app, id, at).await
    }
    async fn enqueue_deliveries(&self, deliveries: &[sprout_store::NewDelivery]) -> Result<()> {
        self.inner.enqueue_deliveries(deliveries).await
    }
    async fn pending_deliveries(&self, limit: u32) -> Result<Vec<sprout_store::DeliveryRecord>> {
        self.inner.pending_deliveries(limit).await
    }
    async fn record_delivery(&self, id: i64, attempt: &sprout_store::DeliveryAttempt) -> Result<()> {
        self.inner.record_delivery(id, attempt).await
    }
    async fn list_deliveries(&self, app: &str, limit: u32) -> Result<Vec<sprout_store::DeliveryRecord>> {
        self.inner.list_deliveries(app, limit).await
    }
    async fn get_alert_memory(&self, app: &str, env: &str) -> Result<Option<String>> {
        self.inner.get_alert_memory(app, env).await
    }
    async fn set_alert_memory(&self, app: &str, env: &str, state: Option<&str>) -> Result<()> {
        self.inner.set_alert_memory(app, env, state).await
    }
}

/// Periodic jobs' runs pass straight through.
#[async_trait]
impl sprout_store::CronStore for RacingStore {
    async fn list_cron_runs(&self, app: &str, env: &str) -> Result<Vec<sprout_store::CronRun>> {
        self.inner.list_cron_runs(app, env).await
    }
    async fn claim_cron_run(&self, run: &sprout_store::CronRun, only_if_new: bool) -> Result<bool> {
        self.inner.claim_cron_run(run, only_if_new).await
    }
    async fn update_cron_run(&self, run: &sprout_store::CronRun) -> Result<()> {
        self.inner.update_cron_run(run).await
    }
}

/// Measures pass straight through.
#[async_trait]
impl sprout_store::MeasureStore for RacingStore {
    async fn get_wake_time(&self, app: &str, env: &str) -> Result<Option<std::time::Duration>> {
        self.inner.get_wake_time(app, env).await
    }
    async fn set_wake_time(
        &self,
        app: &str,
        env: &str,
        wake: std::time::Duration,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.inner.set_wake_time(app, env, wake, at).await
    }
}

#[async_trait]
impl Store for RacingStore {
    async fn update_environment(&self, env: &mut EnvironmentRecord) -> Result<()> {
        let armed = self.armed.lock().unwrap().take();
        if let Some(change) = armed {
            sprout_store::change_environment(&self.inner, &env.app, &env.name, change).await?;
        }
        let result = self.inner.update_environment(env).await;
        if matches!(result, Err(sprout_store::StoreError::Stale { .. })) {
            *self.refused.lock().unwrap() += 1;
        }
        result
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.inner.list_tokens().await
    }
    async fn delete_token(&self, name: &str) -> Result<bool> {
        self.inner.delete_token(name).await
    }
    async fn touch_token(&self, name: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.inner.touch_token(name, at).await
    }
    async fn put_console_session(&self, session: &sprout_store::ConsoleSessionRecord) -> Result<()> {
        self.inner.put_console_session(session).await
    }
    async fn get_console_session(&self, id_hash: &str) -> Result<Option<sprout_store::ConsoleSessionRecord>> {
        self.inner.get_console_session(id_hash).await
    }
    async fn delete_console_sessions(&self, id_hash: &str, before: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.inner.delete_console_sessions(id_hash, before).await
    }
    async fn append_audit(&self, call: &sprout_store::NewAudit) -> Result<i64> {
        self.inner.append_audit(call).await
    }
    async fn list_audit(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        limit: u32,
    ) -> Result<Vec<sprout_store::AuditRecord>> {
        self.inner.list_audit(app, env, limit).await
    }
    async fn put_secret(
        &self,
        app: &str,
        env: &str,
        name: &str,
        sealed: &[u8],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64> {
        self.inner.put_secret(app, env, name, sealed, at).await
    }
    async fn list_secrets(&self, app: &str, env: &str) -> Result<Vec<sprout_store::SecretRecord>> {
        self.inner.list_secrets(app, env).await
    }
    async fn delete_secret(&self, app: &str, env: &str, name: &str) -> Result<bool> {
        self.inner.delete_secret(app, env, name).await
    }
    async fn put_certificate(&self, cert: &sprout_store::CertificateRecord) -> Result<()> {
        self.inner.put_certificate(cert).await
    }
    async fn list_certificates(&self) -> Result<Vec<sprout_store::CertificateRecord>> {
        self.inner.list_certificates().await
    }
    async fn delete_certificate(&self, id: &str) -> Result<bool> {
        self.inner.delete_certificate(id).await
    }
    async fn put_acme_record(&self, record: &sprout_store::AcmeRecord) -> Result<()> {
        self.inner.put_acme_record(record).await
    }
    async fn list_acme_records(&self) -> Result<Vec<sprout_store::AcmeRecord>> {
        self.inner.list_acme_records().await
    }
    async fn delete_acme_record(&self, key: &str) -> Result<bool> {
        self.inner.delete_acme_record(key).await
    }
    async fn backup(&self, path: &std::path::Path) -> Result<()> {
        self.inner.backup(path).await
    }
    async fn create_application(&self, app: &Application) -> Result<()> {
        self.inner.create_application(app).await
    }
    async fn get_application(&self, name: &str) -> Result<Application> {
        self.inner.get_application(name).await
    }
    async fn list_applications(&self) -> Result<Vec<Application>> {
        self.inner.list_applications().await
    }
    async fn create_version(&self, version: &VersionRecord) -> Result<()> {
        self.inner.create_version(version).await
    }
    async fn get_version(&self, app: &str, label: &str) -> Result<VersionRecord> {
        self.inner.get_version(app, label).await
    }
    async fn list_versions(&self, app: &str) -> Result<Vec<VersionRecord>> {
        self.inner.list_versions(app).await
    }
    async fn delete_version(&self, app: &str, label: &str) -> Result<()> {
        self.inner.delete_version(app, label).await
    }
    async fn set_version_images(&self, app: &str, label: &str, images: &VersionImages) -> Result<()> {
        self.inner.set_version_images(app, label, images).await
    }
    async fn get_version_images(&self, app: &str, label: &str) -> Result<Option<VersionImages>> {
        self.inner.get_version_images(app, label).await
    }
    async fn get_lifecycle(&self, app: &str) -> Result<LifecyclePolicy> {
        self.inner.get_lifecycle(app).await
    }
    async fn set_lifecycle(&self, app: &str, policy: &LifecyclePolicy) -> Result<()> {
        self.inner.set_lifecycle(app, policy).await
    }
    async fn get_host_access(&self, app: &str) -> Result<sprout_store::HostAccessPolicy> {
        self.inner.get_host_access(app).await
    }
    async fn set_host_access(&self, app: &str, policy: &sprout_store::HostAccessPolicy) -> Result<()> {
        self.inner.set_host_access(app, policy).await
    }
    async fn get_saved_configurations(&self, app: &str) -> Result<sprout_store::SavedConfigurations> {
        self.inner.get_saved_configurations(app).await
    }
    async fn set_saved_configurations(&self, app: &str, saved: &sprout_store::SavedConfigurations) -> Result<()> {
        self.inner.set_saved_configurations(app, saved).await
    }
    async fn create_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        self.inner.create_environment(env).await
    }
    async fn get_environment(&self, app: &str, name: &str) -> Result<EnvironmentRecord> {
        self.inner.get_environment(app, name).await
    }
    async fn list_environments(&self, app: Option<&str>) -> Result<Vec<EnvironmentRecord>> {
        self.inner.list_environments(app).await
    }
    async fn delete_environment(&self, app: &str, name: &str) -> Result<()> {
        self.inner.delete_environment(app, name).await
    }
    async fn append_event(&self, event: &NewEvent) -> Result<i64> {
        self.inner.append_event(event).await
    }
    async fn list_events(&self, app: &str, env: Option<&str>, after_id: i64, limit: u32) -> Result<Vec<EventRecord>> {
        self.inner.list_events(app, env, after_id, limit).await
    }
    async fn recent_events(&self, app: &str, env: Option<&str>, limit: u32) -> Result<Vec<EventRecord>> {
        self.inner.recent_events(app, env, limit).await
    }
    async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        self.inner.insert_token(token).await
    }
    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        self.inner.find_token(hash).await
    }
    async fn count_tokens(&self) -> Result<u64> {
        self.inner.count_tokens().await
    }
    async fn set_registry_credential(&self, c: &sprout_store::RegistryCredentialRecord) -> Result<()> {
        self.inner.set_registry_credential(c).await
    }
    async fn list_registry_credentials(&self) -> Result<Vec<sprout_store::RegistryCredentialRecord>> {
        self.inner.list_registry_credentials().await
    }
    async fn delete_registry_credentials(&self, host: &str, app: Option<&str>) -> Result<u64> {
        self.inner.delete_registry_credentials(host, app).await
    }
    async fn replace_registry_config(
        &self,
        source: &str,
        app: Option<&str>,
        credentials: &[sprout_store::RegistryCredentialRecord],
    ) -> Result<()> {
        self.inner.replace_registry_config(source, app, credentials).await
    }
    async fn note_registry_outcome(
        &self,
        key: &sprout_store::CredentialKey,
        at: chrono::DateTime<chrono::Utc>,
        outcome: &sprout_store::RegistryOutcome,
    ) -> Result<()> {
        self.inner.note_registry_outcome(key, at, outcome).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_deploy_written_during_a_controller_pass_is_not_undone() {
    let store = Arc::new(RacingStore { inner: MemoryStore::new(), armed: Mutex::new(None), refused: Mutex::new(0) });
    let h = common::harness_with(store.clone()).await;

    common::add_version(&h, "v1", "app:1").await;
    common::add_version(&h, "v2", "app:2").await;
    // The controller's first write is its "v1 is Ready" once both instances pass. Just before
    // it lands, the user deploys v2.
    let deadline = h.ctx.clock.now() + chrono::Duration::seconds(60);
    store.arm(Box::new(move |e| {
        e.version_label = "v2".into();
        e.status = EnvStatus::Updating;
        e.deploy_deadline = Some(deadline);
    }));
    common::create_env(&h, "v1", 2).await;

    common::until("v2 Ready on 2 instances", || common::ready(&h, "v2", 2)).await;
    assert_eq!(*store.refused.lock().unwrap(), 1, "the controller's write from before the deploy was refused once");
    let e = common::env(&h).await.unwrap();
    assert_eq!((e.version_label.as_str(), e.status), ("v2", EnvStatus::Ready), "the user's deploy stands");
    let events = h.ctx.store.recent_events("shop", Some("prod"), 100).await.unwrap();
    let ready: Vec<&str> = events.iter().filter(|e| e.kind == "EnvironmentReady").map(|e| e.message.as_str()).collect();
    assert!(ready.iter().all(|m| !m.contains("v1")), "a refused write announces nothing: {ready:?}");
    assert!(ready.iter().any(|m| m.contains("v2")), "{ready:?}");
}
