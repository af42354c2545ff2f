//! Attaching to processes through Docker: `exec` (create, start attached, inspect for the exit
//! code), `attach` to a container's main process (with its output from the start), and waiting
//! for a container's exit. Docker hijacks the HTTP connection for these; bollard hands back its
//! two halves.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{AttachContainerOptions, WaitContainerOptions};
use futures_util::{StreamExt, TryStreamExt};
use sprout_engine::{Attached, EngineError, ExecSpec, OutputChunk, OutputKind, Result};

use crate::DockerEngine;
use crate::error::classify;

/// Docker's output frames as Sprout's chunks (a terminal's output counts as stdout; input
/// echoes are not output).
fn chunks(
    stream: impl futures_util::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send + 'static,
    engine: DockerEngine,
    name: String,
) -> futures_util::stream::BoxStream<'static, Result<OutputChunk>> {
    stream
        .try_filter_map(|o| async move {
            Ok(match o {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    Some(OutputChunk { kind: OutputKind::Stdout, data: message.to_vec() })
                }
                LogOutput::StdErr { message } => Some(OutputChunk { kind: OutputKind::Stderr, data: message.to_vec() }),
                LogOutput::StdIn { .. } => None,
            })
        })
        .map_err(move |e| classify(e, engine.target("attach", "container", &name)))
        .boxed()
}

pub(crate) async fn exec(engine: &DockerEngine, name: &str, spec: &ExecSpec) -> Result<(String, Attached)> {
    let options = CreateExecOptions {
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(spec.tty),
        cmd: Some(spec.command.clone()),
        ..Default::default()
    };
    let created = engine
        .docker
        .create_exec(name, options)
        .await
        .map_err(|e| classify(e, engine.target("exec", "container", name)))?;
    let start = StartExecOptions { detach: false, tty: spec.tty, output_capacity: None };
    match engine
        .docker
        .start_exec(&created.id, Some(start))
        .await
        .map_err(|e| classify(e, engine.target("exec", "container", name)))?
    {
        StartExecResults::Attached { output, input } => {
            Ok((created.id, Attached { output: chunks(output, engine.clone(), name.to_string()), input }))
        }
        StartExecResults::Detached => Err(EngineError::Permanent {
            operation: "exec",
            name: name.to_string(),
            message: "Docker started the command detached".to_string(),
        }),
    }
}

pub(crate) async fn exec_exit_code(engine: &DockerEngine, exec: &str) -> Result<Option<i64>> {
    let inspected = engine
        .docker
        .inspect_exec(exec)
        .await
        .map_err(|e| classify(e, engine.target("exec_exit_code", "exec", exec)))?;
    Ok(if inspected.running == Some(true) { None } else { inspected.exit_code })
}

pub(crate) async fn attach(engine: &DockerEngine, name: &str) -> Result<Attached> {
    let options =
        AttachContainerOptions { detach_keys: None, logs: true, stream: true, stdin: true, stdout: true, stderr: true };
    let attached = engine
        .docker
        .attach_container(name, Some(options))
        .await
        .map_err(|e| classify(e, engine.target("attach", "container", name)))?;
    Ok(Attached { output: chunks(attached.output, engine.clone(), name.to_string()), input: attached.input })
}

pub(crate) async fn wait_exit(engine: &DockerEngine, name: &str) -> Result<i64> {
    let options = WaitContainerOptions { condition: "not-running".to_string() };
    let mut waits = engine.docker.wait_container(name, Some(options));
    match waits.next().await {
        Some(Ok(w)) => Ok(w.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(classify(e, engine.target("wait_exit", "container", name))),
        None => Err(EngineError::Transient {
            operation: "wait_exit",
            name: name.to_string(),
            message: "Docker ended the wait without an exit code".to_string(),
        }),
    }
}
