//! The FakeEngine's world: images, networks and containers, and the synchronous transitions
//! Docker applies to them (create, start, stop, remove), with Docker's error for each misuse.
//!
//! Not here: anything that waits (stop timeouts live in `engine.rs`, which sleeps outside the
//! lock) nor the test hooks' public surface (`fake.rs`).

use std::collections::{BTreeMap, HashMap, VecDeque};

use ipnet::Ipv4Net;

use crate::{
    ContainerSpec, ContainerState, ContainerStatus, DockerHealth, EngineError, LabelFilter, NetworkSpec, NetworkStatus,
    PublishedPort, Result,
};

/// Where the fake says it lives, in `Unavailable` errors and `info()`.
pub(crate) const ENDPOINT: &str = "fake:///var/run/docker.sock";
/// First host port handed out for ephemeral bindings, like Docker's range starts high.
pub(crate) const FIRST_EPHEMERAL_PORT: u16 = 40000;
/// Image size when a test does not say.
pub(crate) const DEFAULT_IMAGE_SIZE: u64 = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct FakeImage {
    pub id: String,
    pub size_bytes: u64,
    /// `NAME@sha256:...`: set for images that come from a registry.
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum PullFailure {
    Auth(String),
    Other(String),
}

/// How a container reacts to SIGTERM.
#[derive(Debug, Clone)]
pub(crate) enum StopBehaviour {
    /// Ignores SIGTERM: stop waits the whole timeout, then SIGKILL succeeds (exit 137).
    IgnoreTerm,
    /// Ignores SIGTERM and cannot be killed either (Docker's `Cannot allocate memory`).
    Unkillable(String),
}

#[derive(Debug, Clone)]
pub(crate) struct FakeContainer {
    pub id: String,
    pub spec: ContainerSpec,
    pub state: ContainerState,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub health: Option<DockerHealth>,
    pub ports: Vec<PublishedPort>,
    pub started_at: String,
    pub finished_at: String,
    pub logs: Vec<String>,
}

impl FakeContainer {
    pub fn status(&self) -> ContainerStatus {
        ContainerStatus {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            image: self.spec.image.clone(),
            labels: self.spec.labels.clone(),
            state: self.state,
            exit_code: self.exit_code,
            oom_killed: self.oom_killed,
            health: self.health,
            ports: self.ports.clone(),
            // Fake instances are reached at their published ports, where tests serve them.
            ip: None,
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        }
    }

    /// The process ended: Docker unpublishes ports and keeps the exit code.
    pub fn exit(&mut self, code: i64, now: String) {
        self.state = ContainerState::Exited;
        self.exit_code = Some(code);
        self.ports.clear();
        self.finished_at = now;
        if self.health.is_some() {
            self.health = Some(DockerHealth::Unhealthy);
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FakeNetwork {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub subnet: Option<Ipv4Net>,
}

/// Docker's message when a network is asked for a subnet another network has.
pub(crate) const POOL_OVERLAPS: &str = "Pool overlaps with other one on this address space";
/// Docker's message when its own address pools have no subnet left.
pub(crate) const NO_DEFAULT_POOL: &str =
    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network";

/// The subnets Docker 20.10's default address pools hand bridge networks: 172.18.0.0/16 to
/// 172.31.0.0/16, then 192.168.0.0/16 in /20s (172.17.0.0/16 is the default bridge's): 30.
fn default_pool_subnets() -> impl Iterator<Item = Ipv4Net> {
    let wide = (18..=31).map(|b| Ipv4Net::new(std::net::Ipv4Addr::new(172, b, 0, 0), 16).expect("valid"));
    let narrow = (0..16).map(|i| Ipv4Net::new(std::net::Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("valid"));
    wide.chain(narrow)
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub images: BTreeMap<String, FakeImage>,
    /// What the registries hold, by normalized reference: the image a pull brings.
    pub pullable: BTreeMap<String, FakeImage>,
    /// Registries that want a credential: host -> (user, password).
    pub registry_logins: HashMap<String, (String, String)>,
    /// Registries that do not answer.
    pub registries_down: std::collections::HashSet<String>,
    pub pull_failures: HashMap<String, PullFailure>,
    pub networks: BTreeMap<String, FakeNetwork>,
    pub containers: BTreeMap<String, FakeContainer>,
    pub stop_behaviour: HashMap<String, StopBehaviour>,
    /// One-shot errors keyed by (operation, object name).
    pub injected: HashMap<(String, String), VecDeque<EngineError>>,
    pub unavailable: bool,
    /// Set: the engine cannot run privileged containers, and says this (as a swarm engine).
    pub privileged_refusal: Option<String>,
    pub calls: Vec<String>,
    pub next_id: u64,
    pub next_port: u16,
}

/// `name` and `name:latest` are the same image, as in Docker.
pub(crate) fn normalize_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') { image.to_string() } else { format!("{image}:latest") }
}

/// Deterministic 64-hex-digit id, the shape Docker's ids have.
pub(crate) fn make_id(kind: &str, n: u64) -> String {
    // FNV-1a keeps ids stable across runs without a hashing dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.bytes().chain(n.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{n:048x}")
}

pub(crate) fn labels_match(labels: &BTreeMap<String, String>, filter: &LabelFilter) -> bool {
    filter.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Networks every Docker engine has without creating them.
fn builtin_network(name: &str) -> bool {
    matches!(name, "" | "bridge" | "host" | "none" | "default")
}

impl State {
    pub fn new() -> Self {
        State { next_port: FIRST_EPHEMERAL_PORT, ..State::default() }
    }

    pub fn fresh_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        make_id(kind, self.next_id)
    }

    /// A local image by reference (`name`, `name:tag`) or by id (`sha256:...`), as Docker
    /// resolves either.
    pub fn find_image(&self, image: &str) -> Option<&FakeImage> {
        self.images
            .get(&normalize_image(image))
            .or_else(|| self.images.values().find(|i| i.id == image || i.repo_digests.iter().any(|d| d == image)))
    }

    pub fn add_image(&mut self, image: &str, size_bytes: u64) {
        let id = format!("sha256:{}", self.fresh_id("image"));
        self.images.insert(normalize_image(image), FakeImage { id, size_bytes, repo_digests: Vec::new() });
    }

    /// The registry holds `image`: a pull brings it with a fixed id and digest.
    pub fn add_pullable(&mut self, image: &str, size_bytes: u64) {
        let id = format!("sha256:{}", self.fresh_id("image"));
        let digest = format!("sha256:{}", self.fresh_id("digest"));
        let name = normalize_image(image);
        let repo = name.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map_or(name.as_str(), |(r, _)| r);
        let repo_digests = vec![format!("{repo}@{digest}")];
        self.pullable.insert(name, FakeImage { id, size_bytes, repo_digests });
    }

    /// What the registry holds under `image` (a tag or `NAME@digest`).
    pub fn find_pullable(&self, image: &str) -> Option<&FakeImage> {
        self.pullable
            .get(&normalize_image(image))
            .or_else(|| self.pullable.values().find(|i| i.repo_digests.iter().any(|d| d == image)))
    }

    pub fn take_injected(&mut self, operation: &str, name: &str) -> Option<EngineError> {
        let key = (operation.to_string(), name.to_string());
        let queue = self.injected.get_mut(&key)?;
        let err = queue.pop_front();
        if queue.is_empty() {
            self.injected.remove(&key);
        }
        err
    }

    pub fn container_mut(&mut self, name: &str) -> Result<&mut FakeContainer> {
        self.containers.get_mut(name).ok_or_else(|| EngineError::NotFound { kind: "container", name: name.to_string() })
    }

    /// Like Docker: a subnet asked for must overlap no other network's; without one, the next
    /// free subnet of the default pools is taken, and when they are used up creation fails.
    pub fn create_network(&mut self, spec: &NetworkSpec) -> Result<()> {
        let name = spec.name.as_str();
        if self.networks.contains_key(name) || builtin_network(name) {
            return Err(EngineError::Conflict { kind: "network", name: name.to_string() });
        }
        let free =
            |s: &Ipv4Net| self.networks.values().filter_map(|n| n.subnet).all(|t| !t.contains(s) && !s.contains(&t));
        let refuse = |message: &str| EngineError::Permanent {
            operation: "create_network",
            name: name.to_string(),
            message: message.to_string(),
        };
        let subnet = match spec.subnet {
            Some(s) if free(&s) => s,
            Some(_) => return Err(refuse(POOL_OVERLAPS)),
            None => default_pool_subnets().find(|s| free(s)).ok_or_else(|| refuse(NO_DEFAULT_POOL))?,
        };
        let id = self.fresh_id("network");
        let network = FakeNetwork { id, labels: spec.labels.clone(), subnet: Some(subnet) };
        self.networks.insert(name.to_string(), network);
        Ok(())
    }

    pub fn remove_network(&mut self, name: &str) -> Result<()> {
        let Some(net) = self.networks.get(name) else {
            return Ok(());
        };
        // Docker refuses while running containers hold endpoints on the network (HTTP 403).
        let attached: Vec<&str> = self
            .containers
            .values()
            .filter(|c| c.spec.network == name && c.state == ContainerState::Running)
            .map(|c| c.spec.name.as_str())
            .collect();
        if !attached.is_empty() {
            return Err(EngineError::Permanent {
                operation: "remove_network",
                name: name.to_string(),
                message: format!(
                    "error while removing network: network {name} id {} has active endpoints ({})",
                    net.id,
                    attached.join(", ")
                ),
            });
        }
        self.networks.remove(name);
        Ok(())
    }

    pub fn list_networks(&self, filter: &LabelFilter) -> Vec<NetworkStatus> {
        self.networks
            .iter()
            .filter(|(_, n)| labels_match(&n.labels, filter))
            .map(|(name, n)| NetworkStatus {
                id: n.id.clone(),
                name: name.clone(),
                labels: n.labels.clone(),
                subnet: n.subnet,
            })
            .collect()
    }

    pub fn create_container(&mut self, spec: &ContainerSpec) -> Result<String> {
        if self.containers.contains_key(&spec.name) {
            return Err(EngineError::Conflict { kind: "container", name: spec.name.clone() });
        }
        if self.find_image(&spec.image).is_none() {
            return Err(EngineError::NotFound { kind: "image", name: spec.image.clone() });
        }
        if !builtin_network(&spec.network) && !self.networks.contains_key(&spec.network) {
            return Err(EngineError::NotFound { kind: "network", name: spec.network.clone() });
        }
        for from in &spec.volumes_from {
            let source = from.split(':').next().unwrap_or(from);
            if !self.containers.contains_key(source) {
                return Err(EngineError::NotFound { kind: "container", name: source.to_string() });
            }
        }
        let id = self.fresh_id("container");
        self.containers.insert(
            spec.name.clone(),
            FakeContainer {
                id: id.clone(),
                spec: spec.clone(),
                state: ContainerState::Created,
                exit_code: None,
                oom_killed: false,
                health: None,
                ports: Vec::new(),
                started_at: String::new(),
                finished_at: String::new(),
                logs: Vec::new(),
            },
        );
        Ok(id)
    }

    pub fn start_container(&mut self, name: &str, now: String) -> Result<()> {
        let container = self.container_mut(name)?;
        if container.state == ContainerState::Running {
            // Docker answers 304 Not Modified; bollard treats it as success.
            return Ok(());
        }
        let spec = container.spec.clone();
        if !builtin_network(&spec.network) && !self.networks.contains_key(&spec.network) {
            return Err(EngineError::NotFound { kind: "network", name: spec.network.clone() });
        }
        let mut ports = Vec::new();
        for p in &spec.ports {
            let host_ip = if p.host_ip.is_empty() { "0.0.0.0".to_string() } else { p.host_ip.clone() };
            let host_port = match p.host_port {
                Some(port) if port != 0 => {
                    if self.port_in_use(port, &p.protocol) {
                        // Docker fails the start with a 500 from the port mapper.
                        return Err(EngineError::Transient {
                            operation: "start_container",
                            name: name.to_string(),
                            message: format!(
                                "driver failed programming external connectivity: Bind for \
                                 {host_ip}:{port} failed: port is already allocated"
                            ),
                        });
                    }
                    port
                }
                _ => self.allocate_port(),
            };
            ports.push(PublishedPort {
                container_port: p.container_port,
                protocol: p.protocol.clone(),
                host_ip,
                host_port,
            });
        }
        let container = self.container_mut(name)?;
        container.state = ContainerState::Running;
        container.exit_code = None;
        container.oom_killed = false;
        container.ports = ports;
        container.started_at = now;
        container.finished_at = String::new();
        container.health = spec.healthcheck.as_ref().map(|_| DockerHealth::Starting);
        container.logs.push(format!("{name} started"));
        Ok(())
    }

    fn port_in_use(&self, port: u16, protocol: &str) -> bool {
        self.containers.values().flat_map(|c| c.ports.iter()).any(|p| p.host_port == port && p.protocol == protocol)
    }

    fn allocate_port(&mut self) -> u16 {
        loop {
            let port = self.next_port;
            // Wrap inside the ephemeral range rather than overflow in very long tests.
            self.next_port = if port == u16::MAX { FIRST_EPHEMERAL_PORT } else { port + 1 };
            if !self.port_in_use(port, "tcp") && !self.port_in_use(port, "udp") {
                return port;
            }
        }
    }

    pub fn remove_container(&mut self, name: &str) {
        self.containers.remove(name);
        self.stop_behaviour.remove(name);
    }
}

/// RFC 3339 for a count of seconds since the Unix epoch, without a date library.
pub(crate) fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}
