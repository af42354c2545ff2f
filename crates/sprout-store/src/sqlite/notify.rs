//! SQLite statements for notifications (migration 0008): webhook targets, the delivery queue and
//! the alert planner's memory. Environments absent (every environment) are stored as ''.
//!
//! Not here: sealing secrets or sending (the server's).

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::{DeliveryAttempt, DeliveryRecord, DeliveryStatus, NewDelivery, NotifyTarget, Result, StoreError};

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn corrupt(what: &str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.to_string(), message: message.to_string() }
}

fn time(v: i64, what: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| corrupt(what, format!("timestamp {v} µs is out of range")))
}

fn target(row: &SqliteRow) -> Result<NotifyTarget> {
    let id: String = row.try_get("id")?;
    let env: String = row.try_get("env")?;
    Ok(NotifyTarget {
        app: row.try_get("app")?,
        env: (!env.is_empty()).then_some(env),
        url: row.try_get("url")?,
        format: row.try_get("format")?,
        events: row.try_get("events")?,
        sealed_secret: row.try_get("sealed_secret")?,
        created_at: time(row.try_get("created_at")?, &format!("webhook {id} (created_at)"))?,
        id,
    })
}

fn delivery(row: &SqliteRow) -> Result<DeliveryRecord> {
    let id: i64 = row.try_get("id")?;
    let what = format!("delivery {id}");
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    let done: Option<i64> = row.try_get("done_at")?;
    Ok(DeliveryRecord {
        id,
        target_id: row.try_get("target_id")?,
        app: row.try_get("app")?,
        env: row.try_get("env")?,
        created_at: time(row.try_get("created_at")?, &what)?,
        severity: row.try_get("severity")?,
        body: row.try_get("body")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt(&what, format!("unknown status {status}")))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_at: time(row.try_get("next_at")?, &what)?,
        last_error: row.try_get("last_error")?,
        done_at: done.map(|d| time(d, &what)).transpose()?,
    })
}

pub(super) async fn add_target(pool: &SqlitePool, t: &NotifyTarget) -> Result<()> {
    sqlx::query(
        "INSERT INTO notify_targets (id, app, env, url, format, events, sealed_secret, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(&t.app)
    .bind(t.env.as_deref().unwrap_or(""))
    .bind(&t.url)
    .bind(&t.format)
    .bind(&t.events)
    .bind(&t.sealed_secret)
    .bind(micros(t.created_at))
    .execute(pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict { kind: "webhook", name: t.id.clone() }
        }
        other => other.into(),
    })?;
    Ok(())
}

pub(super) async fn list_targets(pool: &SqlitePool, app: Option<&str>) -> Result<Vec<NotifyTarget>> {
    let rows = match app {
        Some(a) => {
            sqlx::query("SELECT * FROM notify_targets WHERE app = ? ORDER BY created_at, id")
                .bind(a)
                .fetch_all(pool)
                .await?
        }
        None => sqlx::query("SELECT * FROM notify_targets ORDER BY created_at, id").fetch_all(pool).await?,
    };
    rows.iter().map(target).collect()
}

pub(super) async fn remove_target(pool: &SqlitePool, app: &str, id: &str, at: DateTime<Utc>) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let gone =
        sqlx::query("DELETE FROM notify_targets WHERE app = ? AND id = ?").bind(app).bind(id).execute(&mut *tx).await?;
    sqlx::query(
        "UPDATE notify_deliveries SET status = 'failed', last_error = 'the webhook was removed', done_at = ?
         WHERE target_id = ? AND status = 'pending'",
    )
    .bind(micros(at))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(gone.rows_affected() > 0)
}

pub(super) async fn enqueue(pool: &SqlitePool, deliveries: &[NewDelivery]) -> Result<()> {
    let mut tx = pool.begin().await?;
    for d in deliveries {
        sqlx::query(
            "INSERT INTO notify_deliveries (target_id, app, env, created_at, severity, body, status, attempts, next_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
        )
        .bind(&d.target_id)
        .bind(&d.app)
        .bind(&d.env)
        .bind(micros(d.created_at))
        .bind(&d.severity)
        .bind(&d.body)
        .bind(micros(d.created_at))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn pending(pool: &SqlitePool, limit: u32) -> Result<Vec<DeliveryRecord>> {
    sqlx::query("SELECT * FROM notify_deliveries WHERE status = 'pending' ORDER BY id LIMIT ?")
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(delivery)
        .collect()
}

pub(super) async fn record(pool: &SqlitePool, id: i64, a: &DeliveryAttempt) -> Result<()> {
    sqlx::query(
        "UPDATE notify_deliveries SET status = ?, attempts = ?, next_at = ?, last_error = ?, done_at = ? WHERE id = ?",
    )
    .bind(a.status.as_str())
    .bind(i64::from(a.attempts))
    .bind(micros(a.next_at))
    .bind(&a.last_error)
    .bind(a.done_at.map(micros))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn list(pool: &SqlitePool, app: &str, limit: u32) -> Result<Vec<DeliveryRecord>> {
    sqlx::query("SELECT * FROM notify_deliveries WHERE app = ? ORDER BY id DESC LIMIT ?")
        .bind(app)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(delivery)
        .collect()
}

pub(super) async fn get_memory(pool: &SqlitePool, app: &str, env: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT state FROM alert_memory WHERE app = ? AND env = ?")
        .bind(app)
        .bind(env)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("state")).transpose()?)
}

pub(super) async fn set_memory(pool: &SqlitePool, app: &str, env: &str, state: Option<&str>) -> Result<()> {
    match state {
        Some(s) => {
            sqlx::query(
                "INSERT INTO alert_memory (app, env, state) VALUES (?, ?, ?)
                 ON CONFLICT (app, env) DO UPDATE SET state = excluded.state",
            )
            .bind(app)
            .bind(env)
            .bind(s)
            .execute(pool)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM alert_memory WHERE app = ? AND env = ?").bind(app).bind(env).execute(pool).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::NotifyStore for super::SqliteStore {
    async fn add_notify_target(&self, target: &crate::NotifyTarget) -> Result<()> {
        add_target(&self.pool, target).await
    }
    async fn list_notify_targets(&self, app: Option<&str>) -> Result<Vec<crate::NotifyTarget>> {
        list_targets(&self.pool, app).await
    }
    async fn remove_notify_target(&self, app: &str, id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        remove_target(&self.pool, app, id, at).await
    }
    async fn enqueue_deliveries(&self, deliveries: &[crate::NewDelivery]) -> Result<()> {
        enqueue(&self.pool, deliveries).await
    }
    async fn pending_deliveries(&self, limit: u32) -> Result<Vec<crate::DeliveryRecord>> {
        pending(&self.pool, limit).await
    }
    async fn record_delivery(&self, id: i64, attempt: &crate::DeliveryAttempt) -> Result<()> {
        record(&self.pool, id, attempt).await
    }
    async fn list_deliveries(&self, app: &str, limit: u32) -> Result<Vec<crate::DeliveryRecord>> {
        list(&self.pool, app, limit).await
    }
    async fn get_alert_memory(&self, app: &str, env: &str) -> Result<Option<String>> {
        get_memory(&self.pool, app, env).await
    }
    async fn set_alert_memory(&self, app: &str, env: &str, state: Option<&str>) -> Result<()> {
        set_memory(&self.pool, app, env, state).await
    }
}
