//! `SqliteStore`: the embedded default `Store`, one SQLite file in the data directory.
//!
//! Opening runs the migrations embedded from `migrations/`. Not here: what the records mean,
//! and row decoding (see `rows`).

mod access;
mod cache;
mod cron;
mod environments;
mod lifecycle;
mod measures;
mod notify;
mod registry;
mod rows;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use crate::certs::{AcmeRecord, CertificateRecord};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{
    Application, AuditRecord, CredentialKey, EnvironmentRecord, EventRecord, LifecyclePolicy, NewAudit, NewEvent,
    RegistryCredentialRecord, RegistryOutcome, Result, SecretRecord, Store, StoreError, TokenRecord, VersionImages,
    VersionRecord,
};

/// How long a statement waits for another connection's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store over a pool of SQLite connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Environments by (app, name), kept between reads (`cache`).
    environments: std::sync::Arc<cache::ReadCache<(String, String), EnvironmentRecord>>,
    /// Each environment's secrets by (app, env).
    secrets: std::sync::Arc<cache::ReadCache<(String, String), Vec<SecretRecord>>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database file at `path` and brings its schema up to
    /// date. The directory must exist.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets the API read while a controller writes. With WAL, NORMAL keeps the file
            // consistent through a power loss (only the last commits may roll back) without an
            // fsync per event appended.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // A connection not handed out within the busy bound fails like a lock would: the API
        // answers 503 instead of holding the request for sqlx's default 30 s.
        let pool = SqlitePoolOptions::new()
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { location: path.display().to_string(), source })?;
        Self::migrated(pool).await
    }

    /// A fresh, empty database in memory, for tests. It lives as long as the store.
    pub async fn open_in_memory() -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        // Each connection to ":memory:" is a separate database, and closing the last one drops
        // it: keep exactly one connection, forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { location: ":memory:".to_string(), source })?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<SqliteStore> {
        sqlx::migrate!().run(&pool).await?;
        Ok(SqliteStore { pool, environments: Default::default(), secrets: Default::default() })
    }

    /// Closes every connection, waiting for statements in flight; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Classifies a failed insert of the `kind` record `name`: a duplicate key is a `Conflict`; a
/// foreign key violation means the owning application `app` does not exist.
fn insert_error(err: sqlx::Error, kind: &'static str, name: String, app: Option<&str>) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Conflict { kind, name };
        }
        if db.is_foreign_key_violation()
            && let Some(app) = app
        {
            return StoreError::NotFound { kind: "application", name: app.to_string() };
        }
    }
    StoreError::from(err)
}

fn not_found(kind: &'static str, name: String) -> StoreError {
    StoreError::NotFound { kind, name }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_application(&self, app: &Application) -> Result<()> {
        sqlx::query("INSERT INTO applications (name, created_at) VALUES (?, ?)")
            .bind(&app.name)
            .bind(rows::micros(app.created_at))
            .execute(&self.pool)
            .await
            .map_err(|err| insert_error(err, "application", app.name.clone(), None))?;
        Ok(())
    }

    async fn get_application(&self, name: &str) -> Result<Application> {
        let row = sqlx::query("SELECT name, created_at FROM applications WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("application", name.to_string()))?;
        rows::application(&row)
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        sqlx::query("SELECT name, created_at FROM applications ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::application)
            .collect()
    }

    async fn create_version(&self, version: &VersionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO versions
                (app, label, description, bundle_digest, bundle_path, definition, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&version.app)
        .bind(&version.label)
        .bind(&version.description)
        .bind(&version.bundle_digest)
        .bind(&version.bundle_path)
        .bind(&version.definition)
        .bind(rows::micros(version.created_at))
        .execute(&self.pool)
        .await
        .map_err(|err| {
            let name = format!("{}/{}", version.app, version.label);
            insert_error(err, "version", name, Some(&version.app))
        })?;
        Ok(())
    }

    async fn get_version(&self, app: &str, label: &str) -> Result<VersionRecord> {
        let row = sqlx::query(
            "SELECT app, label, description, bundle_digest, bundle_path, definition, created_at
             FROM versions WHERE app = ? AND label = ?",
        )
        .bind(app)
        .bind(label)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("version", format!("{app}/{label}")))?;
        rows::version(&row)
    }

    async fn list_versions(&self, app: &str) -> Result<Vec<VersionRecord>> {
        // rowid breaks ties between versions created in the same microsecond: the later insert
        // is the newer version.
        sqlx::query(
            "SELECT app, label, description, bundle_digest, bundle_path, definition, created_at
             FROM versions WHERE app = ? ORDER BY created_at DESC, rowid DESC",
        )
        .bind(app)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::version)
        .collect()
    }

    async fn delete_version(&self, app: &str, label: &str) -> Result<()> {
        lifecycle::delete_version(&self.pool, app, label).await
    }

    async fn set_version_images(&self, app: &str, label: &str, images: &VersionImages) -> Result<()> {
        lifecycle::set_version_images(&self.pool, app, label, images).await
    }

    async fn get_version_images(&self, app: &str, label: &str) -> Result<Option<VersionImages>> {
        lifecycle::get_version_images(&self.pool, app, label).await
    }

    async fn get_lifecycle(&self, app: &str) -> Result<LifecyclePolicy> {
        lifecycle::get_lifecycle(&self.pool, app).await
    }

    async fn set_lifecycle(&self, app: &str, policy: &LifecyclePolicy) -> Result<()> {
        lifecycle::set_lifecycle(&self.pool, app, policy).await
    }

    async fn get_host_access(&self, app: &str) -> Result<crate::HostAccessPolicy> {
        lifecycle::get_host_access(&self.pool, app).await
    }

    async fn set_host_access(&self, app: &str, policy: &crate::HostAccessPolicy) -> Result<()> {
        lifecycle::set_host_access(&self.pool, app, policy).await
    }

    async fn get_saved_configurations(&self, app: &str) -> Result<crate::SavedConfigurations> {
        lifecycle::get_saved_configurations(&self.pool, app).await
    }

    async fn set_saved_configurations(&self, app: &str, saved: &crate::SavedConfigurations) -> Result<()> {
        lifecycle::set_saved_configurations(&self.pool, app, saved).await
    }

    async fn create_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        let created = self.insert_environment(env).await;
        self.environments.invalidate(&(env.app.clone(), env.name.clone()));
        created
    }

    async fn get_environment(&self, app: &str, name: &str) -> Result<EnvironmentRecord> {
        let key = (app.to_string(), name.to_string());
        if let Some(env) = self.environments.get(&key) {
            return Ok(env);
        }
        let generation = self.environments.generation();
        let row = sqlx::query("SELECT * FROM environments WHERE app = ? AND name = ?")
            .bind(app)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("environment", format!("{app}/{name}")))?;
        let env = rows::environment(&row)?;
        self.environments.keep(generation, key, env.clone());
        Ok(env)
    }

    async fn list_environments(&self, app: Option<&str>) -> Result<Vec<EnvironmentRecord>> {
        let all = match self.environments.all() {
            Some(all) => all,
            None => {
                let generation = self.environments.generation();
                let all: Vec<EnvironmentRecord> = sqlx::query("SELECT * FROM environments ORDER BY app, name")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(rows::environment)
                    .collect::<Result<_>>()?;
                let keyed = all.iter().map(|e| ((e.app.clone(), e.name.clone()), e.clone()));
                self.environments.keep_all(generation, keyed);
                all
            }
        };
        Ok(all.into_iter().filter(|e| app.is_none_or(|a| a == e.app)).collect())
    }

    async fn update_environment(&self, env: &mut EnvironmentRecord) -> Result<()> {
        let updated = self.write_environment(env).await;
        self.environments.invalidate(&(env.app.clone(), env.name.clone()));
        updated
    }

    async fn delete_environment(&self, app: &str, name: &str) -> Result<()> {
        let deleted = self.remove_environment(app, name).await;
        let key = (app.to_string(), name.to_string());
        self.environments.invalidate(&key);
        self.secrets.invalidate(&key);
        deleted
    }

    async fn append_event(&self, event: &NewEvent) -> Result<i64> {
        let done = sqlx::query("INSERT INTO events (app, env, at, level, kind, message) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&event.app)
            .bind(&event.env)
            .bind(rows::micros(event.at))
            .bind(event.level.as_str())
            .bind(&event.kind)
            .bind(&event.message)
            .execute(&self.pool)
            .await?;
        Ok(done.last_insert_rowid())
    }

    async fn list_events(&self, app: &str, env: Option<&str>, after_id: i64, limit: u32) -> Result<Vec<EventRecord>> {
        // Two statements rather than `?2 IS NULL OR env = ?2`, so that SQLite can walk the
        // (app, env, id) index for one environment.
        let query = match env {
            Some(env) => sqlx::query("SELECT * FROM events WHERE app = ? AND env = ? AND id > ? ORDER BY id LIMIT ?")
                .bind(app)
                .bind(env),
            None => sqlx::query("SELECT * FROM events WHERE app = ? AND id > ? ORDER BY id LIMIT ?").bind(app),
        };
        query.bind(after_id).bind(i64::from(limit)).fetch_all(&self.pool).await?.iter().map(rows::event).collect()
    }

    async fn recent_events(&self, app: &str, env: Option<&str>, limit: u32) -> Result<Vec<EventRecord>> {
        let query = match env {
            Some(env) => sqlx::query(
                "SELECT * FROM (
                    SELECT * FROM events WHERE app = ? AND env = ? ORDER BY id DESC LIMIT ?
                 ) ORDER BY id",
            )
            .bind(app)
            .bind(env),
            None => sqlx::query(
                "SELECT * FROM (
                    SELECT * FROM events WHERE app = ? ORDER BY id DESC LIMIT ?
                 ) ORDER BY id",
            )
            .bind(app),
        };
        query.bind(i64::from(limit)).fetch_all(&self.pool).await?.iter().map(rows::event).collect()
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        access::insert_token(&self.pool, token).await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        access::find_token(&self.pool, hash).await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        access::list_tokens(&self.pool).await
    }

    async fn delete_token(&self, name: &str) -> Result<bool> {
        access::delete_token(&self.pool, name).await
    }

    async fn touch_token(&self, name: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
        access::touch_token(&self.pool, name, at).await
    }

    async fn put_console_session(&self, session: &crate::ConsoleSessionRecord) -> Result<()> {
        access::put_console_session(&self.pool, session).await
    }

    async fn get_console_session(&self, id_hash: &str) -> Result<Option<crate::ConsoleSessionRecord>> {
        access::get_console_session(&self.pool, id_hash).await
    }

    async fn delete_console_sessions(&self, id_hash: &str, before: chrono::DateTime<chrono::Utc>) -> Result<()> {
        access::delete_console_sessions(&self.pool, id_hash, before).await
    }

    async fn append_audit(&self, call: &NewAudit) -> Result<i64> {
        access::append_audit(&self.pool, call).await
    }

    async fn list_audit(&self, app: Option<&str>, env: Option<&str>, limit: u32) -> Result<Vec<AuditRecord>> {
        access::list_audit(&self.pool, app, env, limit).await
    }

    async fn put_secret(
        &self,
        app: &str,
        env: &str,
        name: &str,
        sealed: &[u8],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64> {
        let put = access::put_secret(&self.pool, (app, env, name), sealed, at).await;
        self.secrets.invalidate(&(app.to_string(), env.to_string()));
        put
    }

    async fn backup(&self, path: &std::path::Path) -> Result<()> {
        // VACUUM INTO reads one snapshot of the database and writes it compacted to a new file.
        sqlx::query("VACUUM INTO ?").bind(path.to_string_lossy().into_owned()).execute(&self.pool).await?;
        Ok(())
    }

    async fn put_certificate(&self, cert: &CertificateRecord) -> Result<()> {
        let meta = serde_json::to_string(cert)
            .map_err(|e| StoreError::Corrupt { what: format!("certificate {}", cert.id), message: e.to_string() })?;
        sqlx::query("INSERT OR REPLACE INTO certificates (id, meta, sealed_key) VALUES (?, ?, ?)")
            .bind(&cert.id)
            .bind(meta)
            .bind(&cert.sealed_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_certificates(&self) -> Result<Vec<CertificateRecord>> {
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT id, meta, sealed_key FROM certificates ORDER BY id").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(id, meta, sealed_key)| {
                let mut cert: CertificateRecord = serde_json::from_str(&meta)
                    .map_err(|e| StoreError::Corrupt { what: format!("certificate {id}"), message: e.to_string() })?;
                cert.sealed_key = sealed_key;
                Ok(cert)
            })
            .collect()
    }

    async fn delete_certificate(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM certificates WHERE id = ?").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_acme_record(&self, record: &AcmeRecord) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO acme (key, meta, sealed) VALUES (?, ?, ?)")
            .bind(&record.key)
            .bind(&record.meta)
            .bind(&record.sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_acme_records(&self) -> Result<Vec<AcmeRecord>> {
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT key, meta, sealed FROM acme ORDER BY key").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(key, meta, sealed)| AcmeRecord { key, meta, sealed }).collect())
    }

    async fn delete_acme_record(&self, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM acme WHERE key = ?").bind(key).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_secrets(&self, app: &str, env: &str) -> Result<Vec<SecretRecord>> {
        let key = (app.to_string(), env.to_string());
        if let Some(secrets) = self.secrets.get(&key) {
            return Ok(secrets);
        }
        let generation = self.secrets.generation();
        let secrets = access::list_secrets(&self.pool, app, env).await?;
        self.secrets.keep(generation, key, secrets.clone());
        Ok(secrets)
    }

    async fn delete_secret(&self, app: &str, env: &str, name: &str) -> Result<bool> {
        let deleted = access::delete_secret(&self.pool, app, env, name).await;
        self.secrets.invalidate(&(app.to_string(), env.to_string()));
        deleted
    }

    async fn count_tokens(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS count FROM tokens").fetch_one(&self.pool).await?;
        let count: i64 = row.try_get("count")?;
        // COUNT(*) is never negative.
        Ok(count.unsigned_abs())
    }

    async fn set_registry_credential(&self, credential: &RegistryCredentialRecord) -> Result<()> {
        registry::set(&self.pool, credential).await
    }

    async fn list_registry_credentials(&self) -> Result<Vec<RegistryCredentialRecord>> {
        registry::list(&self.pool).await
    }

    async fn delete_registry_credentials(&self, host: &str, app: Option<&str>) -> Result<u64> {
        registry::delete(&self.pool, host, app).await
    }

    async fn replace_registry_config(
        &self,
        source: &str,
        app: Option<&str>,
        credentials: &[RegistryCredentialRecord],
    ) -> Result<()> {
        registry::replace_config(&self.pool, source, app, credentials).await
    }

    async fn note_registry_outcome(
        &self,
        key: &CredentialKey,
        at: chrono::DateTime<chrono::Utc>,
        outcome: &RegistryOutcome,
    ) -> Result<()> {
        registry::note_outcome(&self.pool, key, at, outcome).await
    }
}
