//! Conversions between records and SQLite rows: timestamps as unix microseconds, enumerations
//! as their names, variables as JSON.
//!
//! A stored value that does not decode is `StoreError::Corrupt`, naming the record and column,
//! never a panic. Not here: SQL statements (see the parent module).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

use crate::{
    Application, EnvStatus, EnvironmentRecord, EventLevel, EventRecord, Result, Scope, StoreError, TokenRecord,
    VersionRecord,
};

/// A timestamp as stored. Sub-microsecond precision is dropped (truncated toward the past).
pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Any serializable record part as stored: JSON text.
pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("option and state documents serialize to JSON")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str, column: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| corrupt(what, column, format!("not valid JSON for it: {err}")))
}

/// Environment variables as stored: a JSON object.
pub(super) fn variables_json(variables: &BTreeMap<String, String>) -> String {
    // A map of strings to strings has no value JSON cannot represent.
    serde_json::to_string(variables).expect("a map of strings serializes to JSON")
}

fn corrupt(what: &str, column: &str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: format!("{what} ({column})"), message: message.to_string() }
}

/// Reads one column; a value of the wrong type is corruption of `what`, not a database failure.
fn get<'r, T>(row: &'r SqliteRow, column: &str, what: &str) -> Result<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column).map_err(|err| match err {
        sqlx::Error::ColumnDecode { source, .. } => corrupt(what, column, source),
        other => StoreError::from(other),
    })
}

fn time(row: &SqliteRow, column: &str, what: &str) -> Result<DateTime<Utc>> {
    let value: i64 = get(row, column, what)?;
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| corrupt(what, column, format!("timestamp {value} µs is out of range")))
}

fn optional_time(row: &SqliteRow, column: &str, what: &str) -> Result<Option<DateTime<Utc>>> {
    let value: Option<i64> = get(row, column, what)?;
    value
        .map(|v| {
            DateTime::from_timestamp_micros(v)
                .ok_or_else(|| corrupt(what, column, format!("timestamp {v} µs is out of range")))
        })
        .transpose()
}

/// Reads an enumeration stored by name, using the type's own `parse`.
fn named<T>(row: &SqliteRow, column: &str, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    let text: String = get(row, column, what)?;
    parse(&text).ok_or_else(|| corrupt(what, column, format!("unknown value {text:?}")))
}

pub(super) fn application(row: &SqliteRow) -> Result<Application> {
    let name: String = get(row, "name", "application")?;
    let what = format!("application {name}");
    Ok(Application { created_at: time(row, "created_at", &what)?, name })
}

pub(super) fn version(row: &SqliteRow) -> Result<VersionRecord> {
    let app: String = get(row, "app", "version")?;
    let label: String = get(row, "label", "version")?;
    let what = format!("version {app}/{label}");
    Ok(VersionRecord {
        description: get(row, "description", &what)?,
        bundle_digest: get(row, "bundle_digest", &what)?,
        bundle_path: get(row, "bundle_path", &what)?,
        definition: get(row, "definition", &what)?,
        created_at: time(row, "created_at", &what)?,
        app,
        label,
    })
}

pub(super) fn environment(row: &SqliteRow) -> Result<EnvironmentRecord> {
    let app: String = get(row, "app", "environment")?;
    let name: String = get(row, "name", "environment")?;
    let what = format!("environment {app}/{name}");
    let desired: i64 = get(row, "desired_instances", &what)?;
    let desired_instances =
        u32::try_from(desired).map_err(|_| corrupt(&what, "desired_instances", format!("{desired} is not a count")))?;
    let variables_text: String = get(row, "variables", &what)?;
    let variables = serde_json::from_str(&variables_text)
        .map_err(|err| corrupt(&what, "variables", format!("not a JSON object of strings: {err}")))?;
    let options_text: String = get(row, "options", &what)?;
    let options = from_json(&options_text, &what, "options")?;
    let state_text: Option<String> = get(row, "deploy_state", &what)?;
    let deploy_state = match state_text {
        Some(t) => Some(from_json(&t, &what, "deploy_state")?),
        None => None,
    };
    Ok(EnvironmentRecord {
        options,
        deploy_state,
        version_label: get(row, "version_label", &what)?,
        last_good_version: get(row, "last_good_version", &what)?,
        desired_instances,
        status: named(row, "status", &what, EnvStatus::parse)?,
        variables,
        deploy_deadline: optional_time(row, "deploy_deadline", &what)?,
        last_error: get(row, "last_error", &what)?,
        created_at: time(row, "created_at", &what)?,
        updated_at: time(row, "updated_at", &what)?,
        revision: get(row, "revision", &what)?,
        app,
        name,
    })
}

pub(super) fn event(row: &SqliteRow) -> Result<EventRecord> {
    let id: i64 = get(row, "id", "event")?;
    let what = format!("event {id}");
    Ok(EventRecord {
        id,
        app: get(row, "app", &what)?,
        env: get(row, "env", &what)?,
        at: time(row, "at", &what)?,
        level: named(row, "level", &what, EventLevel::parse)?,
        kind: get(row, "kind", &what)?,
        message: get(row, "message", &what)?,
    })
}

pub(super) fn console_session(row: &SqliteRow) -> Result<crate::ConsoleSessionRecord> {
    // Named without its hashes: error messages end up in logs.
    let what = "console session";
    Ok(crate::ConsoleSessionRecord {
        id_hash: get(row, "id_hash", what)?,
        token_hash: get(row, "token_hash", what)?,
        csrf: get(row, "csrf", what)?,
        started_at: time(row, "started_at", what)?,
    })
}

pub(super) fn token(row: &SqliteRow) -> Result<TokenRecord> {
    let name: String = get(row, "name", "token")?;
    // Named by its name, not its hash: error messages end up in logs.
    let what = format!("token {name}");
    Ok(TokenRecord {
        hash: get(row, "hash", &what)?,
        scope: named(row, "scope", &what, Scope::parse)?,
        created_at: time(row, "created_at", &what)?,
        limit_app: get(row, "limit_app", &what)?,
        limit_env: get(row, "limit_env", &what)?,
        expires_at: optional_time(row, "expires_at", &what)?,
        last_used_at: optional_time(row, "last_used_at", &what)?,
        name,
    })
}

pub(super) fn audit(row: &SqliteRow) -> Result<crate::AuditRecord> {
    let what = "audit record";
    let status: i64 = get(row, "status", what)?;
    Ok(crate::AuditRecord {
        id: get(row, "id", what)?,
        call: crate::NewAudit {
            at: time(row, "at", what)?,
            token: get(row, "token", what)?,
            scope: get(row, "scope", what)?,
            method: get(row, "method", what)?,
            path: get(row, "path", what)?,
            app: get(row, "app", what)?,
            env: get(row, "env", what)?,
            status: u16::try_from(status).map_err(|e| corrupt(what, "status", e))?,
        },
    })
}

pub(super) fn secret(row: &SqliteRow) -> Result<crate::SecretRecord> {
    let name: String = get(row, "name", "secret")?;
    let what = format!("secret {name}");
    Ok(crate::SecretRecord {
        app: get(row, "app", &what)?,
        env: get(row, "env", &what)?,
        version: get(row, "version", &what)?,
        sealed: get(row, "sealed", &what)?,
        set_at: time(row, "set_at", &what)?,
        name,
    })
}

/// A stored scope or source: the empty string stands for none (see migration 0006).
pub(super) fn none_if_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub(super) fn registry_credential(row: &SqliteRow) -> Result<crate::RegistryCredentialRecord> {
    let host: String = get(row, "host", "registry credential")?;
    let what = format!("registry credential for {host}");
    let key = crate::CredentialKey {
        app: none_if_empty(get(row, "app", &what)?),
        source: none_if_empty(get(row, "source", &what)?),
        host,
    };
    Ok(crate::RegistryCredentialRecord {
        key,
        username: get(row, "username", &what)?,
        sealed_secret: get(row, "sealed_secret", &what)?,
        updated_at: time(row, "updated_at", &what)?,
        last_success: optional_time(row, "last_success", &what)?,
        last_failure: optional_time(row, "last_failure", &what)?,
        last_failure_message: get(row, "last_failure_message", &what)?,
    })
}
