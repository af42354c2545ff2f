//! `MemoryStore`: the `Store` kept in process memory, for component tests that run on tokio's
//! paused time (SQLite's pool has timers of its own, which paused time fires at once). It passes
//! the same suite as SQLite (`tests/store.rs`), so it behaves as the real store does: names
//! conflict, versions and environments need their application, environment writes are
//! compare-and-set on the revision, events are numbered and outlive their environment.
//!
//! Not for `sprout server`: nothing is persisted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::certs::{AcmeRecord, CertificateRecord};

use crate::{
    Application, AuditRecord, CredentialKey, EnvironmentRecord, EventRecord, HostAccessPolicy, LifecyclePolicy,
    NewAudit, NewEvent, RegistryCredentialRecord, RegistryOutcome, Result, SecretRecord, Store, StoreError,
    TokenRecord, VersionImages, VersionRecord,
};

#[derive(Default)]
struct Data {
    applications: BTreeMap<String, (Application, Option<LifecyclePolicy>, HostAccessPolicy)>,
    /// By (app, label), with the order of insertion to break ties in `created_at`.
    versions: BTreeMap<(String, String), (VersionRecord, Option<VersionImages>, u64)>,
    environments: BTreeMap<(String, String), EnvironmentRecord>,
    events: Vec<EventRecord>,
    tokens: BTreeMap<String, TokenRecord>,
    console_sessions: BTreeMap<String, crate::ConsoleSessionRecord>,
    /// Ordered as SQLite lists them: host, scope (none first), source (none first).
    credentials: BTreeMap<CredentialKey, RegistryCredentialRecord>,
    notify_targets: Vec<crate::NotifyTarget>,
    /// In queue order; a delivery's id is its position plus one.
    deliveries: Vec<crate::DeliveryRecord>,
    alert_memory: BTreeMap<(String, String), String>,
    /// Saved configurations by application.
    saved: BTreeMap<String, crate::SavedConfigurations>,
    inserted: u64,
    audit: Vec<AuditRecord>,
    /// By (app, env, name).
    secrets: BTreeMap<(String, String, String), SecretRecord>,
    certificates: BTreeMap<String, CertificateRecord>,
    acme: BTreeMap<String, AcmeRecord>,
    /// Periodic jobs' runs by (app, env, job).
    cron_runs: BTreeMap<(String, String, String), crate::CronRun>,
    /// Last measured wakes by (app, env).
    wake_times: BTreeMap<(String, String), std::time::Duration>,
}

mod access;
mod measures;

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore(Mutex<Data>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Data) -> Result<T>) -> Result<T> {
        f(&mut self.0.lock().unwrap())
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

fn not_found(kind: &'static str, name: String) -> StoreError {
    StoreError::NotFound { kind, name }
}

impl Data {
    fn need_app(&self, app: &str) -> Result<()> {
        match self.applications.contains_key(app) {
            true => Ok(()),
            false => Err(not_found("application", app.to_string())),
        }
    }

    fn events_of<'a>(&'a self, app: &'a str, env: Option<&'a str>) -> impl Iterator<Item = &'a EventRecord> + 'a {
        self.events.iter().filter(move |e| e.app == app && env.is_none_or(|env| e.env.as_deref() == Some(env)))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_application(&self, app: &Application) -> Result<()> {
        self.with(|d| {
            if d.applications.contains_key(&app.name) {
                return Err(StoreError::Conflict { kind: "application", name: app.name.clone() });
            }
            d.applications.insert(app.name.clone(), (app.clone(), None, HostAccessPolicy::default()));
            Ok(())
        })
    }

    async fn get_application(&self, name: &str) -> Result<Application> {
        self.with(|d| {
            d.applications.get(name).map(|(a, ..)| a.clone()).ok_or_else(|| not_found("application", name.into()))
        })
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        self.with(|d| Ok(d.applications.values().map(|(a, ..)| a.clone()).collect()))
    }

    async fn create_version(&self, version: &VersionRecord) -> Result<()> {
        self.with(|d| {
            let k = key(&version.app, &version.label);
            if d.versions.contains_key(&k) {
                return Err(StoreError::Conflict {
                    kind: "version",
                    name: format!("{}/{}", version.app, version.label),
                });
            }
            d.need_app(&version.app)?;
            d.inserted += 1;
            d.versions.insert(k, (version.clone(), None, d.inserted));
            Ok(())
        })
    }

    async fn get_version(&self, app: &str, label: &str) -> Result<VersionRecord> {
        self.with(|d| {
            d.versions
                .get(&key(app, label))
                .map(|v| v.0.clone())
                .ok_or_else(|| not_found("version", format!("{app}/{label}")))
        })
    }

    async fn list_versions(&self, app: &str) -> Result<Vec<VersionRecord>> {
        self.with(|d| {
            let mut list: Vec<_> = d.versions.values().filter(|v| v.0.app == app).collect();
            // Newest first, later insertions first among equal times (as SQLite's rowid).
            list.sort_by_key(|v| std::cmp::Reverse((v.0.created_at, v.2)));
            Ok(list.into_iter().map(|v| v.0.clone()).collect())
        })
    }

    async fn delete_version(&self, app: &str, label: &str) -> Result<()> {
        self.with(|d| {
            d.versions
                .remove(&key(app, label))
                .map(|_| ())
                .ok_or_else(|| not_found("version", format!("{app}/{label}")))
        })
    }

    async fn set_version_images(&self, app: &str, label: &str, images: &VersionImages) -> Result<()> {
        self.with(|d| {
            let v =
                d.versions.get_mut(&key(app, label)).ok_or_else(|| not_found("version", format!("{app}/{label}")))?;
            v.1 = Some(images.clone());
            Ok(())
        })
    }

    async fn get_version_images(&self, app: &str, label: &str) -> Result<Option<VersionImages>> {
        self.with(|d| {
            d.versions
                .get(&key(app, label))
                .map(|v| v.1.clone())
                .ok_or_else(|| not_found("version", format!("{app}/{label}")))
        })
    }

    async fn get_lifecycle(&self, app: &str) -> Result<LifecyclePolicy> {
        self.with(|d| {
            d.applications
                .get(app)
                .map(|(_, p, _)| p.unwrap_or_default())
                .ok_or_else(|| not_found("application", app.into()))
        })
    }

    async fn set_lifecycle(&self, app: &str, policy: &LifecyclePolicy) -> Result<()> {
        self.with(|d| {
            let a = d.applications.get_mut(app).ok_or_else(|| not_found("application", app.into()))?;
            a.1 = Some(*policy);
            Ok(())
        })
    }

    async fn get_host_access(&self, app: &str) -> Result<HostAccessPolicy> {
        self.with(|d| d.applications.get(app).map(|a| a.2.clone()).ok_or_else(|| not_found("application", app.into())))
    }

    async fn set_host_access(&self, app: &str, policy: &HostAccessPolicy) -> Result<()> {
        self.with(|d| {
            let a = d.applications.get_mut(app).ok_or_else(|| not_found("application", app.into()))?;
            a.2 = policy.clone();
            Ok(())
        })
    }

    async fn get_saved_configurations(&self, app: &str) -> Result<crate::SavedConfigurations> {
        self.with(|d| {
            d.need_app(app)?;
            Ok(d.saved.get(app).cloned().unwrap_or_default())
        })
    }

    async fn set_saved_configurations(&self, app: &str, saved: &crate::SavedConfigurations) -> Result<()> {
        self.with(|d| {
            d.need_app(app)?;
            d.saved.insert(app.to_string(), saved.clone());
            Ok(())
        })
    }

    async fn create_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        self.with(|d| {
            let k = key(&env.app, &env.name);
            if d.environments.contains_key(&k) {
                return Err(StoreError::Conflict { kind: "environment", name: format!("{}/{}", env.app, env.name) });
            }
            d.need_app(&env.app)?;
            d.environments.insert(k, EnvironmentRecord { revision: 0, ..env.clone() });
            Ok(())
        })
    }

    async fn get_environment(&self, app: &str, name: &str) -> Result<EnvironmentRecord> {
        self.with(|d| {
            d.environments
                .get(&key(app, name))
                .cloned()
                .ok_or_else(|| not_found("environment", format!("{app}/{name}")))
        })
    }

    async fn list_environments(&self, app: Option<&str>) -> Result<Vec<EnvironmentRecord>> {
        self.with(|d| Ok(d.environments.values().filter(|e| app.is_none_or(|a| e.app == a)).cloned().collect()))
    }

    async fn update_environment(&self, env: &mut EnvironmentRecord) -> Result<()> {
        self.with(|d| {
            let name = format!("{}/{}", env.app, env.name);
            let stored = d
                .environments
                .get_mut(&key(&env.app, &env.name))
                .ok_or_else(|| not_found("environment", name.clone()))?;
            if stored.revision != env.revision {
                return Err(StoreError::Stale { kind: "environment", name });
            }
            env.revision += 1;
            // What a row keeps: everything but the creation time, which no update changes.
            *stored = EnvironmentRecord { created_at: stored.created_at, ..env.clone() };
            Ok(())
        })
    }

    async fn delete_environment(&self, app: &str, name: &str) -> Result<()> {
        // Its events stay: they are the environment's history.
        self.with(|d| {
            d.secrets.retain(|(a, e, _), _| !(a == app && e == name));
            d.wake_times.remove(&key(app, name));
            d.environments
                .remove(&key(app, name))
                .map(|_| ())
                .ok_or_else(|| not_found("environment", format!("{app}/{name}")))
        })
    }

    async fn append_event(&self, event: &NewEvent) -> Result<i64> {
        self.with(|d| {
            let id = d.events.len() as i64 + 1;
            d.events.push(EventRecord {
                id,
                app: event.app.clone(),
                env: event.env.clone(),
                at: event.at,
                level: event.level,
                kind: event.kind.clone(),
                message: event.message.clone(),
            });
            Ok(id)
        })
    }

    async fn list_events(&self, app: &str, env: Option<&str>, after_id: i64, limit: u32) -> Result<Vec<EventRecord>> {
        self.with(|d| Ok(d.events_of(app, env).filter(|e| e.id > after_id).take(limit as usize).cloned().collect()))
    }

    async fn recent_events(&self, app: &str, env: Option<&str>, limit: u32) -> Result<Vec<EventRecord>> {
        self.with(|d| {
            let all: Vec<&EventRecord> = d.events_of(app, env).collect();
            Ok(all[all.len().saturating_sub(limit as usize)..].iter().map(|e| (*e).clone()).collect())
        })
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        self.with(|d| {
            if d.tokens.contains_key(&token.hash) || d.tokens.values().any(|t| t.name == token.name) {
                // Named by its name: the hash identifies a credential and should not reach logs.
                return Err(StoreError::Conflict { kind: "token", name: token.name.clone() });
            }
            d.tokens.insert(token.hash.clone(), token.clone());
            Ok(())
        })
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        self.with(|d| Ok(d.tokens.get(hash).cloned()))
    }

    async fn count_tokens(&self) -> Result<u64> {
        self.with(|d| Ok(d.tokens.len() as u64))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.with(|d| Ok(d.list_tokens()))
    }

    async fn delete_token(&self, name: &str) -> Result<bool> {
        self.with(|d| Ok(d.delete_token(name)))
    }

    async fn touch_token(&self, name: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.with(|d| {
            d.touch_token(name, at);
            Ok(())
        })
    }

    async fn put_console_session(&self, session: &crate::ConsoleSessionRecord) -> Result<()> {
        self.with(|d| {
            d.console_sessions.insert(session.id_hash.clone(), session.clone());
            Ok(())
        })
    }

    async fn get_console_session(&self, id_hash: &str) -> Result<Option<crate::ConsoleSessionRecord>> {
        self.with(|d| Ok(d.console_sessions.get(id_hash).cloned()))
    }

    async fn delete_console_sessions(&self, id_hash: &str, before: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.with(|d| {
            d.console_sessions.retain(|k, s| k != id_hash && s.started_at >= before);
            Ok(())
        })
    }

    async fn append_audit(&self, call: &NewAudit) -> Result<i64> {
        self.with(|d| Ok(d.append_audit(call)))
    }

    async fn list_audit(&self, app: Option<&str>, env: Option<&str>, limit: u32) -> Result<Vec<AuditRecord>> {
        self.with(|d| Ok(d.list_audit(app, env, limit)))
    }

    async fn put_secret(
        &self,
        app: &str,
        env: &str,
        name: &str,
        sealed: &[u8],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64> {
        self.with(|d| Ok(d.put_secret((app, env, name), sealed, at)))
    }

    async fn backup(&self, path: &std::path::Path) -> Result<()> {
        Err(StoreError::Corrupt {
            what: format!("a backup to {}", path.display()),
            message: "the in-memory store keeps nothing to back up".into(),
        })
    }

    async fn put_certificate(&self, cert: &CertificateRecord) -> Result<()> {
        self.with(|d| {
            d.certificates.insert(cert.id.clone(), cert.clone());
            Ok(())
        })
    }

    async fn list_certificates(&self) -> Result<Vec<CertificateRecord>> {
        self.with(|d| Ok(d.certificates.values().cloned().collect()))
    }

    async fn delete_certificate(&self, id: &str) -> Result<bool> {
        self.with(|d| Ok(d.certificates.remove(id).is_some()))
    }

    async fn put_acme_record(&self, record: &AcmeRecord) -> Result<()> {
        self.with(|d| {
            d.acme.insert(record.key.clone(), record.clone());
            Ok(())
        })
    }

    async fn list_acme_records(&self) -> Result<Vec<AcmeRecord>> {
        self.with(|d| Ok(d.acme.values().cloned().collect()))
    }

    async fn delete_acme_record(&self, key: &str) -> Result<bool> {
        self.with(|d| Ok(d.acme.remove(key).is_some()))
    }

    async fn list_secrets(&self, app: &str, env: &str) -> Result<Vec<SecretRecord>> {
        self.with(|d| Ok(d.list_secrets(app, env)))
    }

    async fn delete_secret(&self, app: &str, env: &str, name: &str) -> Result<bool> {
        self.with(|d| Ok(d.secrets.remove(&(app.to_string(), env.to_string(), name.to_string())).is_some()))
    }

    async fn set_registry_credential(&self, credential: &RegistryCredentialRecord) -> Result<()> {
        self.with(|d| {
            d.credentials.insert(credential.key.clone(), fresh(credential));
            Ok(())
        })
    }

    async fn list_registry_credentials(&self) -> Result<Vec<RegistryCredentialRecord>> {
        self.with(|d| Ok(d.credentials.values().cloned().collect()))
    }

    async fn delete_registry_credentials(&self, host: &str, app: Option<&str>) -> Result<u64> {
        self.with(|d| {
            let before = d.credentials.len();
            d.credentials.retain(|k, _| !(k.host == host && k.app.as_deref() == app));
            Ok((before - d.credentials.len()) as u64)
        })
    }

    async fn replace_registry_config(
        &self,
        source: &str,
        app: Option<&str>,
        credentials: &[RegistryCredentialRecord],
    ) -> Result<()> {
        self.with(|d| {
            if let Some(c) =
                credentials.iter().find(|c| c.key.source.as_deref() != Some(source) || c.key.app.as_deref() != app)
            {
                return Err(StoreError::Corrupt {
                    what: format!("imported registry config {source}"),
                    message: format!("its entry for {} names another source or scope", c.key.host),
                });
            }
            d.credentials.retain(|k, _| !(k.source.as_deref() == Some(source) && k.app.as_deref() == app));
            for c in credentials {
                d.credentials.insert(c.key.clone(), fresh(c));
            }
            Ok(())
        })
    }

    async fn note_registry_outcome(
        &self,
        key: &CredentialKey,
        at: chrono::DateTime<chrono::Utc>,
        outcome: &RegistryOutcome,
    ) -> Result<()> {
        self.with(|d| {
            if let Some(c) = d.credentials.get_mut(key) {
                match outcome {
                    RegistryOutcome::Accepted => c.last_success = Some(at),
                    RegistryOutcome::Refused(message) => {
                        c.last_failure = Some(at);
                        c.last_failure_message = Some(message.clone());
                    }
                }
            }
            Ok(())
        })
    }
}

/// Notifications, as `sqlite::notify` keeps them.
#[async_trait]
impl crate::NotifyStore for MemoryStore {
    async fn add_notify_target(&self, target: &crate::NotifyTarget) -> Result<()> {
        self.with(|d| {
            if d.notify_targets.iter().any(|t| t.id == target.id) {
                return Err(StoreError::Conflict { kind: "webhook", name: target.id.clone() });
            }
            d.notify_targets.push(target.clone());
            Ok(())
        })
    }
    async fn list_notify_targets(&self, app: Option<&str>) -> Result<Vec<crate::NotifyTarget>> {
        self.with(|d| {
            let mut v: Vec<_> = d.notify_targets.iter().filter(|t| app.is_none_or(|a| t.app == a)).cloned().collect();
            v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(v)
        })
    }
    async fn remove_notify_target(&self, app: &str, id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        self.with(|d| {
            let before = d.notify_targets.len();
            d.notify_targets.retain(|t| !(t.app == app && t.id == id));
            for r in d.deliveries.iter_mut().filter(|r| r.target_id == id && r.status == crate::DeliveryStatus::Pending)
            {
                r.status = crate::DeliveryStatus::Failed;
                r.last_error = Some("the webhook was removed".into());
                r.done_at = Some(at);
            }
            Ok(d.notify_targets.len() < before)
        })
    }
    async fn enqueue_deliveries(&self, deliveries: &[crate::NewDelivery]) -> Result<()> {
        self.with(|d| {
            for n in deliveries {
                let id = d.deliveries.len() as i64 + 1;
                d.deliveries.push(crate::DeliveryRecord {
                    id,
                    target_id: n.target_id.clone(),
                    app: n.app.clone(),
                    env: n.env.clone(),
                    created_at: n.created_at,
                    severity: n.severity.clone(),
                    body: n.body.clone(),
                    status: crate::DeliveryStatus::Pending,
                    attempts: 0,
                    next_at: n.created_at,
                    last_error: None,
                    done_at: None,
                });
            }
            Ok(())
        })
    }
    async fn pending_deliveries(&self, limit: u32) -> Result<Vec<crate::DeliveryRecord>> {
        self.with(|d| {
            let pending = d.deliveries.iter().filter(|r| r.status == crate::DeliveryStatus::Pending);
            Ok(pending.take(limit as usize).cloned().collect())
        })
    }
    async fn record_delivery(&self, id: i64, a: &crate::DeliveryAttempt) -> Result<()> {
        self.with(|d| {
            if let Some(r) = d.deliveries.iter_mut().find(|r| r.id == id) {
                r.status = a.status;
                r.attempts = a.attempts;
                r.next_at = a.next_at;
                r.last_error = a.last_error.clone();
                r.done_at = a.done_at;
            }
            Ok(())
        })
    }
    async fn list_deliveries(&self, app: &str, limit: u32) -> Result<Vec<crate::DeliveryRecord>> {
        self.with(|d| Ok(d.deliveries.iter().rev().filter(|r| r.app == app).take(limit as usize).cloned().collect()))
    }
    async fn get_alert_memory(&self, app: &str, env: &str) -> Result<Option<String>> {
        self.with(|d| Ok(d.alert_memory.get(&key(app, env)).cloned()))
    }
    async fn set_alert_memory(&self, app: &str, env: &str, state: Option<&str>) -> Result<()> {
        self.with(|d| {
            match state {
                Some(s) => d.alert_memory.insert(key(app, env), s.to_string()),
                None => d.alert_memory.remove(&key(app, env)),
            };
            Ok(())
        })
    }
}

/// A credential as stored anew: a new secret has no outcomes yet.
fn fresh(c: &RegistryCredentialRecord) -> RegistryCredentialRecord {
    RegistryCredentialRecord { last_success: None, last_failure: None, last_failure_message: None, ..c.clone() }
}

#[async_trait]
impl crate::CronStore for MemoryStore {
    async fn list_cron_runs(&self, app: &str, env: &str) -> Result<Vec<crate::CronRun>> {
        self.with(|d| Ok(d.cron_runs.values().filter(|r| r.app == app && r.env == env).cloned().collect()))
    }
    async fn claim_cron_run(&self, run: &crate::CronRun, only_if_new: bool) -> Result<bool> {
        self.with(|d| {
            let k = (run.app.clone(), run.env.clone(), run.job.clone());
            let free = match d.cron_runs.get(&k) {
                None => true,
                Some(old) => !only_if_new && old.instant < run.instant,
            };
            if free {
                d.cron_runs.insert(k, run.clone());
            }
            Ok(free)
        })
    }
    async fn update_cron_run(&self, run: &crate::CronRun) -> Result<()> {
        self.with(|d| {
            let k = (run.app.clone(), run.env.clone(), run.job.clone());
            if let Some(old) = d.cron_runs.get_mut(&k).filter(|o| o.instant == run.instant) {
                *old = run.clone();
            }
            Ok(())
        })
    }
}
