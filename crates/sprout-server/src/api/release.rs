//! Release tasks over the API: which task a deploy runs (the request's `release`, else the
//! version's `sprout.yaml`), recording it in the deploy's state for the controller, and
//! `GET /apps/{app}/environments/{env}/release` (the run and its output so far, which
//! `sprout deploy` prints as it goes).
//!
//! Not here: running or judging it (`controller::release`, `sprout_plan::release`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use sprout_api::{ReleaseOutput, ReleaseRequest};
use sprout_model::Dockerrun;
use sprout_model::names::container_name;
use sprout_model::sprout_yaml::release::{DEFAULT_TIMEOUT_S, ReleaseTask, check_release_task};
use sprout_plan::batches::DeployState;
use sprout_plan::release::ReleaseRun;
use sprout_store::{EnvironmentRecord, VersionRecord};

use super::error::{ApiError, bad};
use crate::context::Ctx;

/// The release task a deploy of `version` runs: `flag` (checked against the version's
/// definition), else the version's `sprout.yaml` one, else none.
pub(crate) fn task_for(
    version: &VersionRecord,
    flag: Option<&ReleaseRequest>,
) -> Result<Option<ReleaseTask>, ApiError> {
    let def: Dockerrun = serde_json::from_str(&version.definition)
        .map_err(|e| ApiError::Internal(format!("stored definition of version {} is corrupt: {e}", version.label)))?;
    let from_file = crate::bundle::read_sprout_yaml(std::path::Path::new(&version.bundle_path), &def)
        .map_err(|e| bad(format!("the sprout.yaml of version {}: {e}", version.label), None))?
        .release;
    let Some(flag) = flag else { return Ok(from_file) };
    let task = ReleaseTask {
        container: flag.container.clone(),
        command: flag.command.clone(),
        timeout_s: flag.timeout_s.or(from_file.map(|t| t.timeout_s)).unwrap_or(DEFAULT_TIMEOUT_S),
    };
    check_release_task(&task, &def).map_err(|m| bad(m, None))?;
    Ok(Some(task))
}

/// Records `task` as the release task of the deploy `env` is starting (its version already set),
/// from `from` at `now`: the controller runs it before the first batch.
pub(crate) fn begin(env: &mut EnvironmentRecord, from: Option<String>, task: ReleaseTask, now: DateTime<Utc>) {
    let mut state = DeployState::begin(env, from, now);
    state.release = Some(ReleaseRun::new(new_release_id(), env.version_label.clone(), task));
    env.deploy_state = Some(serde_json::to_value(&state).expect("deploy state serializes"));
}

/// A release instance's id: `r-` and 10 hex digits from the OS's random source.
fn new_release_id() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).expect("the OS random source is available");
    format!("r-{}", hex::encode(b))
}

/// Lines of output `GET .../release` answers with at most.
const OUTPUT_LINES: usize = 1000;

/// `GET /apps/{app}/environments/{env}/release`.
pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<ReleaseOutput>, ApiError> {
    let e = ctx.store.get_environment(&app, &env).await?;
    let Some(run) = ReleaseRun::read(&e) else { return Ok(Json(ReleaseOutput { run: None, output: String::new() })) };
    let live = container_name(&app, &env, &run.instance, &run.task.container);
    let output = match ctx.engine.container_logs(&live, OUTPUT_LINES).await {
        Ok(text) => text,
        // Gone: the log saved when its instance was removed.
        Err(_) => {
            let saved = ctx
                .settings
                .instance_dir(&app, &env, &run.instance)
                .join(crate::logs::DOCKER_LOGS_DIR)
                .join(format!("{}.log", run.task.container));
            std::fs::read_to_string(saved).unwrap_or_default()
        }
    };
    Ok(Json(ReleaseOutput { run: Some(run), output }))
}
