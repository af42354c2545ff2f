//! SQLite statements for version images, version deletion, lifecycle policies (migration
//! 0003) and host access policies (0005). Kept apart from the parent module so that its trait impl only delegates here.

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

pub(super) async fn get_lifecycle(pool: &SqlitePool, app: &str) -> Result<LifecyclePolicy> {
    let row = sqlx::query("SELECT lifecycle FROM applications WHERE name = ?")
        .bind(app)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found("application", app.to_string()))?;
    let text: Option<String> = row.try_get("lifecycle")?;
    match text {
        Some(t) => rows::from_json(&t, &format!("application {app}"), "lifecycle"),
        None => Ok(LifecyclePolicy::default()),
    }
}

pub(super) async fn set_lifecycle(pool: &SqlitePool, app: &str, policy: &LifecyclePolicy) -> Result<()> {
    let done = sqlx::query("UPDATE applications SET lifecycle = ? WHERE name = ?")
        .bind(rows::json(policy))
        .bind(app)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("application", app.to_string()));
    }
    Ok(())
}

pub(super) async fn get_host_access(pool: &SqlitePool, app: &str) -> Result<crate::HostAccessPolicy> {
    let row = sqlx::query("SELECT host_access FROM applications WHERE name = ?")
        .bind(app)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found("application", app.to_string()))?;
    let text: Option<String> = row.try_get("host_access")?;
    match text {
        Some(t) => rows::from_json(&t, &format!("application {app}"), "host_access"),
        None => Ok(crate::HostAccessPolicy::default()),
    }
}

pub(super) async fn set_host_access(pool: &SqlitePool, app: &str, policy: &crate::HostAccessPolicy) -> Result<()> {
    let done = sqlx::query("UPDATE applications SET host_access = ? WHERE name = ?")
        .bind(rows::json(policy))
        .bind(app)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("application", app.to_string()));
    }
    Ok(())
}
