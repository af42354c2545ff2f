//! SQLite statements for periodic jobs' runs (migration 0011). Instants as Unix seconds.

use chrono::DateTime;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{CronRun, CronRunState, Result, StoreError};

fn run(row: &SqliteRow) -> Result<CronRun> {
    let job: String = row.try_get("job")?;
    let corrupt = |m: String| StoreError::Corrupt { what: format!("cron run of job {job}"), message: m };
    let time = |v: i64| DateTime::from_timestamp(v, 0).ok_or_else(|| corrupt(format!("time {v} is out of range")));
    let state: String = row.try_get("state")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(CronRun {
        app: row.try_get("app")?,
        env: row.try_get("env")?,
        instant: time(row.try_get("instant")?)?,
        state: CronRunState::parse(&state).ok_or_else(|| corrupt(format!("unknown state {state}")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        outcome: row.try_get("outcome")?,
        instance: row.try_get("instance")?,
        updated_at: time(row.try_get("updated_at")?)?,
        job,
    })
}

#[async_trait::async_trait]
impl crate::CronStore for super::SqliteStore {
    async fn list_cron_runs(&self, app: &str, env: &str) -> Result<Vec<CronRun>> {
        let rows = sqlx::query("SELECT * FROM cron_runs WHERE app = ? AND env = ? ORDER BY job")
            .bind(app)
            .bind(env)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run).collect()
    }

    async fn claim_cron_run(&self, r: &CronRun, only_if_new: bool) -> Result<bool> {
        let sql = if only_if_new {
            "INSERT INTO cron_runs (app, env, job, instant, state, attempts, outcome, instance, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, env, job) DO NOTHING"
        } else {
            "INSERT INTO cron_runs (app, env, job, instant, state, attempts, outcome, instance, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (app, env, job) DO UPDATE SET instant = excluded.instant, state = excluded.state,
                 attempts = excluded.attempts, outcome = excluded.outcome, instance = excluded.instance,
                 updated_at = excluded.updated_at
             WHERE cron_runs.instant < excluded.instant"
        };
        let done = sqlx::query(sql)
            .bind(&r.app)
            .bind(&r.env)
            .bind(&r.job)
            .bind(r.instant.timestamp())
            .bind(r.state.as_str())
            .bind(i64::from(r.attempts))
            .bind(&r.outcome)
            .bind(&r.instance)
            .bind(r.updated_at.timestamp())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_cron_run(&self, r: &CronRun) -> Result<()> {
        sqlx::query(
            "UPDATE cron_runs SET state = ?, attempts = ?, outcome = ?, instance = ?, updated_at = ?
             WHERE app = ? AND env = ? AND job = ? AND instant = ?",
        )
        .bind(r.state.as_str())
        .bind(i64::from(r.attempts))
        .bind(&r.outcome)
        .bind(&r.instance)
        .bind(r.updated_at.timestamp())
        .bind(&r.app)
        .bind(&r.env)
        .bind(&r.job)
        .bind(r.instant.timestamp())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
