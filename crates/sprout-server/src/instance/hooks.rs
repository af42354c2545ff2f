//! Running an instance's lifecycle hooks (the bundle's `sprout.yaml` `hooks:` section): each
//! hook's argv inside its container (`docker exec`), cut at its timeout. What a hook printed is
//! appended to `hooks/<container>.log` in the instance's directory (so `sprout logs --all`
//! shows it, also once the instance is gone) and an event says how it ended. A hook that fails
//! or hangs never holds up what comes next beyond its timeout.
//!
//! Not here: when hooks run (the retiring and launching tasks decide), parsing the section.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use sprout_model::Dockerrun;
use sprout_model::sprout_yaml::hooks::{Hook, HookPoint, Hooks};
use sprout_store::StoreError;

use super::ObservedInstance;
use crate::context::Ctx;
use crate::events::Event;

/// Under an instance directory: what each container's hooks printed.
pub const HOOKS_LOGS_DIR: &str = "hooks";

/// How much longer than a hook's own timeout the engine call may take (create, inspect) before
/// it is given up: a hook must never hold a stop for long.
const ENGINE_GRACE: Duration = Duration::from_secs(5);

/// The hooks of a version: its bundle's `sprout.yaml`, loaded against its definition. A version
/// the store no longer has, or a file that does not load, has none (said in the server log).
pub async fn hooks_of(ctx: &Ctx, app: &str, version: &str, def: &Dockerrun) -> Hooks {
    let record = match ctx.store.get_version(app, version).await {
        Ok(v) => v,
        Err(StoreError::NotFound { .. }) => return Hooks::default(),
        Err(e) => {
            tracing::warn!(app, version, "cannot read the version for its hooks: {e}");
            return Hooks::default();
        }
    };
    match crate::bundle::read_sprout_yaml(Path::new(&record.bundle_path), def) {
        Ok(y) => y.hooks,
        Err(e) => {
            tracing::warn!(app, version, "the version's sprout.yaml does not load, so no hooks run: {e}");
            Hooks::default()
        }
    }
}

/// Run every hook at `point` of `inst`'s containers (as the engine last showed them), side by
/// side, and return once each has ended or been cut at its timeout. A container that is not
/// running is skipped (its hook has nothing to run in); that is written to its hook log.
pub async fn run_hooks(ctx: &Ctx, (app, env): (&str, &str), inst: &ObservedInstance, hooks: &Hooks, point: HookPoint) {
    let find = |container: &str| {
        inst.container(container).map(|s| (s.name.clone(), s.state == sprout_engine::ContainerState::Running))
    };
    run_hooks_in(ctx, (app, env, &inst.id), &find, hooks, point).await
}

/// `run_hooks` for an instance known by id, `find` giving a definition's engine container name
/// and whether it runs.
pub async fn run_hooks_in(
    ctx: &Ctx,
    (app, env, instance): (&str, &str, &str),
    find: &(dyn Fn(&str) -> Option<(String, bool)> + Sync),
    hooks: &Hooks,
    point: HookPoint,
) {
    let dir = ctx.settings.instance_dir(app, env, instance).join(HOOKS_LOGS_DIR);
    let runs = hooks.at(point).into_iter().map(|(container, hook)| {
        let dir = dir.clone();
        async move {
            let Some((name, running)) = find(container) else { return };
            if !running {
                let line = format!(
                    "{} {} skipped: the container is not running\n",
                    ctx.clock.now().to_rfc3339(),
                    point.as_str()
                );
                append(&dir, container, &line);
                return;
            }
            let (ok, outcome) = run_one(ctx, &name, hook, point, &dir, container).await;
            let event = Event::HookRan {
                instance: instance.to_string(),
                container: container.to_string(),
                hook: point.as_str().to_string(),
                ok,
                outcome,
            };
            ctx.emit(app, Some(env), event).await;
        }
    });
    futures_util::future::join_all(runs).await;
}

/// One hook: run, log, and say how it ended.
async fn run_one(
    ctx: &Ctx,
    engine_name: &str,
    hook: &Hook,
    point: HookPoint,
    dir: &Path,
    container: &str,
) -> (bool, String) {
    let timeout = Duration::from_secs(hook.timeout_s);
    let started = tokio::time::Instant::now();
    let at = ctx.clock.now().to_rfc3339();
    let argv = serde_json::to_string(&hook.command).unwrap_or_default();
    let result =
        tokio::time::timeout(timeout + ENGINE_GRACE, ctx.engine.exec(engine_name, &hook.command, timeout)).await;
    let took = started.elapsed().as_secs_f64();
    let (ok, outcome, output) = match result {
        Ok(Ok(out)) if out.timed_out => {
            (false, format!("timed out after {}s and was cut; the stop goes on", hook.timeout_s), out.output)
        }
        Ok(Ok(out)) => match out.exit_code {
            Some(0) => (true, format!("succeeded in {took:.1}s"), out.output),
            Some(code) => {
                let last = out.output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
                let said = if last.is_empty() { String::new() } else { format!(": {}", clip(&last, 200)) };
                (false, format!("failed with exit code {code}{said}"), out.output)
            }
            None => (false, "ended without an exit code".to_string(), out.output),
        },
        Ok(Err(e)) => (false, format!("could not run: {e}"), String::new()),
        Err(_) => (
            false,
            format!("got no answer from the engine within {}s", (timeout + ENGINE_GRACE).as_secs()),
            String::new(),
        ),
    };
    let mut text = format!("{at} {} {argv}\n", point.as_str());
    text.push_str(&output);
    if !output.is_empty() && !output.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{} {} {outcome}\n", ctx.clock.now().to_rfc3339(), point.as_str()));
    append(dir, container, &text);
    (ok, outcome)
}

/// Append to `dir/<container>.log`; a log that cannot be written is said in the server log
/// (the event still says how the hook ended).
fn append(dir: &Path, container: &str, text: &str) {
    let path = dir.join(format!("{container}.log"));
    let r = std::fs::create_dir_all(dir).and_then(|_| {
        std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| f.write_all(text.as_bytes()))
    });
    if let Err(e) = r {
        tracing::warn!("cannot write the hook log {}: {e}", path.display());
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
}
