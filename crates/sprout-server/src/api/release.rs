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

/// Which release instance's output `GET .../release` answers with.
#[derive(Debug, serde::Deserialize)]
pub struct Which {
    /// A release instance (`r-...`, as its events name it); default: the deploy's current one.
    pub instance: Option<String>,
}

/// `GET /apps/{app}/environments/{env}/release[?instance=r-...]`: the deploy's release run, if
/// one is recorded, and the output of the asked instance (or the run's): the engine's log while
/// its task container exists, then the log saved when it was removed (saved before removal, so
/// one of the two always holds it). Asking by instance works after the deploy is over too.
pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    axum::extract::Query(which): axum::extract::Query<Which>,
) -> Result<Json<ReleaseOutput>, ApiError> {
    let e = ctx.store.get_environment(&app, &env).await?;
    let run = ReleaseRun::read(&e);
    let asked = which.instance.or_else(|| run.as_ref().map(|r| r.instance.clone()));
    let Some(instance) = asked else { return Ok(Json(ReleaseOutput { run, output: String::new() })) };
    if !instance.starts_with("r-") || !instance[2..].chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(format!("{instance:?} is not a release instance (r- and hex digits)"), None));
    }
    // The task's container: the run's, else whichever the saved logs or the engine show.
    let container = run.as_ref().filter(|r| r.instance == instance).map(|r| r.task.container.clone());
    let dir = ctx.settings.instance_dir(&app, &env, &instance).join(crate::logs::DOCKER_LOGS_DIR);
    let container = container.or_else(|| {
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| f.file_name().to_str()?.strip_suffix(".log").map(String::from))
            .collect();
        found.sort();
        (found.len() == 1).then(|| found.remove(0))
    });
    let Some(container) = container else { return Ok(Json(ReleaseOutput { run, output: String::new() })) };
    let live = container_name(&app, &env, &instance, &container);
    let output = match ctx.engine.container_logs(&live, OUTPUT_LINES).await {
        Ok(text) => text,
        Err(_) => std::fs::read_to_string(dir.join(format!("{container}.log"))).unwrap_or_default(),
    };
    Ok(Json(ReleaseOutput { run, output }))
}
