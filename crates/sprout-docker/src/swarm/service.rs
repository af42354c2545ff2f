//! Mapping between Sprout's container specs and Swarm services (docs/swarm.md): one service per
//! container, one replica at most, restart condition none, pinned to its instance's node, on
//! its instance's overlay network with the link aliases, DNS round robin (no virtual IP, so an
//! instance's small subnet holds its containers), host-mode published ports, memory limits and
//! reservations, `cpu` as a CPU reservation, Sprout's labels on the service and its containers.
//! Back again: a service and its newest task as a `ContainerStatus`.
//!
//! Pure. Not here: calls to Docker (`super`), or where mounts and config files come from
//! (`super::files`).

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, Limit, Mount, NetworkAttachmentConfig, Node, NodeSpecAvailabilityEnum, NodeState,
    ResourceObject, ResourcesUlimits, Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, Task, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig, TaskSpecLogDriver,
    TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use sprout_engine::{ContainerSpec, ContainerState, ContainerStatus, DockerHealth, PublishedPort};

/// Service label set once Sprout has started the service (scaled it to one replica): a service
/// at zero replicas without it was never started (`created`), with it was stopped (`exited`).
pub const LABEL_STARTED: &str = "sprout.swarm.started";

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Docker's CPU shares per CPU: Dockerrun's `cpu` units.
const SHARES_PER_CPU: i64 = 1024;

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

/// Why a container spec cannot run as a Swarm service (API 1.41), if it cannot.
pub fn refusal(spec: &ContainerSpec) -> Option<String> {
    spec.privileged.then(|| PRIVILEGED_REFUSAL.to_string())
}

/// Why a swarm engine runs no privileged container (at validation, and at launch as a backstop).
pub const PRIVILEGED_REFUSAL: &str = "privileged containers cannot run on a swarm engine (Swarm services have no privileged mode): remove \"privileged\" or run the environment on the local engine";

/// The service for `spec`, at zero replicas, on `node`.
pub fn service_spec(
    spec: &ContainerSpec,
    node: &str,
    mounts: Vec<Mount>,
    configs: Vec<TaskSpecContainerSpecConfigs>,
) -> ServiceSpec {
    let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    let ports: Vec<EndpointPortConfig> = spec
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            protocol: Some(match p.protocol.as_str() {
                "udp" => EndpointPortConfigProtocolEnum::UDP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            }),
            target_port: Some(i64::from(p.container_port)),
            // Host mode: the port is bound on the node itself (every interface), an ephemeral
            // one unless the spec names it; the task reports which.
            published_port: p.host_port.filter(|&h| h != 0).map(i64::from),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            name: None,
        })
        .collect();
    let memory_limit = spec.memory_bytes;
    let memory_reservation = spec.memory_reservation_bytes;
    let container = TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        labels: Some(labels.clone()),
        // Swarm's Command is Docker's entrypoint and Args its command.
        command: spec.entrypoint.clone(),
        args: spec.command.clone(),
        hostname: spec.hostname.clone(),
        env: non_empty(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        tty: spec.tty.then_some(true),
        open_stdin: spec.open_stdin.then_some(true),
        read_only: spec.readonly_rootfs.then_some(true),
        mounts: non_empty(mounts),
        configs: non_empty(configs),
        health_check: spec.healthcheck.as_ref().map(crate::convert::health_config),
        // Swarm's hosts file entries are "IP name", Docker's extra hosts "name:IP".
        hosts: non_empty(
            spec.extra_hosts
                .iter()
                .filter_map(|h| h.split_once(':').map(|(name, ip)| format!("{ip} {name}")))
                .collect(),
        ),
        dns_config: (!spec.dns.is_empty())
            .then(|| TaskSpecContainerSpecDnsConfig { nameservers: Some(spec.dns.clone()), ..Default::default() }),
        ulimits: non_empty(
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect(),
        ),
        ..Default::default()
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: Some(TaskSpecResources {
            limits: memory_limit.map(|m| Limit { memory_bytes: Some(m), ..Default::default() }),
            reservations: Some(ResourceObject {
                memory_bytes: memory_reservation,
                nano_cpus: spec.cpu_shares.map(|s| s * NANOS_PER_SECOND / SHARES_PER_CPU),
                ..Default::default()
            }),
            ..Default::default()
        }),
        // Sprout decides when an instance is replaced; Swarm must not restart it behind its back.
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
            ..Default::default()
        }),
        placement: Some(TaskSpecPlacement {
            constraints: Some(vec![format!("node.id=={node}")]),
            ..Default::default()
        }),
        networks: (!spec.network.is_empty()).then(|| {
            vec![NetworkAttachmentConfig {
                target: Some(spec.network.clone()),
                aliases: non_empty(spec.aliases.clone()),
                ..Default::default()
            }]
        }),
        log_driver: spec.log_config.as_ref().map(|l| TaskSpecLogDriver {
            name: Some(l.driver.clone()),
            options: Some(l.options.clone().into_iter().collect()),
        }),
        ..Default::default()
    };
    ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(0) }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ports: non_empty(ports) }),
        ..Default::default()
    }
}

/// The node a service is pinned to (its `node.id==` constraint).
pub fn pinned_node(service: &Service) -> Option<String> {
    let constraints = service.spec.as_ref()?.task_template.as_ref()?.placement.as_ref()?.constraints.as_ref()?;
    constraints.iter().find_map(|c| c.strip_prefix("node.id==").map(str::to_string))
}

/// Replicas the service asks for.
pub fn replicas(service: &Service) -> i64 {
    service.spec.as_ref().and_then(|s| s.mode.as_ref()?.replicated.as_ref()?.replicas).unwrap_or(0)
}

/// Memory the service holds on its node: its reservation, else its limit.
pub fn reserved_memory(service: &Service) -> u64 {
    let resources = service.spec.as_ref().and_then(|s| s.task_template.as_ref()?.resources.as_ref());
    let reserved = resources.and_then(|r| r.reservations.as_ref()?.memory_bytes).filter(|&m| m > 0);
    let limit = resources.and_then(|r| r.limits.as_ref()?.memory_bytes).filter(|&m| m > 0);
    reserved.or(limit).unwrap_or(0).max(0) as u64
}

/// The address the load balancer reaches a node at: its status address, or a manager's
/// advertised address when the status says 0.0.0.0 (as some engines do for managers).
pub fn node_address(node: &Node) -> String {
    let status = node.status.as_ref().and_then(|s| s.addr.clone()).unwrap_or_default();
    if !status.is_empty() && status != "0.0.0.0" {
        return status;
    }
    let manager = node.manager_status.as_ref().and_then(|m| m.addr.clone()).unwrap_or_default();
    manager.rsplit_once(':').map(|(host, _)| host.to_string()).unwrap_or(manager)
}

/// Is the node gone for its tasks: down, disconnected, unknown?
pub fn node_lost(node: Option<&Node>) -> bool {
    !matches!(node.and_then(|n| n.status.as_ref()?.state), Some(NodeState::READY))
}

/// Is the node drained or paused (ready, but to take no new instance)?
pub fn node_active(node: &Node) -> bool {
    matches!(node.spec.as_ref().and_then(|s| s.availability), Some(NodeSpecAvailabilityEnum::ACTIVE) | None)
}

/// The service's newest task (a service has one replica at most; earlier tasks linger a while).
pub fn newest_task<'a>(service_id: &str, tasks: &'a [Task]) -> Option<&'a Task> {
    tasks.iter().filter(|t| t.service_id.as_deref() == Some(service_id)).max_by_key(|t| {
        (t.created_at.as_ref().map(|d| d.to_string()).unwrap_or_default(), t.version.as_ref().and_then(|v| v.index))
    })
}

/// A service and its newest task as Sprout sees a container. A task on a node that is lost is
/// `Dead`: its last report says running, but nothing runs it any more.
pub fn container_status(service: &Service, task: Option<&Task>, nodes: &HashMap<String, Node>) -> ContainerStatus {
    let spec = service.spec.clone().unwrap_or_default();
    let container = spec.task_template.as_ref().and_then(|t| t.container_spec.clone()).unwrap_or_default();
    let has_healthcheck = container
        .health_check
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|t| t.first().is_some_and(|w| w != "NONE"));
    let started = spec.labels.as_ref().is_some_and(|l| l.contains_key(LABEL_STARTED));
    let status = task.and_then(|t| t.status.clone()).unwrap_or_default();
    let node = task.and_then(|t| t.node_id.as_ref()).and_then(|id| nodes.get(id));
    let exit_code = status.container_status.as_ref().and_then(|c| c.exit_code);
    let (state, health) = match (task, status.state) {
        (None, _) if started => (ContainerState::Exited, None),
        (None, _) => (ContainerState::Created, None),
        (Some(_), Some(TaskState::RUNNING | TaskState::STARTING)) if task.is_some() && node_lost(node) => {
            (ContainerState::Dead, None)
        }
        (Some(_), Some(TaskState::RUNNING)) => {
            (ContainerState::Running, has_healthcheck.then_some(DockerHealth::Healthy))
        }
        // Swarm holds a task with a health check in `starting` until it is healthy.
        (Some(_), Some(TaskState::STARTING)) if has_healthcheck => {
            (ContainerState::Running, Some(DockerHealth::Starting))
        }
        (Some(_), Some(TaskState::COMPLETE | TaskState::FAILED | TaskState::SHUTDOWN | TaskState::REJECTED)) => {
            (ContainerState::Exited, None)
        }
        (Some(_), Some(TaskState::REMOVE | TaskState::ORPHANED)) => (ContainerState::Dead, None),
        _ if started && node_lost(node) && node.is_some() => (ContainerState::Dead, None),
        _ => (ContainerState::Created, None),
    };
    let running = state == ContainerState::Running;
    let address = node.map(node_address).unwrap_or_default();
    let ports = if running {
        status
            .port_status
            .as_ref()
            .and_then(|p| p.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(PublishedPort {
                    container_port: u16::try_from(p.target_port?).ok()?,
                    protocol: match p.protocol {
                        Some(EndpointPortConfigProtocolEnum::UDP) => "udp".to_string(),
                        _ => "tcp".to_string(),
                    },
                    host_ip: address.clone(),
                    host_port: u16::try_from(p.published_port?).ok()?,
                })
            })
            .fold(Vec::new(), |mut acc: Vec<PublishedPort>, p| {
                // Swarm lists a host-mode port once per address family; one is enough.
                if !acc.contains(&p) {
                    acc.push(p);
                }
                acc
            })
    } else {
        Vec::new()
    };
    let at = status.timestamp.as_ref().map(|d| d.to_string()).unwrap_or_default();
    let exited = matches!(state, ContainerState::Exited | ContainerState::Dead);
    ContainerStatus {
        id: service.id.clone().unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        image: container.image.clone().unwrap_or_default(),
        labels: container.labels.clone().unwrap_or_default().into_iter().collect(),
        state,
        exit_code: if exited { exit_code.or_else(|| task.map(|_| -1)) } else { None },
        oom_killed: status.err.as_deref().is_some_and(|e| e.contains("OOM") || e.contains("out of memory")),
        health,
        ports,
        ip: None,
        started_at: if running { at.clone() } else { String::new() },
        finished_at: if exited { at } else { String::new() },
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
