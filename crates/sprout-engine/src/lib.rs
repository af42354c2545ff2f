//! The Engine trait: everything Sprout asks of a container engine, with its error type, and
//! `FakeEngine`, an in-memory engine that behaves like Docker for fast tests.
//!
//! Not here: how Dockerrun fields become a `ContainerSpec` (that is `sprout-server`'s instance
//! builder) nor Docker itself (`sprout-docker`).

pub mod fake;
pub mod process;
pub mod spec;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

pub use fake::FakeEngine;
pub use process::*;
pub use spec::*;

/// Errors from an engine, classified where callers branch.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} {name} already exists")]
    Conflict { kind: &'static str, name: String },
    #[error("image {image} is not present and could not be pulled: {message}")]
    Pull { image: String, message: String },
    #[error("registry refused credentials for {image}: {message}")]
    Auth { image: String, message: String },
    #[error("container {name} did not stop within {timeout_s}s and could not be killed: {message}")]
    StopFailed { name: String, timeout_s: u64, message: String },
    #[error("the container engine is not reachable at {endpoint}: {message}; is the Docker daemon running?")]
    Unavailable { endpoint: String, message: String },
    #[error("container engine refused {operation} on {name}: {message}")]
    Permanent { operation: &'static str, name: String, message: String },
    #[error("container engine failed {operation} on {name} (may succeed if retried): {message}")]
    Transient { operation: &'static str, name: String, message: String },
}

impl EngineError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::NotFound { .. })
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EngineInfo {
    pub endpoint: String,
    pub version: String,
    pub api_version: String,
}

/// Label selector: every pair must match.
pub type LabelFilter = BTreeMap<String, String>;

/// A container engine. Every method is idempotent where Docker's counterpart can be made so:
/// stopping a stopped container and removing a missing one succeed.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    async fn info(&self) -> Result<EngineInfo>;

    /// Is the image present locally (by reference: `name:tag` or `name@digest`)?
    async fn image_present(&self, image: &str) -> Result<bool>;
    /// Pull an image; `Pull` or `Auth` errors carry the registry's message, `Transient` a
    /// registry that did not answer or failed (timeouts, 5xx).
    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()>;
    /// Pull an image, calling `progress` as its layers download. Engines that cannot report
    /// (the default) pull without a word.
    async fn pull_image_reporting(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<()> {
        let _ = progress;
        self.pull_image(image, auth).await
    }
    /// Ask the image's registry for its manifest digest (`sha256:...`) without pulling it: an
    /// existence check with the registry's answer. Errors as `pull_image`'s; engines that cannot
    /// ask (the default) answer `Permanent`.
    async fn registry_digest(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<String> {
        let _ = auth;
        Err(EngineError::Permanent {
            operation: "registry_digest",
            name: image.to_string(),
            message: "this engine cannot ask a registry about an image".to_string(),
        })
    }
    /// Give a local image another reference (`docker tag`), e.g. the original name of an image
    /// pulled from a mirror.
    async fn tag_image(&self, image: &str, target: &str) -> Result<()> {
        Err(EngineError::Permanent {
            operation: "tag_image",
            name: format!("{image} as {target}"),
            message: "this engine cannot tag images".to_string(),
        })
    }
    /// The local image's id (`sha256:...`), size in bytes and repository digests.
    async fn inspect_image(&self, image: &str) -> Result<ImageStatus>;

    /// Create a bridge network; `Conflict` if the name exists. With a subnet that overlaps
    /// another network's, Docker's refusal ("Pool overlaps with other one on this address
    /// space") is `Permanent`; so is running out of the engine's own address pools.
    async fn create_network(&self, spec: &NetworkSpec) -> Result<()>;
    /// Remove a network; a missing one is success.
    async fn remove_network(&self, name: &str) -> Result<()>;
    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkStatus>>;

    /// Create (not start) a container; `Conflict` if the name exists.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String>;
    async fn start_container(&self, name: &str) -> Result<()>;
    /// SIGTERM, wait `timeout`, SIGKILL. A stopped container is success.
    async fn stop_container(&self, name: &str, timeout: Duration) -> Result<()>;
    /// Remove a container (forcefully, with its anonymous volumes); a missing one is success.
    async fn remove_container(&self, name: &str) -> Result<()>;
    async fn inspect_container(&self, name: &str) -> Result<ContainerStatus>;
    /// Every container (running or not) whose labels match.
    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerStatus>>;
    /// The last `tail` lines of a container's stdout and stderr, interleaved as Docker keeps them.
    async fn container_logs(&self, name: &str, tail: usize) -> Result<String>;
    /// Container events of containers whose labels match, from now on. Engines that cannot tell
    /// (the default, FakeEngine) answer `Permanent`, and callers look again on a timer only.
    async fn events(&self, filter: &LabelFilter) -> Result<EventStream> {
        Err(EngineError::Permanent {
            operation: "events",
            name: format!("{filter:?}"),
            message: "this engine reports no events".to_string(),
        })
    }
    /// Run `argv` inside a running container (`docker exec`) and wait for it at most `timeout`:
    /// its output (stdout and stderr interleaved, at most `EXEC_OUTPUT_MAX` bytes kept) and exit
    /// code, or `timed_out` when it was still running then (the process is left to the
    /// container's stop). A container that is not running is `NotFound` or `Permanent`. Engines
    /// that cannot exec (the default) answer `Permanent`.
    async fn exec(&self, name: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput> {
        let _ = (argv, timeout);
        Err(EngineError::Permanent {
            operation: "exec",
            name: name.to_string(),
            message: "this engine cannot run commands in containers".to_string(),
        })
    }
    /// Runs `spec.command` in the running container `name` and attaches to it (`sprout exec`):
    /// the exec's id (for `exec_exit_code`) and the process, its input and output as they come.
    /// Engines that cannot (the default) answer `Permanent`.
    async fn exec_attached(&self, name: &str, spec: &ExecSpec) -> Result<(String, Attached)> {
        let _ = spec;
        Err(EngineError::Permanent {
            operation: "exec_attached",
            name: name.to_string(),
            message: "this engine cannot run commands in containers".to_string(),
        })
    }
    /// The exit code of an exec once its process has ended (None while it runs).
    async fn exec_exit_code(&self, exec: &str) -> Result<Option<i64>> {
        Err(EngineError::Permanent {
            operation: "exec_exit_code",
            name: exec.to_string(),
            message: "this engine cannot run commands in containers".to_string(),
        })
    }
    /// Attaches to a container's main process (its input, if the container keeps it open, and
    /// its output from the start). Engines that cannot (the default) answer `Permanent`.
    async fn attach(&self, name: &str) -> Result<Attached> {
        Err(EngineError::Permanent {
            operation: "attach",
            name: name.to_string(),
            message: "this engine cannot attach to containers".to_string(),
        })
    }
    /// Waits for a container to exit; its exit code.
    async fn wait_exit(&self, name: &str) -> Result<i64> {
        Err(EngineError::Permanent {
            operation: "wait_exit",
            name: name.to_string(),
            message: "this engine cannot wait for containers".to_string(),
        })
    }
    /// Why this engine cannot run privileged containers, or None when it can (the default). A
    /// version with one is refused at create and deploy with this reason, before any launch.
    fn privileged_refusal(&self) -> Option<String> {
        None
    }
    /// The machines of a cluster engine. An engine of one machine (the default) answers
    /// `Permanent`.
    async fn nodes(&self) -> Result<Vec<NodeStatus>> {
        Err(EngineError::Permanent {
            operation: "nodes",
            name: String::new(),
            message: "this engine runs on one machine; nodes are listed with --engine swarm".to_string(),
        })
    }
    /// One sample of a running container's CPU and memory use. Engines that cannot tell (the
    /// default) answer `Permanent`, and callers show the figures as unknown.
    async fn container_stats(&self, name: &str) -> Result<ContainerUsage> {
        Err(EngineError::Permanent {
            operation: "container_stats",
            name: name.to_string(),
            message: "this engine does not report resource use".to_string(),
        })
    }
}

/// Something that happened to a container (`die`, `oom`, `start`, `destroy`,
/// `health_status: unhealthy`, ...), with the container's labels: which instance it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    pub action: String,
    pub labels: BTreeMap<String, String>,
}

/// The container event actions that change what a controller sees (`health_status` arrives as
/// `health_status: healthy`). Docker also reports every run of a container's own health check
/// command (`exec_create`, `exec_start`, `exec_die`), every few seconds per container, plus
/// attaches, resizes and copies: none of those changes an instance.
pub const STATE_ACTIONS: &[&str] =
    &["create", "start", "restart", "die", "kill", "oom", "stop", "destroy", "pause", "unpause", "health_status"];

impl EngineEvent {
    /// Whether this event is one of `STATE_ACTIONS`.
    pub fn changes_state(&self) -> bool {
        let verb = self.action.split(':').next().unwrap_or_default();
        STATE_ACTIONS.contains(&verb)
    }
}

/// Container events as they happen; an `Err` item (or the end) means the stream broke.
pub type EventStream = futures_util::stream::BoxStream<'static, Result<EngineEvent>>;

/// The most output of one `exec` that is kept (the start is kept: that is where errors begin).
pub const EXEC_OUTPUT_MAX: usize = 64 * 1024;

/// How a command run in a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ExecOutput {
    pub output: String,
    /// The command's exit code; `None` when it timed out or the engine could not tell.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
}

/// A container's resource use, as `docker stats` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct ContainerUsage {
    /// Percent of one CPU (200 means two CPUs busy), averaged over the engine's last sample.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    /// The container's memory limit, or the host's memory when it has none.
    pub memory_limit_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> EngineEvent {
        EngineEvent { action: action.to_string(), labels: BTreeMap::new() }
    }

    #[test]
    fn health_check_runs_and_attaches_change_no_state() {
        for action in ["die", "start", "destroy", "oom", "health_status: unhealthy", "health_status"] {
            assert!(event(action).changes_state(), "{action}");
        }
        for action in ["exec_create: /bin/sh -c curl -f localhost", "exec_start: true", "exec_die", "attach", "resize"]
        {
            assert!(!event(action).changes_state(), "{action}");
        }
    }
}
