//! SQLite statements for registry credentials (migration 0006). Scopes and sources are stored
//! as '' when absent, so that they can be part of the primary key.
//!
//! Not here: sealing secrets (the server's) nor decoding rows (`rows`).

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::rows;
use crate::{CredentialKey, RegistryCredentialRecord, RegistryOutcome, Result, StoreError};

fn scope(app: Option<&str>) -> &str {
    app.unwrap_or("")
}

const INSERT: &str = "INSERT INTO registry_credentials
        (host, app, source, username, sealed_secret, updated_at, last_success, last_failure, last_failure_message)
     VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL)
     ON CONFLICT (host, app, source) DO UPDATE SET
        username = excluded.username, sealed_secret = excluded.sealed_secret,
        updated_at = excluded.updated_at, last_success = NULL, last_failure = NULL,
        last_failure_message = NULL";

async fn insert<'c, E>(executor: E, c: &RegistryCredentialRecord) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(INSERT)
        .bind(&c.key.host)
        .bind(scope(c.key.app.as_deref()))
        .bind(scope(c.key.source.as_deref()))
        .bind(&c.username)
        .bind(&c.sealed_secret)
        .bind(rows::micros(c.updated_at))
        .execute(executor)
        .await?;
    Ok(())
}

pub(super) async fn set(pool: &SqlitePool, c: &RegistryCredentialRecord) -> Result<()> {
    insert(pool, c).await
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<RegistryCredentialRecord>> {
    sqlx::query("SELECT * FROM registry_credentials ORDER BY host, app, source")
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::registry_credential)
        .collect()
}

pub(super) async fn delete(pool: &SqlitePool, host: &str, app: Option<&str>) -> Result<u64> {
    let done = sqlx::query("DELETE FROM registry_credentials WHERE host = ? AND app = ?")
        .bind(host)
        .bind(scope(app))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn replace_config(
    pool: &SqlitePool,
    source: &str,
    app: Option<&str>,
    credentials: &[RegistryCredentialRecord],
) -> Result<()> {
    if let Some(c) = credentials.iter().find(|c| c.key.source.as_deref() != Some(source) || c.key.app.as_deref() != app)
    {
        return Err(StoreError::Corrupt {
            what: format!("imported registry config {source}"),
            message: format!("its entry for {} names another source or scope", c.key.host),
        });
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM registry_credentials WHERE source = ? AND app = ?")
        .bind(source)
        .bind(scope(app))
        .execute(&mut *tx)
        .await?;
    for c in credentials {
        insert(&mut *tx, c).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn note_outcome(
    pool: &SqlitePool,
    key: &CredentialKey,
    at: DateTime<Utc>,
    outcome: &RegistryOutcome,
) -> Result<()> {
    let query = match outcome {
        RegistryOutcome::Accepted => {
            sqlx::query("UPDATE registry_credentials SET last_success = ? WHERE host = ? AND app = ? AND source = ?")
                .bind(rows::micros(at))
        }
        RegistryOutcome::Refused(message) => sqlx::query(
            "UPDATE registry_credentials SET last_failure = ?, last_failure_message = ?
             WHERE host = ? AND app = ? AND source = ?",
        )
        .bind(rows::micros(at))
        .bind(message.clone()),
    };
    query.bind(&key.host).bind(scope(key.app.as_deref())).bind(scope(key.source.as_deref())).execute(pool).await?;
    Ok(())
}
