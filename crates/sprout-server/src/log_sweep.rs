//! Removing the logs of retired instances once their environment's `logs.retention` has passed
//! (`sprout_plan::log_retention` decides; this finds what is on disk and removes it).
//!
//! Runs once at start and then every `SWEEP_EVERY`. An instance counts as live while the engine
//! has any container of it, so nothing of a running (or stopped warm) instance is ever removed;
//! when the engine cannot be asked, nothing is removed. An environment that no longer exists
//! keeps the default retention, so `sprout logs --all` still reads a terminated environment's
//! last days.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_engine::LabelFilter;
use sprout_model::names::{LABEL_APP, LABEL_ENV, LABEL_INSTANCE, LABEL_SERVER};
use sprout_plan::log_retention::{DEFAULT_LOG_RETENTION_DAYS, KeptLogs, expired};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::logs::instance_dirs;

/// How often retired instances' logs are looked at.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Entries looked at per instance directory for its last write (containers write what they like
/// under `logs/`; the retirement's own writes are near the top).
const MAX_ENTRIES: usize = 2000;

/// Sweep now and every `SWEEP_EVERY` until cancelled.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    loop {
        sweep_once(&ctx).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// One sweep: removes every retired instance directory past its retention and returns the
/// instances removed, as `APP/ENV/INSTANCE`.
pub async fn sweep_once(ctx: &Ctx) -> Vec<String> {
    let labels = LabelFilter::from([(LABEL_SERVER.to_string(), ctx.settings.server_id.clone())]);
    let live: BTreeSet<(String, String, String)> = match ctx.engine.list_containers(&labels).await {
        Ok(containers) => containers
            .iter()
            .filter_map(|c| {
                let l = |k: &str| c.labels.get(k).cloned();
                Some((l(LABEL_APP)?, l(LABEL_ENV)?, l(LABEL_INSTANCE)?))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "log retention: the engine cannot say which instances run; nothing removed this time");
            return Vec::new();
        }
    };
    let retention: HashMap<(String, String), u32> = match ctx.store.list_environments(None).await {
        Ok(envs) => envs.into_iter().map(|e| ((e.app, e.name), e.options.logs.retention_days)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "log retention: environments could not be read; nothing removed this time");
            return Vec::new();
        }
    };
    let root = ctx.settings.data_dir.join("instances");
    let now = ctx.clock.now();
    let mut removed = Vec::new();
    for app in instance_dirs(&root) {
        for env in instance_dirs(&root.join(&app)) {
            let env_dir = root.join(&app).join(&env);
            let days = retention.get(&(app.clone(), env.clone())).copied().unwrap_or(DEFAULT_LOG_RETENTION_DAYS);
            let kept: Vec<KeptLogs> = instance_dirs(&env_dir)
                .into_iter()
                .map(|instance| KeptLogs {
                    last_written: last_written(&env_dir.join(&instance)),
                    live: live.contains(&(app.clone(), env.clone(), instance.clone())),
                    instance,
                })
                .collect();
            for instance in expired(&kept, now, days) {
                let dir = env_dir.join(&instance);
                match tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await {
                    Ok(Ok(())) => removed.push(format!("{app}/{env}/{instance}")),
                    Ok(Err(e)) => tracing::warn!(%app, %env, %instance, error = %e, "log retention: could not remove"),
                    Err(e) => tracing::warn!(error = %e, "log retention: removal task failed"),
                }
            }
        }
    }
    if !removed.is_empty() {
        tracing::info!(count = removed.len(), instances = ?removed, "log retention: removed the logs of retired instances");
    }
    removed
}

/// The latest modification time under `dir` (itself and up to `MAX_ENTRIES` entries below it,
/// symbolic links not followed), as UTC.
fn last_written(dir: &Path) -> DateTime<Utc> {
    let mut latest = modified(dir);
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return latest;
            }
            let path = entry.path();
            latest = latest.max(modified(&path));
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    latest
}

fn modified(path: &Path) -> DateTime<Utc> {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::UNIX_EPOCH)
}
