//! Sprout's `Engine` for a Docker Swarm cluster (`sprout server --engine swarm`), through the
//! manager's API (docs/swarm.md). An instance's network is an overlay network placed on one node
//! (`sprout_plan::placement`, recorded in the network's `sprout.node` label); each container is
//! a service of at most one replica pinned to that node: created at zero replicas, started by
//! scaling to one, stopped by scaling to zero, never restarted by Swarm.
//!
//! Not here: the mapping of one spec to a service (`service`) and how files and volumes reach
//! the node (`files`). Images, networks listing and image inspection are the manager's own
//! engine's (`DockerEngine`).

mod files;
mod nodes;
mod service;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, Service, Task, TaskState};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions, LogsOptions, UpdateServiceOptions};
use futures_util::TryStreamExt;
use sprout_engine::{
    ContainerSpec, ContainerStatus, Engine, EngineError, EngineInfo, ImageStatus, LabelFilter, NetworkSpec,
    NetworkStatus, NodeStatus, PullProgress, RegistryAuth, Result,
};

use crate::DockerEngine;
use crate::error::{self, Target, classify, classify_create_network};

pub use service::LABEL_STARTED;

/// Label on an instance's overlay network: the node its containers run on.
pub const LABEL_NODE: &str = "sprout.node";

/// How long a started service may take to run its task (pulling its image on the node).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a service update refused as out of sequence is read again and retried.
const SEQUENCE_RETRIES: u64 = 10;

/// A Swarm cluster, through the API of one of its managers.
#[derive(Debug, Clone)]
pub struct SwarmEngine {
    local: DockerEngine,
    /// Sprout's data directory: paths under it are the manager's own files, delivered to nodes.
    data_dir: PathBuf,
    /// The credentials each image was last pulled with, forwarded to the nodes that pull it.
    auths: std::sync::Arc<Mutex<HashMap<String, RegistryAuth>>>,
    /// One placement at a time, so two launches do not both pick the emptiest node.
    placing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SwarmEngine {
    /// Connect to the local engine (as `DockerEngine::connect`) and check it manages a swarm.
    pub async fn connect(data_dir: PathBuf) -> Result<SwarmEngine> {
        let local = DockerEngine::connect().await?;
        let info = local.client().info().await.map_err(|e| {
            classify(e, Target { operation: "info", kind: "engine", name: "", endpoint: local.endpoint() })
        })?;
        let swarm = info.swarm.unwrap_or_default();
        if swarm.control_available != Some(true) {
            let state = swarm.local_node_state.map(|s| s.to_string()).unwrap_or_else(|| "inactive".into());
            return Err(EngineError::Permanent {
                operation: "connect",
                name: local.endpoint().to_string(),
                message: format!(
                    "--engine swarm needs this Docker engine to be a swarm manager, and it is not (swarm state: {state}); run `docker swarm init --advertise-addr ADDRESS` here (or join it to a swarm as a manager), or start `sprout server` without --engine swarm"
                ),
            });
        }
        Ok(SwarmEngine { local, data_dir, auths: Default::default(), placing: Default::default() })
    }

    fn docker(&self) -> &Docker {
        self.local.client()
    }

    fn target<'a>(&'a self, operation: &'static str, kind: &'static str, name: &'a str) -> Target<'a> {
        Target { operation, kind, name, endpoint: self.local.endpoint() }
    }

    fn auth_for(&self, image: &str) -> Option<bollard::auth::DockerCredentials> {
        crate::credentials(self.auths.lock().unwrap().get(image))
    }

    async fn inspect_service(&self, operation: &'static str, name: &str) -> Result<Service> {
        self.docker()
            .inspect_service(name, None)
            .await
            .map_err(|e| classify(e, self.target(operation, "container", name)))
    }

    /// Tasks of these services (by id), every state.
    async fn tasks_of(&self, service_ids: &[String]) -> Result<Vec<Task>> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        let filters = HashMap::from([("service".to_string(), service_ids.to_vec())]);
        self.docker()
            .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
            .await
            .map_err(|e| classify(e, self.target("list_tasks", "container", "")))
    }

    /// Change a service's replicas (and labels or stop grace period), as its current version.
    /// Swarm bumps a new service's version on its own (allocating its endpoint) and refuses an
    /// update made against the older one ("update out of sequence"): read it again and retry.
    async fn scale(&self, name: &str, replicas: i64, started: bool, grace: Option<Duration>) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self.scale_once(name, replicas, started, grace).await {
                Err(e) if error::message(&e).contains("update out of sequence") && attempt < SEQUENCE_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(classify(e, self.target("update_service", "container", name))),
                Ok(()) => return Ok(()),
            }
        }
    }

    /// One update of `scale`: Ok, or Docker's refusal as it came (so `scale` can tell a stale
    /// version from another failure).
    async fn scale_once(
        &self,
        name: &str,
        replicas: i64,
        started: bool,
        grace: Option<Duration>,
    ) -> std::result::Result<(), bollard::errors::Error> {
        let service = self.docker().inspect_service(name, None).await?;
        let mut spec = service.spec.clone().unwrap_or_default();
        spec.mode = Some(bollard::models::ServiceSpecMode {
            replicated: Some(bollard::models::ServiceSpecModeReplicated { replicas: Some(replicas) }),
            ..Default::default()
        });
        if started {
            spec.labels.get_or_insert_with(HashMap::new).insert(LABEL_STARTED.to_string(), "true".to_string());
        }
        if let (Some(grace), Some(c)) = (grace, spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut())) {
            c.stop_grace_period = Some(i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX));
        }
        let version = service.version.and_then(|v| v.index).unwrap_or(0);
        let options =
            UpdateServiceOptions { version: i32::try_from(version).unwrap_or(i32::MAX), ..Default::default() };
        let image =
            spec.task_template.as_ref().and_then(|t| t.container_spec.as_ref()?.image.clone()).unwrap_or_default();
        self.docker().update_service(name, spec, options, self.auth_for(&image)).await?;
        Ok(())
    }

    /// The node an instance's network was placed on.
    async fn node_of_network(&self, network: &str, container: &str) -> Result<String> {
        let net = self
            .docker()
            .inspect_network(network, None)
            .await
            .map_err(|e| classify(e, self.target("create_container", "network", network)))?;
        net.labels.and_then(|l| l.get(LABEL_NODE).cloned()).ok_or_else(|| EngineError::Permanent {
            operation: "create_container",
            name: container.to_string(),
            message: format!("network {network} has no {LABEL_NODE} label: it was not created by the swarm engine"),
        })
    }

    async fn statuses(&self, services: Vec<Service>) -> Result<Vec<ContainerStatus>> {
        let ids: Vec<String> = services.iter().filter_map(|s| s.id.clone()).collect();
        let tasks = self.tasks_of(&ids).await?;
        let nodes = self.node_map().await?;
        let mut out: Vec<ContainerStatus> = services
            .iter()
            .map(|s| {
                service::container_status(s, service::newest_task(s.id.as_deref().unwrap_or_default(), &tasks), &nodes)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[async_trait]
impl Engine for SwarmEngine {
    async fn info(&self) -> Result<EngineInfo> {
        let mut info = self.local.info().await?;
        info.endpoint = format!("swarm via {}", info.endpoint);
        Ok(info)
    }

    fn privileged_refusal(&self) -> Option<String> {
        Some(service::PRIVILEGED_REFUSAL.to_string())
    }

    async fn image_present(&self, image: &str) -> Result<bool> {
        self.local.image_present(image).await
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
        // The manager pulls it (so its size, digest and declared volumes are known here), and
        // the credentials go with every service of the image to the node that pulls it there.
        if let Some(auth) = auth {
            self.auths.lock().unwrap().insert(image.to_string(), auth.clone());
        }
        self.local.pull_image_reporting(image, auth, progress).await
    }

    async fn registry_digest(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<String> {
        self.local.registry_digest(image, auth).await
    }

    async fn tag_image(&self, image: &str, target: &str) -> Result<()> {
        self.local.tag_image(image, target).await
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageStatus> {
        self.local.inspect_image(image).await
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
        let target = self.target("create_network", "network", &spec.name);
        let _placing = self.placing.lock().await;
        if let Ok(existing) = self.docker().inspect_network(&spec.name, None).await
            && existing.name.as_deref() == Some(spec.name.as_str())
        {
            return Err(EngineError::Conflict { kind: "network", name: spec.name.clone() });
        }
        let node = self.place(spec).await?;
        let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        labels.insert(LABEL_NODE.to_string(), node);
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("overlay".to_string()),
            attachable: Some(true),
            labels: Some(labels),
            ipam: spec.subnet.map(|s| Ipam {
                config: Some(vec![IpamConfig { subnet: Some(s.to_string()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker().create_network(request).await.map_err(|e| classify_create_network(e, target))?;
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        // A removed service's endpoints leave the network a moment later: try a few times.
        for _ in 0..20 {
            match self.docker().remove_network(name).await {
                Ok(()) => return Ok(()),
                Err(e) if error::status_code(&e) == Some(404) => return Ok(()),
                Err(e) if error::message(&e).contains("in use") || error::message(&e).contains("active endpoints") => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(classify(e, self.target("remove_network", "network", name))),
            }
        }
        self.local.remove_network(name).await
    }

    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkStatus>> {
        self.local.list_networks(filter).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        if let Some(why) = service::refusal(spec) {
            return Err(EngineError::Permanent {
                operation: "create_container",
                name: spec.name.clone(),
                message: why,
            });
        }
        if let Ok(existing) = self.docker().inspect_service(&spec.name, None).await
            && existing.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(spec.name.as_str())
        {
            return Err(EngineError::Conflict { kind: "container", name: spec.name.clone() });
        }
        let node = self.node_of_network(&spec.network, &spec.name).await?;
        let (mounts, configs) = self.mounts_of(spec).await?;
        let service = service::service_spec(spec, &node, mounts, configs);
        match self.docker().create_service(service, self.auth_for(&spec.image)).await {
            Ok(created) => Ok(created.id.unwrap_or_default()),
            Err(e) if error::status_code(&e) == Some(409) => {
                Err(EngineError::Conflict { kind: "container", name: spec.name.clone() })
            }
            Err(e) => Err(classify(e, self.target("create_container", "container", &spec.name))),
        }
    }

    async fn start_container(&self, name: &str) -> Result<()> {
        self.scale(name, 1, true, None).await?;
        // Docker's start returns once the process runs; so does this, once the node runs the task.
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let status = self.inspect_container(name).await?;
            let service = self.inspect_service("start_container", name).await?;
            let tasks = self.tasks_of(&[service.id.clone().unwrap_or_default()]).await?;
            let task = service::newest_task(service.id.as_deref().unwrap_or_default(), &tasks);
            let state = task.and_then(|t| t.status.as_ref()?.state);
            if matches!(state, Some(TaskState::RUNNING)) || status.state == sprout_engine::ContainerState::Running {
                return Ok(());
            }
            if matches!(
                state,
                Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE | TaskState::SHUTDOWN)
            ) {
                // A container that ran and exited has started; one that never ran has not.
                let err = task.and_then(|t| t.status.as_ref()?.err.clone()).unwrap_or_default();
                if err.is_empty() || matches!(state, Some(TaskState::COMPLETE)) {
                    return Ok(());
                }
                return Err(EngineError::Permanent {
                    operation: "start_container",
                    name: name.to_string(),
                    message: err,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Transient {
                    operation: "start_container",
                    name: name.to_string(),
                    message: format!("its task did not run within {}s (last state {state:?})", START_TIMEOUT.as_secs()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop_container(&self, name: &str, timeout: Duration) -> Result<()> {
        let service = self.inspect_service("stop_container", name).await?;
        if service::replicas(&service) > 0 {
            self.scale(name, 0, false, Some(timeout)).await?;
        }
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(30);
        loop {
            match self.inspect_container(name).await {
                Err(EngineError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e),
                Ok(s) if s.state != sprout_engine::ContainerState::Running => return Ok(()),
                Ok(_) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::StopFailed {
                    name: name.to_string(),
                    timeout_s: timeout.as_secs(),
                    message: "its swarm task is still running".to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn remove_container(&self, name: &str) -> Result<()> {
        let configs = match self.docker().inspect_service(name, None).await {
            Ok(s) => s.spec.and_then(|s| s.task_template?.container_spec?.configs).unwrap_or_default(),
            Err(e) if error::status_code(&e) == Some(404) => return Ok(()),
            Err(e) => return Err(classify(e, self.target("remove_container", "container", name))),
        };
        match self.docker().delete_service(name).await {
            Ok(()) => {}
            Err(e) if error::status_code(&e) == Some(404) => {}
            Err(e) => return Err(classify(e, self.target("remove_container", "container", name))),
        }
        self.remove_unused_configs(&configs).await;
        Ok(())
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerStatus> {
        let service = self.inspect_service("inspect_container", name).await?;
        let mut statuses = self.statuses(vec![service]).await?;
        Ok(statuses.remove(0))
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerStatus>> {
        let options = ListServicesOptions { filters: crate::label_filters(filter), ..Default::default() };
        let services = self
            .docker()
            .list_services(Some(options))
            .await
            .map_err(|e| classify(e, self.target("list_containers", "container", "")))?;
        self.statuses(services).await
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String> {
        let options = LogsOptions { stdout: true, stderr: true, tail: tail.to_string(), ..Default::default() };
        let chunks: Vec<_> = self
            .docker()
            .service_logs(name, Some(options))
            .try_collect()
            .await
            .map_err(|e| classify(e, self.target("container_logs", "container", name)))?;
        Ok(chunks.iter().map(|c| c.to_string()).collect())
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>> {
        self.node_statuses().await
    }
}
