//! SQLite statements for version images, version deletion, lifecycle policies (migration
//! 0003), host access policies (0005) and saved configurations (0009). Kept apart from the parent module so that its trait impl only delegates here.

use sqlx::{Row, SqlitePool};

use super::{not_found, rows};
use crate::{LifecyclePolicy, Result, VersionImages};

pub(super) async fn delete_version(pool: &SqlitePool, app: &str, label: &str) -> Result<()> {
    let done =
        sqlx::query("DELETE FROM versions WHERE app = ? AND label = ?").bind(app).bind(label).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(not_found("version", format!("{app}/{label}")));
    }
    Ok(())
}

pub(super) async fn set_version_images(
    pool: &SqlitePool,
    app: &str,
    label: &str,
    images: &VersionImages,
) -> Result<()> {
    let done = sqlx::query("UPDATE versions SET images = ? WHERE app = ? AND label = ?")
        .bind(rows::json(images))
        .bind(app)
        .bind(label)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("version", format!("{app}/{label}")));
    }
    Ok(())
}

pub(super) async fn get_version_images(pool: &SqlitePool, app: &str, label: &str) -> Result<Option<VersionImages>> {
    let row = sqlx::query("SELECT images FROM versions WHERE app = ? AND label = ?")
        .bind(app)
        .bind(label)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found("version", format!("{app}/{label}")))?;
    let text: Option<String> = row.try_get("images")?;
    text.map(|t| rows::from_json(&t, &format!("version {app}/{label}"), "images")).transpose()
}

/// An application's JSON policy columns; each statement is written out (sqlx takes static SQL).
#[derive(Clone, Copy)]
enum PolicyColumn {
    Lifecycle,
    HostAccess,
    SavedConfigurations,
}

impl PolicyColumn {
    fn name(self) -> &'static str {
        match self {
            PolicyColumn::Lifecycle => "lifecycle",
            PolicyColumn::HostAccess => "host_access",
            PolicyColumn::SavedConfigurations => "saved_configurations",
        }
    }
    fn select(self) -> &'static str {
        match self {
            PolicyColumn::Lifecycle => "SELECT lifecycle FROM applications WHERE name = ?",
            PolicyColumn::HostAccess => "SELECT host_access FROM applications WHERE name = ?",
            PolicyColumn::SavedConfigurations => "SELECT saved_configurations FROM applications WHERE name = ?",
        }
    }
    fn update(self) -> &'static str {
        match self {
            PolicyColumn::Lifecycle => "UPDATE applications SET lifecycle = ? WHERE name = ?",
            PolicyColumn::HostAccess => "UPDATE applications SET host_access = ? WHERE name = ?",
            PolicyColumn::SavedConfigurations => "UPDATE applications SET saved_configurations = ? WHERE name = ?",
        }
    }
}

/// One of an application's JSON policy columns: the default when none was set.
async fn get_app_policy<T: serde::de::DeserializeOwned + Default>(
    pool: &SqlitePool,
    app: &str,
    column: PolicyColumn,
) -> Result<T> {
    let row = sqlx::query(column.select())
        .bind(app)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found("application", app.to_string()))?;
    let text: Option<String> = row.try_get(column.name())?;
    match text {
        Some(t) => rows::from_json(&t, &format!("application {app}"), column.name()),
        None => Ok(T::default()),
    }
}

async fn set_app_policy<T: serde::Serialize>(
    pool: &SqlitePool,
    app: &str,
    column: PolicyColumn,
    policy: &T,
) -> Result<()> {
    let done = sqlx::query(column.update()).bind(rows::json(policy)).bind(app).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(not_found("application", app.to_string()));
    }
    Ok(())
}

pub(super) async fn get_lifecycle(pool: &SqlitePool, app: &str) -> Result<LifecyclePolicy> {
    get_app_policy(pool, app, PolicyColumn::Lifecycle).await
}

pub(super) async fn set_lifecycle(pool: &SqlitePool, app: &str, policy: &LifecyclePolicy) -> Result<()> {
    set_app_policy(pool, app, PolicyColumn::Lifecycle, policy).await
}

pub(super) async fn get_host_access(pool: &SqlitePool, app: &str) -> Result<crate::HostAccessPolicy> {
    get_app_policy(pool, app, PolicyColumn::HostAccess).await
}

pub(super) async fn set_host_access(pool: &SqlitePool, app: &str, policy: &crate::HostAccessPolicy) -> Result<()> {
    set_app_policy(pool, app, PolicyColumn::HostAccess, policy).await
}

pub(super) async fn get_saved_configurations(pool: &SqlitePool, app: &str) -> Result<crate::SavedConfigurations> {
    get_app_policy(pool, app, PolicyColumn::SavedConfigurations).await
}

pub(super) async fn set_saved_configurations(
    pool: &SqlitePool,
    app: &str,
    saved: &crate::SavedConfigurations,
) -> Result<()> {
    set_app_policy(pool, app, PolicyColumn::SavedConfigurations, saved).await
}
