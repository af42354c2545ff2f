//! Desired (`*Spec`) and observed (`*Status`) engine objects, engine-neutral.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    pub server: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The IPv4 subnet to give it; None lets the engine choose from its own address pools.
    pub subnet: Option<ipnet::Ipv4Net>,
    /// Placement constraints of the instance whose network this is (`placement.constraints`,
    /// Swarm's syntax): engines of several machines place the instance on a node matching them;
    /// one machine ignores them.
    pub placement: Vec<String>,
}

/// A Sprout instance placed on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, PartialOrd, Ord)]
pub struct NodeInstance {
    pub app: String,
    pub env: String,
    pub id: String,
}

/// One machine of a cluster engine, as `sprout nodes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct NodeStatus {
    pub id: String,
    pub hostname: String,
    /// The address other machines (and the load balancer) reach it at.
    pub address: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `ready`, `down`, `disconnected`, `unknown`.
    pub state: String,
    /// `active`, `drain` or `pause`.
    pub availability: String,
    pub labels: BTreeMap<String, String>,
    /// Sprout instances whose containers are placed on it.
    pub instances: Vec<NodeInstance>,
    /// Memory reserved (or limited, where nothing is reserved) by Sprout's containers on it.
    pub reserved_memory_bytes: u64,
    pub memory_bytes: u64,
    /// CPUs of the node, in thousandths.
    pub millicpus: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct NetworkStatus {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Its IPv4 subnet, when it has one.
    pub subnet: Option<ipnet::Ipv4Net>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImageStatus {
    pub id: String,
    pub size_bytes: u64,
    /// `NAME@sha256:...` for each registry the image was pulled from (none for a local build):
    /// what names it by content, so it can be pulled again exactly.
    pub repo_digests: Vec<String>,
}

/// How far a pull is: layers and bytes, as the engine reports them while it downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PullProgress {
    pub layers: u32,
    /// Layers downloaded (or already present).
    pub layers_done: u32,
    /// Bytes of the layers whose size is known yet.
    pub bytes: u64,
    pub bytes_done: u64,
}

/// A host path (or Docker named volume when `source` does not start with `/`) mounted into a
/// container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// A container port published on the host. `host_port: None` asks for an ephemeral port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: String,
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UlimitSpec {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfigSpec {
    pub driver: String,
    pub options: BTreeMap<String, String>,
}

/// Docker HEALTHCHECK; durations in seconds (0 = Docker's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckSpec {
    pub test: Vec<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub retries: u32,
    pub start_period_s: u32,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// The network the container joins at creation.
    pub network: String,
    /// Names other containers on `network` reach this one by.
    pub aliases: Vec<String>,
    pub env: Vec<(String, String)>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub memory_bytes: Option<i64>,
    pub memory_reservation_bytes: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub binds: Vec<Bind>,
    /// Container names, each with `:ro` or `:rw`.
    pub volumes_from: Vec<String>,
    pub ports: Vec<PortSpec>,
    /// `host:ip`.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub ulimits: Vec<UlimitSpec>,
    pub log_config: Option<LogConfigSpec>,
    pub healthcheck: Option<HealthcheckSpec>,
    /// Give the main process a terminal (`sprout run -t`).
    pub tty: bool,
    /// Keep the main process's standard input open for an attached client, closed when that
    /// client closes it (`sprout run`).
    pub open_stdin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// Docker's own health check verdict, when the container has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerHealth {
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerStatus {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
    /// Set once the container has exited.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub health: Option<DockerHealth>,
    pub ports: Vec<PublishedPort>,
    /// Its address on its network while it runs (an instance's containers have one network).
    /// The load balancer reaches instances there rather than through a published port: the
    /// engine's port proxy dies when the engine restarts, the container does not.
    pub ip: Option<std::net::IpAddr>,
    /// RFC 3339, as the engine reports it; empty if never started.
    pub started_at: String,
    pub finished_at: String,
}
