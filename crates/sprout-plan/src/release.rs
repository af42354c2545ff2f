//! A deploy's release task (`sprout.yaml`'s `release:`, or `sprout deploy --release`): run once,
//! in a one-off instance of the new version, before the first batch; the deploy goes on only
//! when it exits 0. This module decides, from the recorded run and what the engine shows of its
//! instance, what the controller does: start it, wait, judge it, remove what is left, and
//! whether launches of the new version wait.
//!
//! The run is recorded in the environment's `deploy_state` (`batches::DeployState::release`), so
//! every step is a compare-and-set write of the environment. It is marked running *before* its
//! instance is created, and judged only from its container's state and exit code, so a
//! restarted server never starts it twice: a container that exists (running or exited) is
//! waited for or judged; only a run whose container never started (not there, or created and
//! never started) is started again, since its command cannot have run.
//!
//! Not here: launching or removing the instance, reading its output (the server).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::environment::{EnvStatus, EnvironmentRecord};
use sprout_model::event::Event;
use sprout_model::sprout_yaml::release::ReleaseTask;

use crate::batches::DeployState;

/// Lines of output a failed task's event shows.
pub const TAIL_LINES: usize = 20;

/// One deploy's release task and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRun {
    /// The one-off instance's id (`r-` and hex digits): its containers' and network's names.
    pub instance: String,
    /// The version it runs (the deploy's target).
    pub version: String,
    pub task: ReleaseTask,
    pub phase: ReleasePhase,
}

/// Where a release task stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum ReleasePhase {
    /// Asked for; nothing created yet.
    Pending,
    /// Marked running (its instance is being, or was, created) at `started_at`.
    Running {
        started_at: DateTime<Utc>,
    },
    Succeeded {
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    },
    Failed {
        reason: String,
        exit_code: Option<i64>,
        tail: String,
        finished_at: DateTime<Utc>,
    },
}

impl ReleaseRun {
    pub fn new(instance: String, version: String, task: ReleaseTask) -> Self {
        ReleaseRun { instance, version, task, phase: ReleasePhase::Pending }
    }

    /// The run recorded in `env`'s deploy state, if any.
    pub fn read(env: &EnvironmentRecord) -> Option<ReleaseRun> {
        DeployState::read(env).and_then(|s| s.release)
    }

    pub fn is_done(&self) -> bool {
        matches!(self.phase, ReleasePhase::Succeeded { .. } | ReleasePhase::Failed { .. })
    }
}

/// What the engine shows of a release task's task container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSeen {
    /// Created and never started: its command has not run.
    Created,
    Running,
    Exited {
        code: i64,
        oom: bool,
    },
    /// Anything else (restarting, paused, dead, being removed): waited for until the timeout.
    Other(String),
}

/// Everything `plan_release` looks at.
#[derive(Debug, Clone)]
pub struct ReleaseInput<'a> {
    pub env: &'a EnvironmentRecord,
    /// The task container of the recorded run's instance, when the engine shows it.
    pub seen: Option<TaskSeen>,
    /// Its last lines of output, read when `needs_tail` says so; else empty.
    pub tail: String,
    /// Its launch is in flight in this server.
    pub launching: bool,
    /// Its launch failed (the launch removed what it had created), with the error.
    pub launch_error: Option<String>,
    /// Release instances on the engine (any run of this environment), by id.
    pub on_engine: Vec<String>,
    pub now: DateTime<Utc>,
}

/// What the controller does about the release task this pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleasePlan {
    /// The environment to write (compare-and-set) before anything else.
    pub write: Option<EnvironmentRecord>,
    /// Said once the write has landed.
    pub events: Vec<Event>,
    /// Launch the run's instance (after removing anything left of it).
    pub start: Option<ReleaseRun>,
    /// Release instances to stop and remove (output saved to the logs first).
    pub remove: Vec<String>,
    /// Set while launches of the environment's version must wait for the task: why.
    pub gate: Option<String>,
}

/// Decides the release step: see the module's documentation.
pub fn plan_release(input: &ReleaseInput) -> ReleasePlan {
    let env = input.env;
    let mut plan = ReleasePlan::default();
    let run = ReleaseRun::read(env).filter(|r| r.version == env.version_label && env.status != EnvStatus::Terminating);
    // Whatever is on the engine and is not the current, unfinished run goes.
    let keep = run.as_ref().filter(|r| !r.is_done() || input.launching).map(|r| r.instance.as_str());
    plan.remove = input.on_engine.iter().filter(|i| Some(i.as_str()) != keep).cloned().collect();
    let Some(run) = run else { return plan };
    let now = input.now;
    match &run.phase {
        ReleasePhase::Succeeded { .. } => {}
        ReleasePhase::Failed { reason, .. } => {
            // Only a first deploy stays here (a later one rolls back): its version waits for a
            // new deploy rather than run without its release task.
            plan.gate = Some(format!("the release task of version {} failed: {reason}; deploy again", run.version));
        }
        ReleasePhase::Pending => {
            let mut started = run.clone();
            started.phase = ReleasePhase::Running { started_at: now };
            plan.events.push(Event::ReleaseTaskStarted {
                version: run.version.clone(),
                instance: run.instance.clone(),
                container: run.task.container.clone(),
                command: run.task.command.join(" "),
            });
            plan.write = Some(with_run(env, started.clone(), now));
            plan.start = Some(started);
            plan.gate = Some(waiting(&run));
        }
        ReleasePhase::Running { started_at } => {
            let started_at = *started_at;
            plan.gate = Some(waiting(&run));
            let timed_out = now > started_at + chrono::Duration::seconds(run.task.timeout_s as i64);
            let outcome = match (&input.seen, &input.launch_error) {
                (Some(TaskSeen::Exited { code: 0, .. }), _) => Some(Ok(())),
                (Some(TaskSeen::Exited { code, oom }), _) => {
                    let why = if *oom { " (killed: out of memory)" } else { "" };
                    Some(Err((format!("exit code {code}{why}"), Some(*code))))
                }
                (None, Some(error)) if !input.launching => Some(Err((format!("could not be launched: {error}"), None))),
                _ if timed_out => Some(Err((format!("timed out after {} s", run.task.timeout_s), None))),
                (None | Some(TaskSeen::Created), None) if !input.launching => {
                    // Its instance was cut short before the command ran (a server stopped
                    // mid-launch): start it again, in place of what is left.
                    plan.start = Some(run.clone());
                    plan.remove.retain(|i| *i != run.instance);
                    None
                }
                _ => None,
            };
            match outcome {
                None => {}
                Some(Ok(())) => {
                    let mut done = run.clone();
                    done.phase = ReleasePhase::Succeeded { started_at, finished_at: now };
                    plan.events.push(Event::ReleaseTaskSucceeded {
                        version: run.version.clone(),
                        instance: run.instance.clone(),
                        seconds: (now - started_at).num_seconds(),
                    });
                    plan.write = Some(with_run(env, done, now));
                    plan.gate = None;
                    plan.remove.push(run.instance.clone());
                }
                Some(Err((reason, exit_code))) => {
                    fail(&mut plan, env, &run, reason, exit_code, input.tail.clone(), now)
                }
            }
        }
    }
    plan
}

/// Whether the controller should read the task container's last lines for this look: it has
/// exited, or it runs past its timeout (the failure's event shows them).
pub fn needs_tail(env: &EnvironmentRecord, seen: Option<&TaskSeen>, now: DateTime<Utc>) -> bool {
    let Some(run) = ReleaseRun::read(env).filter(|r| r.version == env.version_label) else { return false };
    let ReleasePhase::Running { started_at } = run.phase else { return false };
    match seen {
        Some(TaskSeen::Exited { .. }) => true,
        Some(_) => now > started_at + chrono::Duration::seconds(run.task.timeout_s as i64),
        None => false,
    }
}

fn waiting(run: &ReleaseRun) -> String {
    format!("launches wait for the release task of version {} ({})", run.version, run.task.command.join(" "))
}

/// `env` with `run` recorded in its deploy state.
fn with_run(env: &EnvironmentRecord, run: ReleaseRun, now: DateTime<Utc>) -> EnvironmentRecord {
    let mut env = env.clone();
    let mut state = DeployState::read(&env).unwrap_or_else(|| DeployState::begin(&env, None, now));
    state.release = Some(run);
    env.deploy_state = Some(serde_json::to_value(&state).expect("deploy state serializes"));
    env.updated_at = now;
    env
}

/// The task failed: the deploy ends before any instance was replaced, back on the version that
/// served before (a first deploy keeps its version, and its launches wait for a new deploy).
fn fail(
    plan: &mut ReleasePlan,
    env: &EnvironmentRecord,
    run: &ReleaseRun,
    reason: String,
    exit_code: Option<i64>,
    tail: String,
    now: DateTime<Utc>,
) {
    let tail = last_lines(&tail, TAIL_LINES);
    let mut failed = run.clone();
    failed.phase = ReleasePhase::Failed { reason: reason.clone(), exit_code, tail: tail.clone(), finished_at: now };
    let mut next = with_run(env, failed, now);
    let why = format!("release task failed: {reason}");
    let rollback_to =
        crate::progress::roll_back(&mut next, format!("deploy of version {} stopped: {why}", run.version), now);
    if rollback_to.is_none() && next.last_good_version.as_deref() != Some(next.version_label.as_str()) {
        // `roll_back` forgets the deploy state with nothing to go back to; keep the failed run,
        // which holds the version's launches back.
        next = with_run(&next, run_failed(run, &reason, exit_code, &tail, now), now);
    }
    plan.events.push(Event::ReleaseTaskFailed {
        version: run.version.clone(),
        instance: run.instance.clone(),
        reason: reason.clone(),
        tail,
    });
    plan.events.push(Event::DeployFailed {
        version: run.version.clone(),
        reason: why,
        rollback_to: rollback_to.clone(),
    });
    plan.gate = rollback_to.is_none().then(|| format!("the release task of version {} failed: {reason}", run.version));
    plan.write = Some(next);
    plan.remove.push(run.instance.clone());
    plan.remove.dedup();
    plan.start = None;
}

fn run_failed(run: &ReleaseRun, reason: &str, exit_code: Option<i64>, tail: &str, now: DateTime<Utc>) -> ReleaseRun {
    let mut r = run.clone();
    r.phase = ReleasePhase::Failed { reason: reason.to_string(), exit_code, tail: tail.to_string(), finished_at: now };
    r
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests;
