//! Sprout's durable state: applications, versions, environments, events, API tokens and
//! registry credentials (sealed by the server; the store never holds one in the clear).
//!
//! `Store` is the trait the control plane uses; `SqliteStore` is the embedded default.
//! Not here: what the records mean (the server's controllers decide that).

pub mod access;
pub mod certs;
pub mod cron;
pub mod lifecycle;
pub mod measures;
pub mod memory;
pub mod model;
pub mod notify;
pub mod options;
pub mod registry;
pub mod sqlite;

use async_trait::async_trait;

pub use access::*;
pub use certs::*;
pub use cron::*;
pub use lifecycle::*;
pub use measures::*;
pub use memory::MemoryStore;
pub use model::*;
pub use notify::*;
pub use options::*;
pub use registry::*;
pub use sprout_model::config::{SavedConfiguration, SavedConfigurations};
pub use sprout_model::policy::HostAccessPolicy;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} {name} already exists")]
    Conflict { kind: &'static str, name: String },
    /// A compare-and-set update found a newer revision than the one it was read at.
    #[error("{kind} {name} was changed by another writer since it was read; read it again and reapply the change")]
    Stale { kind: &'static str, name: String },
    #[error("database at {location} cannot be opened: {source}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored {what} is corrupt: {message}")]
    Corrupt { what: String, message: String },
    /// The database stayed locked (or too slow to hand out a connection) past the bound; the
    /// operation changed nothing.
    #[error(
        "the database is busy (locked by another process, or too slow) and did not answer within {waited_s} s; nothing was changed, retry shortly"
    )]
    Busy { waited_s: u64 },
    /// The disk holding the database is full; the operation changed nothing.
    #[error("the disk holding the database is full; nothing was changed: free space in the data directory and retry")]
    Full,
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    /// Tells the failures a caller can act on (locked, full) from the rest.
    fn from(err: sqlx::Error) -> Self {
        classify(err)
    }
}

/// SQLite's primary result codes that mean "try again later" or "no space"
/// (<https://www.sqlite.org/rescode.html>): BUSY 5, LOCKED 6, FULL 13.
fn classify(err: sqlx::Error) -> StoreError {
    const ENOSPC: i32 = 28;
    match &err {
        sqlx::Error::PoolTimedOut => StoreError::Busy { waited_s: sqlite::BUSY_TIMEOUT.as_secs() },
        sqlx::Error::Io(io) if io.raw_os_error() == Some(ENOSPC) => StoreError::Full,
        sqlx::Error::Database(db) => {
            let primary = db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
            match primary {
                Some(5 | 6) => StoreError::Busy { waited_s: sqlite::BUSY_TIMEOUT.as_secs() },
                Some(13) => StoreError::Full,
                _ => StoreError::Database(err),
            }
        }
        _ => StoreError::Database(err),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The control plane's store; its notification tables are `NotifyStore`'s, its periodic jobs'
/// `CronStore`'s, its environments' measures `MeasureStore`'s.
#[async_trait]
pub trait Store: NotifyStore + CronStore + MeasureStore + Send + Sync + 'static {
    async fn create_application(&self, app: &Application) -> Result<()>;
    async fn get_application(&self, name: &str) -> Result<Application>;
    async fn list_applications(&self) -> Result<Vec<Application>>;

    /// `Conflict` when (app, label) exists.
    async fn create_version(&self, version: &VersionRecord) -> Result<()>;
    async fn get_version(&self, app: &str, label: &str) -> Result<VersionRecord>;
    /// Newest first.
    async fn list_versions(&self, app: &str) -> Result<Vec<VersionRecord>>;
    /// Removes the version's record (`NotFound` if missing). Its bundle files are the caller's.
    async fn delete_version(&self, app: &str, label: &str) -> Result<()>;
    /// Records the images a version resolved to (`NotFound` if the version is missing).
    async fn set_version_images(&self, app: &str, label: &str, images: &VersionImages) -> Result<()>;
    /// The images recorded for a version; None until it is first deployed.
    async fn get_version_images(&self, app: &str, label: &str) -> Result<Option<VersionImages>>;
    /// The application's lifecycle policy (empty when never set; `NotFound` without the app).
    async fn get_lifecycle(&self, app: &str) -> Result<LifecyclePolicy>;
    async fn set_lifecycle(&self, app: &str, policy: &LifecyclePolicy) -> Result<()>;
    /// The application's host access policy (the default when none was set).
    async fn get_host_access(&self, app: &str) -> Result<HostAccessPolicy>;
    async fn set_host_access(&self, app: &str, policy: &HostAccessPolicy) -> Result<()>;
    /// The application's saved configurations (none when never set; `NotFound` without the app).
    async fn get_saved_configurations(&self, app: &str) -> Result<SavedConfigurations>;
    /// Replaces them all (the caller read, changed and writes back the whole map).
    async fn set_saved_configurations(&self, app: &str, saved: &SavedConfigurations) -> Result<()>;

    /// `Conflict` when (app, name) exists.
    async fn create_environment(&self, env: &EnvironmentRecord) -> Result<()>;
    async fn get_environment(&self, app: &str, name: &str) -> Result<EnvironmentRecord>;
    /// Every environment, or those of one application; ordered by app then name.
    async fn list_environments(&self, app: Option<&str>) -> Result<Vec<EnvironmentRecord>>;
    /// Overwrites every mutable field of an existing environment if the stored revision is
    /// still `env.revision`, then raises both by one; `Stale` when another write came first
    /// (nothing is written), `NotFound` when the environment is gone.
    async fn update_environment(&self, env: &mut EnvironmentRecord) -> Result<()>;
    async fn delete_environment(&self, app: &str, name: &str) -> Result<()>;

    /// Appends and returns the event's id (increasing).
    async fn append_event(&self, event: &NewEvent) -> Result<i64>;
    /// Events of one environment (or of every environment of `app` when `env` is None) with
    /// id > `after_id`, oldest first, at most `limit`.
    async fn list_events(&self, app: &str, env: Option<&str>, after_id: i64, limit: u32) -> Result<Vec<EventRecord>>;
    /// The newest `limit` events, returned oldest first.
    async fn recent_events(&self, app: &str, env: Option<&str>, limit: u32) -> Result<Vec<EventRecord>>;

    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The token whose hash matches, if any.
    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>>;
    async fn count_tokens(&self) -> Result<u64>;
    /// Every token, by name (hashes included: callers show names only).
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Removes the token `name`; false when there was none.
    async fn delete_token(&self, name: &str) -> Result<bool>;
    /// Notes that the token `name` was accepted at `at`.
    async fn touch_token(&self, name: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()>;

    /// Keeps a console session (replacing one with the same `id_hash`).
    async fn put_console_session(&self, session: &ConsoleSessionRecord) -> Result<()>;
    async fn get_console_session(&self, id_hash: &str) -> Result<Option<ConsoleSessionRecord>>;
    /// Removes the session `id_hash`, and every session started before `before`.
    async fn delete_console_sessions(&self, id_hash: &str, before: chrono::DateTime<chrono::Utc>) -> Result<()>;

    /// Records one mutating API call; returns its number.
    async fn append_audit(&self, call: &NewAudit) -> Result<i64>;
    /// The newest `limit` recorded calls (of `app`, of its environment `env`), oldest first.
    async fn list_audit(&self, app: Option<&str>, env: Option<&str>, limit: u32) -> Result<Vec<AuditRecord>>;

    /// Sets the environment secret `name` to `sealed` (sealed by the server); returns how many
    /// times it has been set, this time included.
    async fn put_secret(
        &self,
        app: &str,
        env: &str,
        name: &str,
        sealed: &[u8],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64>;
    /// The environment's secrets, by name.
    async fn list_secrets(&self, app: &str, env: &str) -> Result<Vec<SecretRecord>>;
    /// Removes one secret; false when there was none.
    async fn delete_secret(&self, app: &str, env: &str, name: &str) -> Result<bool>;

    /// Stores a TLS certificate, replacing the one with the same id.
    async fn put_certificate(&self, cert: &CertificateRecord) -> Result<()>;
    /// Every certificate, by id.
    async fn list_certificates(&self) -> Result<Vec<CertificateRecord>>;
    /// Removes one certificate; false when there was none.
    async fn delete_certificate(&self, id: &str) -> Result<bool>;
    /// Stores an ACME record, replacing the one with the same key.
    async fn put_acme_record(&self, record: &AcmeRecord) -> Result<()>;
    /// Every ACME record, by key.
    async fn list_acme_records(&self) -> Result<Vec<AcmeRecord>>;
    /// Removes one ACME record; false when there was none.
    async fn delete_acme_record(&self, key: &str) -> Result<bool>;

    /// Writes a consistent copy of the whole store to `path` (a new file), while it keeps
    /// serving. Sealed values stay sealed in the copy.
    async fn backup(&self, path: &std::path::Path) -> Result<()>;

    /// Stores a credential, replacing the one with the same key (its outcomes are forgotten:
    /// a new secret has not been tried yet).
    async fn set_registry_credential(&self, credential: &RegistryCredentialRecord) -> Result<()>;
    /// Every credential, ordered by host, then application (every application first), then
    /// source (logins first).
    async fn list_registry_credentials(&self) -> Result<Vec<RegistryCredentialRecord>>;
    /// Removes every credential for `host` in exactly this scope (`app` None: the server-wide
    /// ones), whatever its source; returns how many went.
    async fn delete_registry_credentials(&self, host: &str, app: Option<&str>) -> Result<u64>;
    /// Replaces the imported config `source` of this scope by `credentials` (each must carry
    /// that source and scope), in one transaction.
    async fn replace_registry_config(
        &self,
        source: &str,
        app: Option<&str>,
        credentials: &[RegistryCredentialRecord],
    ) -> Result<()>;
    /// Records that a registry accepted or refused the credential at `at`; a credential removed
    /// meanwhile is no error.
    async fn note_registry_outcome(
        &self,
        key: &CredentialKey,
        at: chrono::DateTime<chrono::Utc>,
        outcome: &RegistryOutcome,
    ) -> Result<()>;
}

/// How many times a writer refused as `Stale` works its change out again on a fresh read
/// before giving up: each refusal follows a write that landed, so more than a few in a row means
/// the environment is being changed continuously.
pub const STALE_ATTEMPTS: u32 = 5;

/// Runs `attempt` (read, check, change, write) again while its write is refused as stale
/// (`is_stale`), at most `STALE_ATTEMPTS` times in all; the last refusal is returned. The one
/// retry for every writer that works its change out on a fresh read (API requests, CLI-like
/// helpers); its attempt says nothing until its write has landed, so running it again repeats
/// nothing.
pub async fn retry_stale<T, E, F, Fut>(is_stale: impl Fn(&E) -> bool, mut attempt: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if is_stale(&e) && tries < STALE_ATTEMPTS => tries += 1,
            other => return other,
        }
    }
}

/// Reads an environment, applies `change` and writes it; when another writer came first
/// (`Stale`), the same change goes onto a fresh read, up to `STALE_ATTEMPTS` times. For writers
/// whose change does not depend on what else changed (a swap's new host name, tests acting as
/// a user).
pub async fn change_environment(
    store: &dyn Store,
    app: &str,
    name: &str,
    change: impl Fn(&mut EnvironmentRecord),
) -> Result<EnvironmentRecord> {
    retry_stale(
        |e| matches!(e, StoreError::Stale { .. }),
        || async {
            let mut env = store.get_environment(app, name).await?;
            change(&mut env);
            store.update_environment(&mut env).await?;
            Ok(env)
        },
    )
    .await
}
