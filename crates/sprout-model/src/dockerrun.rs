//! The Dockerrun.aws.json version 2 file as Elastic Beanstalk documents it: plain data types.
//!
//! These types hold a file that has passed validation (see `load`); they are not the parser.
//! Field names follow the JSON (camelCase) so that error paths read like the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bundle paths in a Dockerrun file start with this prefix; they resolve into the version's
/// unpacked bundle directory.
pub const BUNDLE_PREFIX: &str = "/var/app/current";

/// Volumes whose name starts with this prefix are per-container log directories that Sprout
/// creates for every instance (`awseb-logs-<container name>`).
pub const LOG_VOLUME_PREFIX: &str = "awseb-logs-";

/// The host port the load balancer sends an instance's traffic to: the container that maps it is
/// the web container. `load` only warns when none does; the server refuses to deploy such a
/// version.
pub const WEB_HOST_PORT: u16 = 80;

/// A whole, validated Dockerrun v2 file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dockerrun {
    /// Always 2 once validated (the file may say `2` or `"2"`).
    pub version: u32,
    pub volumes: Vec<Volume>,
    pub container_definitions: Vec<ContainerDefinition>,
    pub authentication: Option<Authentication>,
}

/// `volumes[]`: a named host path (absolute, or under `/var/app/current` for the bundle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    /// `host.sourcePath`; `None` means a Docker-managed empty volume for the instance.
    pub source_path: Option<String>,
}

/// `authentication`: where Elastic Beanstalk found the registry credentials (S3 bucket and key).
/// Sprout records it; credentials themselves are configured per application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    pub bucket: String,
    pub key: String,
}

/// One entry of `containerDefinitions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    /// ECS default: true when omitted.
    pub essential: bool,
    /// Hard limit in MiB.
    pub memory: Option<u64>,
    /// Soft limit in MiB.
    pub memory_reservation: Option<u64>,
    /// CPU shares (1024 = one core's share).
    pub cpu: Option<u64>,
    pub port_mappings: Vec<PortMapping>,
    /// `name` or `name:alias`.
    pub links: Vec<Link>,
    pub volumes_from: Vec<VolumeFrom>,
    pub mount_points: Vec<MountPoint>,
    pub environment: Vec<EnvVar>,
    /// `None` keeps the image's CMD.
    pub command: Option<Vec<String>>,
    /// `None` keeps the image's ENTRYPOINT.
    pub entry_point: Option<Vec<String>>,
    pub working_directory: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    pub readonly_root_filesystem: bool,
    pub extra_hosts: Vec<ExtraHost>,
    pub dns_servers: Vec<String>,
    pub docker_labels: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    pub log_configuration: Option<LogConfiguration>,
    pub health_check: Option<HealthCheck>,
    pub depends_on: Vec<ContainerDependency>,
    /// Variables whose values are the environment's secrets (`secrets`, the ECS form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
}

/// One entry of a container's `secrets`: the variable `name` gets the value of the
/// environment's Sprout secret `secret` (from `valueFrom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub name: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// `None` (or 0 in the file) means no host port: the port is only reachable on the
    /// instance's network.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// `links[]`: the container `name` is reachable from the linking container as `alias`
/// (which equals `name` when the file gave no alias).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeFrom {
    pub source_container: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// A `volumes[].name`, or `awseb-logs-<container>`.
    pub source_volume: String,
    pub container_path: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraHost {
    pub hostname: String,
    pub ip_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ulimit {
    pub name: String,
    pub soft_limit: i64,
    pub hard_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    pub log_driver: String,
    pub options: BTreeMap<String, String>,
}

/// ECS-style container health check; durations in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`, as Docker takes it.
    pub command: Vec<String>,
    pub interval: Option<u32>,
    pub timeout: Option<u32>,
    pub retries: Option<u32>,
    pub start_period: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDependency {
    pub container_name: String,
    pub condition: DependencyCondition,
}

/// When a dependent container may start, as ECS defines `dependsOn[].condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DependencyCondition {
    /// The dependency has started.
    Start,
    /// The dependency ran to completion (any exit code).
    Complete,
    /// The dependency exited with code 0.
    Success,
    /// The dependency's Docker health check reports healthy.
    Healthy,
}

impl DependencyCondition {
    /// The word the file uses (`START`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Start => "START",
            DependencyCondition::Complete => "COMPLETE",
            DependencyCondition::Success => "SUCCESS",
            DependencyCondition::Healthy => "HEALTHY",
        }
    }
}

impl Dockerrun {
    /// The container that maps host port 80 (TCP): the one the load balancer sends traffic to.
    /// `None` means the version cannot be deployed behind the load balancer.
    pub fn web_container(&self) -> Option<(&ContainerDefinition, &PortMapping)> {
        self.container_definitions.iter().find_map(|c| {
            c.port_mappings
                .iter()
                .find(|p| p.host_port == Some(WEB_HOST_PORT) && p.protocol == Protocol::Tcp)
                .map(|p| (c, p))
        })
    }

    pub fn container(&self, name: &str) -> Option<&ContainerDefinition> {
        self.container_definitions.iter().find(|c| c.name == name)
    }

    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// Every Sprout secret the containers name, sorted, once each.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.container_definitions.iter().flat_map(|c| c.secrets.iter().map(|s| s.secret.as_str())).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every image the version runs, once each, in file order.
    pub fn images(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.container_definitions {
            if !out.contains(&c.image.as_str()) {
                out.push(&c.image);
            }
        }
        out
    }
}
