//! `GET /apps/{app}/environments/{env}/cron`: the deployed version's periodic jobs, their next
//! runs (in the file's time zone, shown as instants) and the last run's result.

use axum::Json;
use axum::extract::{Path, State};
use sprout_api::cron::{CronJobView, CronListView};
use sprout_plan::cron::{Schedule, retry_at};

use super::error::ApiError;
use crate::context::Ctx;

/// How many next runs each job shows.
const NEXT_RUNS: usize = 3;

pub async fn list(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<CronListView>, ApiError> {
    let e = ctx.store.get_environment(&app, &env).await?;
    let version = ctx.store.get_version(&app, &e.version_label).await?;
    let def: sprout_model::Dockerrun = serde_json::from_str(&version.definition).map_err(|err| {
        ApiError::Internal(format!("stored definition of version {} is unreadable: {err}", version.label))
    })?;
    let dir = std::path::PathBuf::from(&version.bundle_path);
    let has_web = def.web_container().is_some();
    let file = tokio::task::spawn_blocking(move || crate::bundle::read_cron_yaml(&dir, has_web))
        .await
        .map_err(|err| ApiError::Internal(format!("reading cron.yaml failed: {err}")))?
        .map_err(ApiError::Internal)?;
    let Some(file) = file else {
        return Ok(Json(CronListView { version: version.label, timezone: None, jobs: Vec::new() }));
    };
    let runs = ctx.store.list_cron_runs(&app, &env).await?;
    let now = ctx.clock.now();
    let jobs = file
        .jobs
        .iter()
        .map(|job| {
            let schedule = Schedule::of(job, &file.timezone);
            let last = runs.iter().find(|r| r.job == job.name).cloned();
            CronJobView {
                name: job.name.clone(),
                url: job.url.clone(),
                schedule: job.schedule.clone(),
                next: schedule.as_ref().map(|s| s.upcoming(now, NEXT_RUNS)).unwrap_or_default(),
                retry_at: schedule.as_ref().zip(last.as_ref()).and_then(|(s, r)| retry_at(s, r)),
                last,
            }
        })
        .collect();
    Ok(Json(CronListView { version: version.label, timezone: Some(file.timezone), jobs }))
}
