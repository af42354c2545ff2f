//! The cron controller, the edge around `sprout_plan::cron`: every second, for every environment
//! whose deployed version has a `cron.yaml`, it reads each job's last claimed run from the store,
//! asks `decide_job` what is due, and acts. A due instant is claimed in the store first (a
//! compare-and-set on the instant), then `POST url` goes to exactly one in-service instance,
//! straight to its container on host port 80 (the address the health checker uses; a worker has
//! no load-balancer route), with Elastic Beanstalk's worker headers. The outcome is written
//! back and said as an event; a failure is tried again with back-off until the next run.
//!
//! At most once per instant: a run found `Sending` after a restart (outcome unknown) is not
//! sent again; an instant missed while the server was down is sent once when it is back, if no
//! later instant has come. Not here: what is due (pure, `sprout_plan::cron`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_plan::cron::{CronFile, CronJob, CronStep, Schedule, decide_job, retry_at};
use sprout_store::{CronRun, CronRunState, EnvStatus, EnvironmentRecord};
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};
use crate::events::Event;

/// How long one job's `POST` may take, connect to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long after a second's boundary the controller looks, so a job due at that second goes
/// within a few milliseconds of it.
const AFTER_BOUNDARY: Duration = Duration::from_millis(20);

/// Each version's cron file, read once (versions are immutable).
type Files = HashMap<(String, String), Option<CronFile>>;

/// Run until cancelled.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    let mut files: Files = HashMap::new();
    let in_flight: std::sync::Arc<std::sync::Mutex<HashSet<(EnvKey, String)>>> = Default::default();
    loop {
        let into = u64::from(ctx.clock.now().timestamp_subsec_millis()).min(999);
        let wait = Duration::from_millis(1000 - into) + AFTER_BOUNDARY;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let envs = match ctx.store.list_environments(None).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("cron controller cannot read environments: {e}");
                continue;
            }
        };
        for env in envs.iter().filter(|e| e.status != EnvStatus::Terminating) {
            let Some(file) = cron_file(&ctx, &mut files, env).await else { continue };
            if let Err(e) = look(&ctx, env, &file, &in_flight).await {
                tracing::warn!(app = %env.app, env = %env.name, "cron controller: {e}");
            }
        }
    }
}

/// The deployed version's cron file, if it has one.
async fn cron_file(ctx: &Ctx, files: &mut Files, env: &EnvironmentRecord) -> Option<CronFile> {
    let key = (env.app.clone(), env.version_label.clone());
    if let Some(f) = files.get(&key) {
        return f.clone();
    }
    let version = ctx.store.get_version(&env.app, &env.version_label).await.ok()?;
    let def: sprout_model::Dockerrun = serde_json::from_str(&version.definition).ok()?;
    let dir = std::path::PathBuf::from(&version.bundle_path);
    let has_web = def.web_container().is_some();
    let file = match tokio::task::spawn_blocking(move || crate::bundle::read_cron_yaml(&dir, has_web)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            tracing::warn!(app = %env.app, version = %env.version_label, "cron.yaml is not usable: {e}");
            None
        }
        Err(_) => return None,
    };
    files.insert(key, file.clone());
    file
}

/// One look at one environment's jobs.
async fn look(
    ctx: &Ctx,
    env: &EnvironmentRecord,
    file: &CronFile,
    in_flight: &std::sync::Arc<std::sync::Mutex<HashSet<(EnvKey, String)>>>,
) -> Result<(), sprout_store::StoreError> {
    let now = whole_second(ctx.clock.now());
    let runs: HashMap<String, CronRun> =
        ctx.store.list_cron_runs(&env.app, &env.name).await?.into_iter().map(|r| (r.job.clone(), r)).collect();
    for job in &file.jobs {
        let flight = (env.id(), job.name.clone());
        if in_flight.lock().unwrap().contains(&flight) {
            continue;
        }
        let Some(schedule) = Schedule::of(job, &file.timezone) else { continue };
        let last = runs.get(&job.name);
        let fresh = |instant, state, attempts| CronRun {
            app: env.app.clone(),
            env: env.name.clone(),
            job: job.name.clone(),
            instant,
            state,
            attempts,
            outcome: String::new(),
            instance: String::new(),
            updated_at: now,
        };
        let run = match decide_job(&schedule, last, now) {
            CronStep::Wait => continue,
            CronStep::Baseline => {
                ctx.store.claim_cron_run(&fresh(now, CronRunState::Baseline, 0), true).await?;
                continue;
            }
            CronStep::Send { instant } => {
                let run = fresh(instant, CronRunState::Sending, 1);
                if !ctx.store.claim_cron_run(&run, false).await? {
                    continue;
                }
                run
            }
            CronStep::Retry { instant, attempt } => {
                let run = CronRun { attempts: attempt, ..fresh(instant, CronRunState::Sending, attempt) };
                ctx.store.update_cron_run(&run).await?;
                run
            }
        };
        in_flight.lock().unwrap().insert(flight.clone());
        let (ctx, job, in_flight) = (ctx.clone(), job.clone(), in_flight.clone());
        tokio::spawn(async move {
            send(&ctx, &job, &schedule, run).await;
            in_flight.lock().unwrap().remove(&flight);
        });
    }
    Ok(())
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// One in-service instance with an address, chosen in turn by the instant.
fn pick_instance(ctx: &Ctx, app: &str, env: &str, instant: DateTime<Utc>) -> Option<(String, String)> {
    let snaps = ctx.snapshots.lock().unwrap();
    let snap = snaps.get(&EnvKey::new(app, env))?;
    let mut ready: Vec<(String, String)> = snap
        .instances
        .iter()
        .filter(|i| i.in_service)
        .filter_map(|i| i.address.clone().map(|a| (i.id.clone(), a)))
        .collect();
    ready.sort();
    let n = ready.len();
    (n > 0).then(|| ready.swap_remove((instant.timestamp() / 60).rem_euclid(n as i64) as usize))
}

/// Send one try of `run` and record it.
async fn send(ctx: &Ctx, job: &CronJob, schedule: &Schedule, mut run: CronRun) {
    let scheduled_at = run.instant.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (instance, outcome) = match pick_instance(ctx, &run.app, &run.env, run.instant) {
        None => (String::new(), Err("no instance in service".to_string())),
        Some((instance, addr)) => {
            let headers = [
                ("X-Aws-Sqsd-Taskname", job.name.clone()),
                ("X-Aws-Sqsd-Scheduled-At", scheduled_at.clone()),
                ("X-Aws-Sqsd-Sender-Id", "sprout".to_string()),
                ("Content-Type", "application/json".to_string()),
            ];
            let answer = crate::http_call::call(&addr, "POST", &job.url, &headers, SEND_TIMEOUT).await;
            let outcome = match answer {
                Ok(a) if (200..300).contains(&a.status) => Ok(format!("POST {} returned {}", job.url, a.status)),
                Ok(a) => Err(format!("POST {} returned {}", job.url, a.status)),
                Err(e) => Err(e),
            };
            (instance, outcome)
        }
    };
    run.updated_at = whole_second(ctx.clock.now());
    run.instance = instance.clone();
    let ok = outcome.is_ok();
    run.state = if ok { CronRunState::Succeeded } else { CronRunState::Failed };
    run.outcome = match outcome {
        Ok(o) | Err(o) => o,
    };
    if let Err(e) = ctx.store.update_cron_run(&run).await {
        tracing::warn!(app = %run.app, env = %run.env, job = %run.job, "cannot record the cron run: {e}");
    }
    let retry_in_s = retry_at(schedule, &run).map(|at| (at - run.updated_at).num_seconds().max(0) as u64);
    let event = Event::CronJobRan {
        job: job.name.clone(),
        scheduled_at,
        instance,
        ok,
        outcome: run.outcome.clone(),
        retry_in_s,
    };
    ctx.emit(&run.app, Some(&run.env), event).await;
}
