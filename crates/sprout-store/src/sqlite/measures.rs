//! SQLite statements for an environment's measures (migration 0014). Wakes in milliseconds,
//! instants as Unix seconds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, StoreError};

#[async_trait::async_trait]
impl crate::MeasureStore for super::SqliteStore {
    async fn get_wake_time(&self, app: &str, env: &str) -> Result<Option<Duration>> {
        let row = sqlx::query("SELECT wake_ms FROM wake_times WHERE app = ? AND env = ?")
            .bind(app)
            .bind(env)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let ms: i64 = row.try_get("wake_ms")?;
        let ms = u64::try_from(ms).map_err(|_| StoreError::Corrupt {
            what: format!("wake time of environment {app}/{env}"),
            message: format!("{ms} ms is negative"),
        })?;
        Ok(Some(Duration::from_millis(ms)))
    }

    async fn set_wake_time(&self, app: &str, env: &str, wake: Duration, at: DateTime<Utc>) -> Result<()> {
        let ms = i64::try_from(wake.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO wake_times (app, env, wake_ms, measured_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (app, env) DO UPDATE SET wake_ms = excluded.wake_ms, measured_at = excluded.measured_at",
        )
        .bind(app)
        .bind(env)
        .bind(ms)
        .bind(at.timestamp())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
