//! `Engine` for FakeEngine: each call is logged, may be refused (engine down, injected error),
//! then applied to the state; stops wait on `tokio::time` outside the lock.
//!
//! Not here: the transitions themselves (`state.rs`) or the test hooks (`fake.rs`).

use std::sync::MutexGuard;
use std::time::Duration;

use async_trait::async_trait;

use super::FakeEngine;
use super::state::{self, PullFailure, State, StopBehaviour};
use crate::{
    ContainerSpec, ContainerState, ContainerStatus, ContainerUsage, Engine, EngineError, EngineInfo, ExecOutput,
    ImageStatus, LabelFilter, NetworkSpec, NetworkStatus, PullProgress, RegistryAuth, Result,
};

impl FakeEngine {
    /// Log the call, then refuse it if the engine is down or an error was injected for it.
    fn begin(&self, operation: &str, name: &str) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        state.calls.push(if name.is_empty() { operation.to_string() } else { format!("{operation} {name}") });
        if state.unavailable {
            return Err(EngineError::Unavailable {
                endpoint: state::ENDPOINT.to_string(),
                message: "connection refused (FakeEngine set unavailable)".to_string(),
            });
        }
        if let Some(err) = state.take_injected(operation, name) {
            return Err(err);
        }
        Ok(state)
    }
}

/// The registry host of an image reference, as Docker reads it.
fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// What the image's registry answers to a pull or look-up with `auth`: the image it holds, or
/// the failure a registry gives (down, credential refused, injected, unknown image).
fn registry_answer(state: &State, image: &str, auth: Option<&RegistryAuth>) -> Result<state::FakeImage> {
    let host = registry_host(image);
    if state.registries_down.contains(host) {
        return Err(EngineError::Transient {
            operation: "pull_image",
            name: image.to_string(),
            message: format!("Get \"http://{host}/v2/\": dial tcp {host}: connect: connection refused"),
        });
    }
    if let Some((user, password)) = state.registry_logins.get(host)
        && !auth.is_some_and(|a| &a.username == user && &a.password == password)
    {
        let message = "unauthorized: authentication required".to_string();
        return Err(EngineError::Auth { image: image.to_string(), message });
    }
    let key = state::normalize_image(image);
    match state.pull_failures.get(&key) {
        Some(PullFailure::Auth(message)) => {
            return Err(EngineError::Auth { image: image.to_string(), message: message.clone() });
        }
        Some(PullFailure::Other(message)) => {
            return Err(EngineError::Pull { image: image.to_string(), message: message.clone() });
        }
        None => {}
    }
    state.find_pullable(image).cloned().ok_or_else(|| EngineError::Pull {
        image: image.to_string(),
        message: format!("manifest for {key} not found: manifest unknown"),
    })
}

fn filter_text(filter: &LabelFilter) -> String {
    filter.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[async_trait]
impl Engine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo> {
        drop(self.begin("info", "")?);
        Ok(EngineInfo {
            endpoint: state::ENDPOINT.to_string(),
            version: "20.10.24-fake".to_string(),
            api_version: "1.41".to_string(),
        })
    }

    fn privileged_refusal(&self) -> Option<String> {
        self.lock().privileged_refusal.clone()
    }

    async fn image_present(&self, image: &str) -> Result<bool> {
        let state = self.begin("image_present", image)?;
        Ok(state.find_image(image).is_some())
    }

    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        self.pull_image_reporting(image, auth, &|_| {}).await
    }

    /// A pull reports two steps: the manifest read (layers known) and every layer done.
    async fn pull_image_reporting(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<()> {
        let found = {
            let mut state = self.begin("pull_image", image)?;
            let found = registry_answer(&state, image, auth)?;
            // Pulling an image already present is a no-op in Docker, and keeps its id.
            if state.find_image(image).is_none() {
                state.images.insert(state::normalize_image(image), found.clone());
            }
            found
        };
        let size = found.size_bytes;
        progress(PullProgress { layers: 2, layers_done: 0, bytes: size, bytes_done: 0 });
        progress(PullProgress { layers: 2, layers_done: 2, bytes: size, bytes_done: size });
        Ok(())
    }

    async fn registry_digest(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<String> {
        let state = self.begin("registry_digest", image)?;
        let found = registry_answer(&state, image, auth)?;
        let digest = found.repo_digests.first().and_then(|d| d.split_once('@')).map(|(_, d)| d.to_string());
        Ok(digest.unwrap_or_default())
    }

    async fn tag_image(&self, image: &str, target: &str) -> Result<()> {
        let mut state = self.begin("tag_image", &format!("{image} {target}"))?;
        let found = state.find_image(image).cloned();
        let found = found.ok_or_else(|| EngineError::NotFound { kind: "image", name: image.to_string() })?;
        state.images.insert(state::normalize_image(target), found);
        Ok(())
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageStatus> {
        let state = self.begin("inspect_image", image)?;
        match state.find_image(image) {
            Some(img) => Ok(ImageStatus {
                id: img.id.clone(),
                size_bytes: img.size_bytes,
                repo_digests: img.repo_digests.clone(),
            }),
            None => Err(EngineError::NotFound { kind: "image", name: image.to_string() }),
        }
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.begin("create_network", &spec.name)?.create_network(spec)
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        self.begin("remove_network", name)?.remove_network(name)
    }

    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkStatus>> {
        Ok(self.begin("list_networks", &filter_text(filter))?.list_networks(filter))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.begin("create_container", &spec.name)?.create_container(spec)
    }

    async fn start_container(&self, name: &str) -> Result<()> {
        let now = self.now();
        self.begin("start_container", name)?.start_container(name, now)
    }

    async fn stop_container(&self, name: &str, timeout: Duration) -> Result<()> {
        let behaviour = {
            let mut state = self.begin("stop_container", name)?;
            let behaviour = state.stop_behaviour.get(name).cloned();
            let container = state.container_mut(name)?;
            if container.state != ContainerState::Running {
                return Ok(());
            }
            match behaviour {
                None => {
                    // A process that honours SIGTERM exits at once with status 0.
                    container.exit(0, self.now());
                    return Ok(());
                }
                Some(b) => b,
            }
        };
        // The lock is released while "waiting" so other calls proceed, as with Docker.
        tokio::time::sleep(timeout).await;
        match behaviour {
            StopBehaviour::IgnoreTerm => {
                let now = self.now();
                if let Some(c) = self.lock().containers.get_mut(name)
                    && c.state == ContainerState::Running
                {
                    c.exit(137, now);
                }
                Ok(())
            }
            StopBehaviour::Unkillable(message) => {
                Err(EngineError::StopFailed { name: name.to_string(), timeout_s: timeout.as_secs(), message })
            }
        }
    }

    async fn remove_container(&self, name: &str) -> Result<()> {
        self.begin("remove_container", name)?.remove_container(name);
        Ok(())
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerStatus> {
        let mut state = self.begin("inspect_container", name)?;
        Ok(state.container_mut(name)?.status())
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerStatus>> {
        let state = self.begin("list_containers", &filter_text(filter))?;
        let matching = state.containers.values().filter(|c| state::labels_match(&c.spec.labels, filter));
        Ok(matching.map(|c| c.status()).collect())
    }

    /// A running container uses a fixed, recognisable amount: 1.5% CPU, 16 MiB of its limit
    /// (its memory limit, or 1 GiB). A stopped one reports nothing, as Docker's zeros.
    async fn container_stats(&self, name: &str) -> Result<ContainerUsage> {
        let mut state = self.begin("container_stats", name)?;
        let container = state.container_mut(name)?;
        let running = container.state == ContainerState::Running;
        let limit = container.spec.memory_bytes.map_or(1 << 30, |bytes| bytes.max(0) as u64);
        Ok(ContainerUsage {
            cpu_percent: if running { 1.5 } else { 0.0 },
            memory_bytes: if running { 16 * 1024 * 1024 } else { 0 },
            memory_limit_bytes: limit,
        })
    }

    async fn exec(&self, name: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput> {
        let _ = timeout;
        let mut state = self.begin("exec", name)?;
        if let Some(call) = state.calls.last_mut() {
            call.push_str(&format!(" {}", argv.join(" ")));
        }
        let container = state.container_mut(name)?;
        if container.state != ContainerState::Running {
            return Err(EngineError::Permanent {
                operation: "exec",
                name: name.to_string(),
                message: "container is not running".into(),
            });
        }
        // A command that does nothing and succeeds: what it ran is in `calls`.
        Ok(ExecOutput { output: String::new(), exit_code: Some(0), timed_out: false })
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String> {
        let mut state = self.begin("container_logs", name)?;
        let logs = &state.container_mut(name)?.logs;
        let start = logs.len().saturating_sub(tail);
        Ok(logs[start..].iter().map(|l| format!("{l}\n")).collect())
    }
}
