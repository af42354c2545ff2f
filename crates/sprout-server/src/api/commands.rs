//! One-off commands: `POST .../exec` runs a command in a running container of the environment
//! (`docker exec`), `POST .../run` starts a one-off instance of a version and runs the command
//! in it (`docker run --rm`), removed afterwards. Both stream the process's input, output and
//! exit code over the upgraded connection (`sprout_api::command` has the framing), and both say
//! an event when the command ends.
//!
//! Everything that can fail before the process starts (names, the container, the launch) is
//! checked before the upgrade, so it is an ordinary JSON error.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use sprout_api::command::{self as wire, ExecRequest, RunRequest};
use sprout_engine::{Attached, ContainerState, ExecSpec, OutputKind};
use sprout_model::Dockerrun;
use sprout_model::names::container_name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::events::Event;

/// `sprout run` instances whose command this server is streaming: the environment's controller
/// removes any other `run` instance it finds (one left by a server that stopped meanwhile).
pub static LIVE_RUNS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The `sprout run` instances this server streams now.
pub fn live_runs() -> HashSet<String> {
    LIVE_RUNS.lock().unwrap().clone().unwrap_or_default()
}

#[derive(Debug, serde::Deserialize)]
pub struct Spec {
    pub spec: String,
}

fn parse<T: serde::de::DeserializeOwned>(spec: &str) -> Result<T, ApiError> {
    let parsed: T =
        serde_json::from_str(spec).map_err(|e| bad(format!("the command's spec is not valid: {e}"), None))?;
    Ok(parsed)
}

fn check_upgrade(req: &Request) -> Result<(), ApiError> {
    let asks = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(wire::PROTOCOL));
    if asks {
        Ok(())
    } else {
        Err(bad(
            format!("this call streams a process: send `Connection: Upgrade` and `Upgrade: {}`", wire::PROTOCOL),
            Some("use `sprout exec` or `sprout run`".into()),
        ))
    }
}

/// The container definition a command runs in: the one named, else the web container, else the
/// first.
fn pick_container(def: &Dockerrun, asked: Option<&str>) -> Result<String, ApiError> {
    match asked {
        Some(name) if def.container(name).is_some() => Ok(name.to_string()),
        Some(name) => {
            let names: Vec<&str> = def.container_definitions.iter().map(|c| c.name.as_str()).collect();
            Err(ApiError::NotFound(format!(
                "no container definition is named {name}; the definitions are: {}",
                names.join(", ")
            )))
        }
        None => Ok(def
            .web_container()
            .map(|(c, _)| c.name.clone())
            .or_else(|| def.container_definitions.first().map(|c| c.name.clone()))
            .unwrap_or_default()),
    }
}

async fn definition(ctx: &Ctx, app: &str, version: &str) -> Result<(Dockerrun, sprout_store::VersionRecord), ApiError> {
    let v = ctx.store.get_version(app, version).await?;
    let def: Dockerrun = serde_json::from_str(&v.definition)
        .map_err(|e| ApiError::Internal(format!("stored definition of version {version} is corrupt: {e}")))?;
    Ok((def, v))
}

fn switching() -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, wire::PROTOCOL)
        .body(axum::body::Body::empty())
        .expect("a valid response")
}

/// `POST /apps/{app}/environments/{env}/exec?spec=JSON`.
pub async fn exec(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<Spec>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let spec: ExecRequest = parse(&q.spec)?;
    check_upgrade(&req)?;
    if spec.command.is_empty() {
        return Err(bad("the command is empty: give it after `--`", None));
    }
    ctx.store.get_environment(&app, &env).await?;
    let observed = crate::instance::observe_environment(&*ctx.engine, &ctx.settings.server_id, (&app, &env), false)
        .await?
        .into_iter()
        .filter(|i| i.role.is_none())
        .collect::<Vec<_>>();
    let serving = ctx.routing.serving(&app, &env);
    let inst = match &spec.instance {
        Some(id) => observed.iter().find(|i| &i.id == id).ok_or_else(|| {
            ApiError::NotFound(format!("environment {app}/{env} has no instance {id}; see `sprout status {env}`"))
        })?,
        None => observed
            .iter()
            .find(|i| serving.contains(&i.id))
            .or_else(|| observed.iter().find(|i| i.containers.iter().any(|c| c.state == ContainerState::Running)))
            .ok_or_else(|| ApiError::Conflict(format!("environment {app}/{env} has no running instance")))?,
    };
    let (def, _) = definition(&ctx, &app, &inst.version).await?;
    let container = pick_container(&def, spec.container.as_deref())?;
    let name = container_name(&app, &env, &inst.id, &container);
    match inst.container(&container).map(|c| c.state) {
        Some(ContainerState::Running) => {}
        state => {
            return Err(ApiError::Conflict(format!(
                "container {container} of instance {} is not running ({}); `sprout run` starts a new one",
                inst.id,
                state.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_else(|| "not there".into())
            )));
        }
    }
    let (exec_id, attached) = ctx
        .engine
        .exec_attached(&name, &ExecSpec { command: spec.command.clone(), tty: spec.tty, stdin: true })
        .await?;
    let upgrade = hyper::upgrade::on(&mut req);
    let instance = inst.id.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let engine = ctx.engine.clone();
        let exit = pump(TokioIo::new(upgraded), spec.tty, attached, async move {
            // The output ends as the process does; its exit code may lag a moment behind.
            for _ in 0..100 {
                match engine.exec_exit_code(&exec_id).await {
                    Ok(Some(code)) => return Ok(code),
                    Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                    Err(e) => return Err(e.to_string()),
                }
            }
            Err("the command's exit code did not come".to_string())
        })
        .await;
        let event = Event::CommandRan {
            how: "exec".into(),
            instance,
            container,
            command: spec.command.join(" "),
            exit_code: exit.ok(),
        };
        ctx.emit(&app, Some(&env), event).await;
    });
    Ok(switching())
}

/// Streams frames between the client on `io` and the process until the process's output ends,
/// then sends its exit code (from `exit`) and closes. The exit code, or why there is none.
///
/// With a terminal (`tty`), the end of the client's input is not passed on: closing a
/// terminal's input hangs its process up (SIGHUP) before it has written anything, and a terminal
/// user ends input with Ctrl-D, which arrives as a byte like any other.
pub(crate) async fn pump<IO>(
    io: IO,
    tty: bool,
    attached: Attached,
    exit: impl std::future::Future<Output = Result<i64, String>>,
) -> Result<i64, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use futures_util::StreamExt;
    let (mut from_client, mut to_client) = tokio::io::split(io);
    let Attached { mut output, mut input } = attached;
    // Input: frames from the client into the process until it sends the end (or goes away).
    let input_task = tokio::spawn(async move {
        let mut frames = wire::Frames::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            loop {
                match frames.next_frame() {
                    Ok(Some((wire::STDIN, data))) => {
                        if input.write_all(&data).await.is_err() {
                            return;
                        }
                        let _ = input.flush().await;
                    }
                    Ok(Some((wire::STDIN_EOF, _))) | Err(_) if tty => {
                        std::future::pending::<()>().await;
                    }
                    Ok(Some((wire::STDIN_EOF, _))) | Err(_) => {
                        let _ = input.shutdown().await;
                        return;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                }
            }
            match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if !tty {
                        let _ = input.shutdown().await;
                    }
                    return;
                }
                Ok(n) => frames.push(&buf[..n]),
            }
        }
    });
    let mut client_gone = false;
    while let Some(chunk) = output.next().await {
        let Ok(chunk) = chunk else { break };
        let kind = if chunk.kind == OutputKind::Stderr { wire::STDERR } else { wire::STDOUT };
        for part in chunk.data.chunks(wire::MAX_FRAME) {
            if !client_gone && to_client.write_all(&wire::frame(kind, part)).await.is_err() {
                client_gone = true;
            }
        }
        if !client_gone {
            let _ = to_client.flush().await;
        }
    }
    input_task.abort();
    let exit = exit.await;
    let last = match &exit {
        Ok(code) => wire::frame(wire::EXIT, code.to_string().as_bytes()),
        Err(e) => wire::frame(wire::ERROR, e.as_bytes()),
    };
    let _ = to_client.write_all(&last).await;
    let _ = to_client.shutdown().await;
    exit
}

/// `POST /apps/{app}/environments/{env}/run?spec=JSON`.
pub async fn run(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<Spec>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let spec: RunRequest = parse(&q.spec)?;
    check_upgrade(&req)?;
    if spec.command.is_empty() {
        return Err(bad("the command is empty: give it after `--`", None));
    }
    let e = ctx.store.get_environment(&app, &env).await?;
    let version_label = spec.version.clone().unwrap_or_else(|| e.version_label.clone());
    let (def, version) = definition(&ctx, &app, &version_label).await?;
    let container = pick_container(&def, spec.container.as_deref())?;
    let id = format!("o-{}", &crate::controller::launching::new_instance_id()[2..]);
    let (plan, task) = super::commands_launch::plan(&ctx, &e, (&def, &version), &container, &spec, &id).await?;
    LIVE_RUNS.lock().unwrap().get_or_insert_with(HashSet::new).insert(id.clone());
    let attached = match super::commands_launch::start(&ctx, &plan, &task).await {
        Ok(a) => a,
        Err(err) => {
            super::commands_launch::remove(&ctx, &e, &plan, &task, &id).await;
            LIVE_RUNS.lock().unwrap().get_or_insert_with(HashSet::new).remove(&id);
            return Err(err);
        }
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let engine = ctx.engine.clone();
        let name = task.name.clone();
        let exit = match upgrade.await {
            Ok(upgraded) => {
                pump(TokioIo::new(upgraded), spec.tty, attached, async move {
                    engine.wait_exit(&name).await.map_err(|e| e.to_string())
                })
                .await
            }
            Err(e) => Err(format!("the client did not take the stream: {e}")),
        };
        // Recorded as soon as the command has ended, before the clean-up: removing the one-off
        // instance's network can take a while, and the record must not wait on it.
        let event = Event::CommandRan {
            how: format!("run (version {version_label})"),
            instance: id.clone(),
            container,
            command: spec.command.join(" "),
            exit_code: exit.ok(),
        };
        ctx.emit(&app, Some(&env), event).await;
        super::commands_launch::remove(&ctx, &e, &plan, &task, &id).await;
        ctx.look.note_change(&app, &env);
        LIVE_RUNS.lock().unwrap().get_or_insert_with(HashSet::new).remove(&id);
    });
    Ok(switching())
}
