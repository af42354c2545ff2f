//! Sprout's `Engine` for a Docker daemon, through bollard: containers, networks, images and logs
//! on one engine, reached over its unix socket (`DOCKER_HOST=unix://...` or the default socket).
//!
//! `swarm`: the same trait for a Docker Swarm cluster, through a manager's API.
//!
//! Not here: naming and labelling policy (the server decides names and labels and passes them in
//! the specs), retries and circuit breaking (callers branch on the classified errors), and TCP or
//! TLS endpoints.

mod convert;
mod error;
mod events;
mod exec;
mod inspected;
mod process;
mod pull;
pub mod swarm;

pub use swarm::SwarmEngine;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions, StatsOptions, StopContainerOptions, TagImageOptions,
};
use futures_util::{StreamExt, TryStreamExt};
use sprout_engine::{
    ContainerSpec, ContainerStatus, ContainerUsage, Engine, EngineError, EngineInfo, ExecOutput, ImageStatus,
    LabelFilter, NetworkSpec, NetworkStatus, PullProgress, RegistryAuth, Result,
};

use error::{Target, classify, classify_create_network, classify_pull};

/// The socket Docker listens on unless `DOCKER_HOST` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Client-side limit for one API call. Generous, because pulls of large images and stops with
/// long timeouts are single calls; stop extends it further by its own timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Containers inspected at once when listing.
const INSPECT_AT_ONCE: usize = 8;

/// A Docker daemon as a Sprout engine. Cheap to clone (bollard's client is reference-counted).
#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
    /// Running containers' inspections, kept while the list shows them unchanged.
    inspected: std::sync::Arc<inspected::Inspected>,
}

impl DockerEngine {
    /// Connect to the local daemon (`DOCKER_HOST` when it is `unix://...`, else
    /// `/var/run/docker.sock`), agree on an API version and ping it. A daemon that is not
    /// running gives `Unavailable` with how to start it.
    pub async fn connect() -> Result<DockerEngine> {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| h.starts_with("unix://"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        Self::connect_to(&endpoint).await
    }

    /// Connect to the daemon at a `unix://` endpoint (or a bare socket path).
    pub async fn connect_to(endpoint: &str) -> Result<DockerEngine> {
        let endpoint =
            if endpoint.starts_with("unix://") { endpoint.to_string() } else { format!("unix://{endpoint}") };
        let docker = Docker::connect_with_unix(&endpoint, REQUEST_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)
            .map_err(|e| error::unavailable(&endpoint, &e))?;
        // Older daemons (20.10 speaks API 1.41) reject requests above their version.
        let docker = docker.negotiate_version().await.map_err(|e| {
            classify(e, Target { operation: "negotiate_version", kind: "engine", name: &endpoint, endpoint: &endpoint })
        })?;
        docker.ping().await.map_err(|e| {
            classify(e, Target { operation: "ping", kind: "engine", name: &endpoint, endpoint: &endpoint })
        })?;
        Ok(DockerEngine { docker, endpoint, inspected: Default::default() })
    }

    /// The bollard client, for what the `Engine` trait does not cover (tests, image builds).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn target<'a>(&'a self, operation: &'static str, kind: &'static str, name: &'a str) -> Target<'a> {
        Target { operation, kind, name, endpoint: &self.endpoint }
    }
}

/// Docker's form of a registry credential.
pub(crate) fn credentials(auth: Option<&RegistryAuth>) -> Option<DockerCredentials> {
    auth.map(|a| DockerCredentials {
        username: Some(a.username.clone()),
        password: Some(a.password.clone()),
        serveraddress: Some(a.server.clone()),
        ..Default::default()
    })
}

/// The network name in Docker's "network NAME not found", else the whole message.
fn network_in(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().collect();
    match words.iter().position(|w| *w == "network") {
        Some(i) if i + 1 < words.len() => words[i + 1].to_string(),
        _ => message.to_string(),
    }
}

/// The first IPv4 subnet of a network's address configuration.
fn ipv4_subnet(ipam: Option<&Ipam>) -> Option<ipnet::Ipv4Net> {
    ipam?.config.as_ref()?.iter().find_map(|c| c.subnet.as_deref()?.parse().ok())
}

/// Docker's `label` filter: each `k=v` must match.
pub(crate) fn label_filters(filter: &LabelFilter) -> Option<HashMap<String, Vec<String>>> {
    if filter.is_empty() {
        return None;
    }
    let labels = filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some(HashMap::from([("label".to_string(), labels)]))
}

#[async_trait]
impl Engine for DockerEngine {
    async fn info(&self) -> Result<EngineInfo> {
        let v = self.docker.version().await.map_err(|e| classify(e, self.target("info", "engine", "")))?;
        Ok(EngineInfo {
            endpoint: self.endpoint.clone(),
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
        })
    }

    async fn image_present(&self, image: &str) -> Result<bool> {
        match self.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(EngineError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        self.pull_image_reporting(image, auth, &|_| {}).await
    }

    async fn pull_image_reporting(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<()> {
        let (repo, tag) = convert::split_reference(image);
        let options = CreateImageOptions { from_image: Some(repo), tag: Some(tag), ..Default::default() };
        let mut stream = self.docker.create_image(Some(options), None, credentials(auth));
        let mut tally = pull::Tally::default();
        // Failures can arrive as the HTTP status or mid-stream; both end the pull.
        while let Some(info) = stream.try_next().await.map_err(|e| classify_pull(e, image, &self.endpoint))? {
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_else(|| "pull failed".to_string());
                let err = bollard::errors::Error::DockerStreamError { error: message };
                return Err(classify_pull(err, image, &self.endpoint));
            }
            let detail = info.progress_detail.unwrap_or_default();
            let status = info.status.unwrap_or_default();
            if tally.note(info.id.as_deref(), &status, detail.current, detail.total) {
                progress(tally.progress());
            }
        }
        Ok(())
    }

    async fn registry_digest(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<String> {
        let inspect = self
            .docker
            .inspect_registry_image(image, credentials(auth))
            .await
            .map_err(|e| classify_pull(e, image, &self.endpoint))?;
        Ok(inspect.descriptor.digest.unwrap_or_default())
    }

    async fn tag_image(&self, image: &str, target: &str) -> Result<()> {
        let (repo, tag) = convert::split_reference(target);
        let options = TagImageOptions { repo: Some(repo), tag: Some(tag) };
        let name = format!("{image} as {target}");
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| classify(e, self.target("tag_image", "image", &name)))
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageStatus> {
        let inspect = self
            .docker
            .inspect_image(image)
            .await
            .map_err(|e| classify(e, self.target("inspect_image", "image", image)))?;
        Ok(ImageStatus {
            id: inspect.id.unwrap_or_default(),
            size_bytes: inspect.size.unwrap_or(0).max(0) as u64,
            repo_digests: inspect.repo_digests.unwrap_or_default(),
        })
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
        let target = self.target("create_network", "network", &spec.name);
        // API 1.41 allows two networks with one name unless asked not to, and bollard's model
        // (API 1.44+, where the check is always on) no longer carries CheckDuplicate; so look
        // first. A concurrent creator can still race us; names are per-instance, so it does not.
        match self.docker.inspect_network(&spec.name, None).await {
            Ok(existing) if existing.name.as_deref() == Some(spec.name.as_str()) => {
                return Err(EngineError::Conflict { kind: "network", name: spec.name.clone() });
            }
            Ok(_) => {}
            Err(e) if error::status_code(&e) == Some(404) => {}
            Err(e) => return Err(classify(e, target)),
        }
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".to_string()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ipam: spec.subnet.map(|s| Ipam {
                config: Some(vec![IpamConfig { subnet: Some(s.to_string()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker.create_network(request).await.map_err(|e| classify_create_network(e, target))?;
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if error::status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(classify(e, self.target("remove_network", "network", name))),
        }
    }

    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkStatus>> {
        let options = ListNetworksOptions { filters: label_filters(filter) };
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| classify(e, self.target("list_networks", "network", "")))?;
        let mut out: Vec<NetworkStatus> = networks
            .into_iter()
            .map(|n| NetworkStatus {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                subnet: ipv4_subnet(n.ipam.as_ref()),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        // Docker 20.10 creates a container on a missing network and only fails at start; check
        // first so a missing network is reported where FakeEngine reports it, at create.
        if !matches!(spec.network.as_str(), "" | "bridge" | "host" | "none" | "default")
            && let Err(e) = self.docker.inspect_network(&spec.network, None).await
        {
            return Err(classify(e, self.target("create_container", "network", &spec.network)));
        }
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        match self.docker.create_container(Some(options), convert::container_body(spec)).await {
            Ok(created) => Ok(created.id),
            // A 404 at create names what is missing in its message: the image or the network.
            Err(e) if error::status_code(&e) == Some(404) => {
                let message = error::message(&e).to_ascii_lowercase();
                if message.contains("network") {
                    Err(EngineError::NotFound { kind: "network", name: spec.network.clone() })
                } else if message.contains("image") {
                    Err(EngineError::NotFound { kind: "image", name: spec.image.clone() })
                } else {
                    Err(classify(e, self.target("create_container", "container", &spec.name)))
                }
            }
            Err(e) => Err(classify(e, self.target("create_container", "container", &spec.name))),
        }
    }

    async fn start_container(&self, name: &str) -> Result<()> {
        // An already running container answers 304, which bollard reports as success.
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            // The network was removed after create: say which object is missing.
            Err(e) if error::status_code(&e) == Some(404) && error::message(&e).contains("network") => {
                Err(EngineError::NotFound { kind: "network", name: network_in(&error::message(&e)) })
            }
            Err(e) => Err(classify(e, self.target("start_container", "container", name))),
        }
    }

    async fn stop_container(&self, name: &str, timeout: Duration) -> Result<()> {
        let t = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptions { t: Some(t), signal: None };
        // The daemon waits `t` seconds before SIGKILL; our client must wait longer than that.
        let docker = self.docker.clone().with_timeout(REQUEST_TIMEOUT + timeout);
        match docker.stop_container(name, Some(options)).await {
            // 304 (already stopped) is success in bollard already.
            Ok(()) => Ok(()),
            // A 5xx from stop means the container would not die even to SIGKILL (e.g. "Cannot
            // allocate memory"); callers replace the instance, so say exactly that.
            Err(e) if matches!(error::status_code(&e), Some(500..=599)) => Err(EngineError::StopFailed {
                name: name.to_string(),
                timeout_s: timeout.as_secs(),
                message: error::message(&e),
            }),
            Err(e) => Err(classify(e, self.target("stop_container", "container", name))),
        }
    }

    async fn remove_container(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if error::status_code(&e) == Some(404) => Ok(()),
            // Someone else is already removing it: the outcome we want.
            Err(e) if error::status_code(&e) == Some(409) && error::message(&e).contains("already in progress") => {
                Ok(())
            }
            Err(e) => Err(classify(e, self.target("remove_container", "container", name))),
        }
    }

    /// One sample, not a stream; not one-shot either, so Docker includes the previous CPU
    /// reading and the CPU percentage can be computed (Docker waits about a second for it).
    async fn exec_attached(
        &self,
        name: &str,
        spec: &sprout_engine::ExecSpec,
    ) -> Result<(String, sprout_engine::Attached)> {
        process::exec(self, name, spec).await
    }

    async fn exec_exit_code(&self, exec: &str) -> Result<Option<i64>> {
        process::exec_exit_code(self, exec).await
    }

    async fn attach(&self, name: &str) -> Result<sprout_engine::Attached> {
        process::attach(self, name).await
    }

    async fn wait_exit(&self, name: &str) -> Result<i64> {
        process::wait_exit(self, name).await
    }

    async fn container_stats(&self, name: &str) -> Result<ContainerUsage> {
        let options = StatsOptions { stream: false, one_shot: false };
        let stats = self
            .docker
            .stats(name, Some(options))
            .try_next()
            .await
            .map_err(|e| classify(e, self.target("container_stats", "container", name)))?
            .ok_or_else(|| EngineError::Transient {
                operation: "container_stats",
                name: name.to_string(),
                message: "Docker closed the stats stream without a sample".to_string(),
            })?;
        Ok(convert::container_usage(&stats))
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerStatus> {
        let inspect = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| classify(e, self.target("inspect_container", "container", name)))?;
        Ok(convert::container_status(inspect))
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerStatus>> {
        let options = ListContainersOptions { all: true, filters: label_filters(filter), ..Default::default() };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| classify(e, self.target("list_containers", "container", "")))?;
        // The summary lacks exit codes, OOM kills and Docker health, so each container that ever
        // started is inspected, several at a time, unless it runs as it did at its last
        // inspection (`inspected`). Containers still "created" are taken from the list:
        // inspecting one that is being started waits out its start, which made a controller
        // pass take a second while the engine was busy launching.
        let inspected: Vec<Result<ContainerStatus>> = futures_util::stream::iter(summaries)
            .map(|s| async move {
                if let Some(status) = convert::created_container_status(&s).or_else(|| self.inspected.get(&s)) {
                    return Ok(status);
                }
                let status = self.inspect_container(s.id.as_deref().unwrap_or_default()).await?;
                self.inspected.keep(&s, &status);
                Ok(status)
            })
            .buffered(INSPECT_AT_ONCE)
            .collect()
            .await;
        let mut out = Vec::with_capacity(inspected.len());
        for r in inspected {
            match r {
                Ok(status) => out.push(status),
                // Removed between list and inspect: it is simply not there any more.
                Err(EngineError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn events(&self, filter: &LabelFilter) -> Result<sprout_engine::EventStream> {
        Ok(events::stream(&self.docker, &self.endpoint, filter))
    }

    async fn exec(&self, name: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput> {
        self.exec_in(name, argv, timeout).await
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String> {
        let options = LogsOptions { stdout: true, stderr: true, tail: tail.to_string(), ..Default::default() };
        let chunks: Vec<_> = self
            .docker
            .logs(name, Some(options))
            .try_collect()
            .await
            .map_err(|e| classify(e, self.target("container_logs", "container", name)))?;
        Ok(chunks.iter().map(|c| c.to_string()).collect())
    }
}
