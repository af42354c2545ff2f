//! SQLite statements for tokens, the audit trail and environment secrets (migration 0007), and
//! console sessions (0013).
//!
//! Not here: decoding rows (`rows`) nor deciding who may do what (the server's).

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::{insert_error, rows};
use crate::{AuditRecord, ConsoleSessionRecord, NewAudit, Result, SecretRecord, TokenRecord};

pub(super) async fn insert_token(pool: &SqlitePool, t: &TokenRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO tokens (hash, name, scope, created_at, limit_app, limit_env, expires_at, last_used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
    )
    .bind(&t.hash)
    .bind(&t.name)
    .bind(t.scope.as_str())
    .bind(rows::micros(t.created_at))
    .bind(&t.limit_app)
    .bind(&t.limit_env)
    .bind(t.expires_at.map(rows::micros))
    .execute(pool)
    .await
    // Named by its name: the hash identifies a credential and should not reach logs.
    .map_err(|err| insert_error(err, "token", t.name.clone(), None))?;
    Ok(())
}

pub(super) async fn find_token(pool: &SqlitePool, hash: &str) -> Result<Option<TokenRecord>> {
    sqlx::query("SELECT * FROM tokens WHERE hash = ?")
        .bind(hash)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::token)
        .transpose()
}

pub(super) async fn list_tokens(pool: &SqlitePool) -> Result<Vec<TokenRecord>> {
    sqlx::query("SELECT * FROM tokens ORDER BY name").fetch_all(pool).await?.iter().map(rows::token).collect()
}

pub(super) async fn delete_token(pool: &SqlitePool, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM tokens WHERE name = ?").bind(name).execute(pool).await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn touch_token(pool: &SqlitePool, name: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE tokens SET last_used_at = ? WHERE name = ?")
        .bind(rows::micros(at))
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn append_audit(pool: &SqlitePool, c: &NewAudit) -> Result<i64> {
    let done = sqlx::query(
        "INSERT INTO audit (at, token, scope, method, path, app, env, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(rows::micros(c.at))
    .bind(&c.token)
    .bind(&c.scope)
    .bind(&c.method)
    .bind(&c.path)
    .bind(&c.app)
    .bind(&c.env)
    .bind(i64::from(c.status))
    .execute(pool)
    .await?;
    Ok(done.last_insert_rowid())
}

/// The newest `limit` calls (of `app`, of its environment `env`), oldest first.
pub(super) async fn list_audit(
    pool: &SqlitePool,
    app: Option<&str>,
    env: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditRecord>> {
    sqlx::query(
        "SELECT * FROM (
            SELECT * FROM audit WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR env = ?2)
            ORDER BY id DESC LIMIT ?3
         ) ORDER BY id",
    )
    .bind(app)
    .bind(env)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(rows::audit)
    .collect()
}

/// Sets the secret (a new one at version 1, else one more than before); returns its version.
pub(super) async fn put_secret(
    pool: &SqlitePool,
    (app, env, name): (&str, &str, &str),
    sealed: &[u8],
    at: DateTime<Utc>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO secrets (app, env, name, version, sealed, set_at) VALUES (?, ?, ?, 1, ?, ?)
         ON CONFLICT (app, env, name) DO UPDATE SET
            version = version + 1, sealed = excluded.sealed, set_at = excluded.set_at
         RETURNING version",
    )
    .bind(app)
    .bind(env)
    .bind(name)
    .bind(sealed)
    .bind(rows::micros(at))
    .fetch_one(pool)
    .await?;
    Ok(sqlx::Row::try_get(&row, "version")?)
}

pub(super) async fn list_secrets(pool: &SqlitePool, app: &str, env: &str) -> Result<Vec<SecretRecord>> {
    sqlx::query("SELECT * FROM secrets WHERE app = ? AND env = ? ORDER BY name")
        .bind(app)
        .bind(env)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::secret)
        .collect()
}

pub(super) async fn delete_secret(pool: &SqlitePool, app: &str, env: &str, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM secrets WHERE app = ? AND env = ? AND name = ?")
        .bind(app)
        .bind(env)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn put_console_session(pool: &SqlitePool, s: &ConsoleSessionRecord) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO console_sessions (id_hash, token_hash, csrf, started_at) VALUES (?, ?, ?, ?)")
        .bind(&s.id_hash)
        .bind(&s.token_hash)
        .bind(&s.csrf)
        .bind(rows::micros(s.started_at))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn get_console_session(pool: &SqlitePool, id_hash: &str) -> Result<Option<ConsoleSessionRecord>> {
    let Some(row) =
        sqlx::query("SELECT * FROM console_sessions WHERE id_hash = ?").bind(id_hash).fetch_optional(pool).await?
    else {
        return Ok(None);
    };
    rows::console_session(&row).map(Some)
}

pub(super) async fn delete_console_sessions(pool: &SqlitePool, id_hash: &str, before: DateTime<Utc>) -> Result<()> {
    sqlx::query("DELETE FROM console_sessions WHERE id_hash = ? OR started_at < ?")
        .bind(id_hash)
        .bind(rows::micros(before))
        .execute(pool)
        .await?;
    Ok(())
}
