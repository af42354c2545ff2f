//! SQLite statements for environments, under the store's cache (`cache`): the `Store`
//! methods that call these forget what they change, whatever their outcome.

use super::{insert_error, not_found, rows};
use crate::{EnvironmentRecord, Result, StoreError};

impl super::SqliteStore {
    pub(super) async fn insert_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO environments
                (app, name, version_label, last_good_version, desired_instances, status,
                 variables, deploy_deadline, last_error, created_at, updated_at, options, deploy_state)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&env.app)
        .bind(&env.name)
        .bind(&env.version_label)
        .bind(&env.last_good_version)
        .bind(i64::from(env.desired_instances))
        .bind(env.status.as_str())
        .bind(rows::variables_json(&env.variables))
        .bind(env.deploy_deadline.map(rows::micros))
        .bind(&env.last_error)
        .bind(rows::micros(env.created_at))
        .bind(rows::micros(env.updated_at))
        .bind(rows::json(&env.options))
        .bind(env.deploy_state.as_ref().map(rows::json))
        .execute(&self.pool)
        .await
        .map_err(|err| {
            let name = format!("{}/{}", env.app, env.name);
            insert_error(err, "environment", name, Some(&env.app))
        })?;
        Ok(())
    }

    pub(super) async fn write_environment(&self, env: &mut EnvironmentRecord) -> Result<()> {
        // Everything but the key and created_at: an environment's birth does not change. Only
        // from the revision it was read at, so a writer never undoes a change it did not see.
        let done = sqlx::query(
            "UPDATE environments SET
                version_label = ?, last_good_version = ?, desired_instances = ?, status = ?,
                variables = ?, deploy_deadline = ?, last_error = ?, updated_at = ?,
                options = ?, deploy_state = ?, revision = revision + 1
             WHERE app = ? AND name = ? AND revision = ?",
        )
        .bind(&env.version_label)
        .bind(&env.last_good_version)
        .bind(i64::from(env.desired_instances))
        .bind(env.status.as_str())
        .bind(rows::variables_json(&env.variables))
        .bind(env.deploy_deadline.map(rows::micros))
        .bind(&env.last_error)
        .bind(rows::micros(env.updated_at))
        .bind(rows::json(&env.options))
        .bind(env.deploy_state.as_ref().map(rows::json))
        .bind(&env.app)
        .bind(&env.name)
        .bind(env.revision)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            env.revision += 1;
            return Ok(());
        }
        let name = format!("{}/{}", env.app, env.name);
        let exists = sqlx::query("SELECT 1 FROM environments WHERE app = ? AND name = ?")
            .bind(&env.app)
            .bind(&env.name)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        Err(if exists { StoreError::Stale { kind: "environment", name } } else { not_found("environment", name) })
    }

    pub(super) async fn remove_environment(&self, app: &str, name: &str) -> Result<()> {
        // Its events stay: they are the environment's history. Its secrets and measures go with it.
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM environments WHERE app = ? AND name = ?")
            .bind(app)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM secrets WHERE app = ? AND env = ?").bind(app).bind(name).execute(&mut *tx).await?;
        // A new environment of the same name has not woken yet.
        sqlx::query("DELETE FROM wake_times WHERE app = ? AND env = ?").bind(app).bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(not_found("environment", format!("{app}/{name}")));
        }
        Ok(())
    }
}
