//! `GET /apps/{app}/environments/{env}/logs?instance=&container=&tail=&all=`: the last lines of
//! every log of an environment, per instance and container. Running instances give their
//! engine log (asked live) and their log volume files; with `all=true`, instances already
//! retired give what was kept of them. Works after the environment is terminated, too.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sprout_engine::LabelFilter;
use sprout_model::names::{LABEL_APP, LABEL_CONTAINER, LABEL_ENV, LABEL_INSTANCE, LABEL_SERVER};

use super::error::ApiError;
use crate::context::Ctx;
use crate::logs::{LogChunk, LogFilter, instance_dirs, read_instance_files};

/// Lines per log unless asked otherwise, and the most a request may ask for.
const DEFAULT_TAIL: usize = 100;
const MAX_TAIL: usize = 100_000;

#[derive(Deserialize)]
pub struct LogQuery {
    pub instance: Option<String>,
    pub container: Option<String>,
    pub tail: Option<usize>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Serialize)]
pub struct LogsView {
    pub app: String,
    pub env: String,
    pub logs: Vec<LogChunk>,
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Json<LogsView>, ApiError> {
    ctx.store.get_application(&app).await?;
    let filter =
        LogFilter { instance: q.instance, container: q.container, tail: q.tail.unwrap_or(DEFAULT_TAIL).min(MAX_TAIL) };

    let labels = LabelFilter::from([
        (LABEL_SERVER.to_string(), ctx.settings.server_id.clone()),
        (LABEL_APP.to_string(), app.clone()),
        (LABEL_ENV.to_string(), env.clone()),
    ]);
    let mut containers = ctx.engine.list_containers(&labels).await?;
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut live = BTreeSet::new();
    let mut logs = Vec::new();
    for c in &containers {
        let (Some(instance), Some(container)) = (c.labels.get(LABEL_INSTANCE), c.labels.get(LABEL_CONTAINER)) else {
            continue;
        };
        live.insert(instance.clone());
        if !filter.wants(instance, container) {
            continue;
        }
        let text = match ctx.engine.container_logs(&c.name, filter.tail).await {
            Ok(t) => t,
            // Removed between the listing and now: its saved log is on disk (see `all`).
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        logs.push(LogChunk {
            instance: instance.clone(),
            container: container.clone(),
            source: "docker".into(),
            live: true,
            text,
        });
    }

    let env_dir = ctx.settings.data_dir.join("instances").join(&app).join(&env);
    let dirs = instance_dirs(&env_dir);
    for id in &dirs {
        let is_live = live.contains(id);
        if is_live || q.all {
            logs.extend(read_instance_files(&env_dir.join(id), id, is_live, !is_live, &filter));
        }
    }
    if logs.is_empty() && live.is_empty() && dirs.is_empty() {
        // Neither running nor ever run here: most likely a typo.
        ctx.store.get_environment(&app, &env).await?;
    }
    Ok(Json(LogsView { app, env, logs }))
}
