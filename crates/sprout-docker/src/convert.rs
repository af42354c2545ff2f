//! Mapping between Sprout's engine-neutral objects and bollard's Docker API models: a
//! `ContainerSpec` becomes a create body (config, host config, networking config), an inspect
//! response becomes a `ContainerStatus`, and image references split into repository and tag.
//!
//! Not here: any call to Docker, or error handling (`error.rs`). Pure functions, unit-tested.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, HostConfigLogConfig,
    NetworkingConfig, PortBinding, PortMap, ResourcesUlimits,
};
use sprout_engine::{ContainerSpec, ContainerState, ContainerStatus, DockerHealth, PublishedPort};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Docker reports this as the start/finish time of a container that never started/finished.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

/// `80/tcp`, the key Docker uses for ports in both exposed ports and bindings.
fn port_key(port: u16, protocol: &str) -> String {
    let protocol = if protocol.is_empty() { "tcp" } else { protocol };
    format!("{port}/{protocol}")
}

/// Docker's create body for a spec. No restart policy: Sprout replaces failed instances itself,
/// and a daemon restarting containers behind its back would fight the reconciler.
pub(crate) fn container_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut port_bindings = PortMap::new();
    for p in &spec.ports {
        let binding = PortBinding {
            host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
            // Docker picks an ephemeral host port when HostPort is empty.
            host_port: Some(p.host_port.filter(|&port| port != 0).map(|port| port.to_string()).unwrap_or_default()),
        };
        let slot = port_bindings.entry(port_key(p.container_port, &p.protocol)).or_insert(None);
        slot.get_or_insert_with(Vec::new).push(binding);
    }
    let mut exposed: Vec<String> = port_bindings.keys().cloned().collect();
    exposed.sort();

    let network = (!spec.network.is_empty()).then(|| spec.network.clone());
    let networking_config = network.as_ref().map(|net| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            net.clone(),
            EndpointSettings { aliases: non_empty(spec.aliases.clone()), ..Default::default() },
        )])),
    });

    let host_config = HostConfig {
        privileged: Some(spec.privileged),
        readonly_rootfs: Some(spec.readonly_rootfs),
        memory: spec.memory_bytes,
        memory_reservation: spec.memory_reservation_bytes,
        cpu_shares: spec.cpu_shares,
        binds: non_empty(spec.binds.iter().map(bind_text).collect()),
        volumes_from: non_empty(spec.volumes_from.clone()),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        extra_hosts: non_empty(spec.extra_hosts.clone()),
        dns: non_empty(spec.dns.clone()),
        ulimits: non_empty(
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect(),
        ),
        log_config: spec.log_config.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone()),
            config: Some(l.options.clone().into_iter().collect()),
        }),
        network_mode: network,
        ..Default::default()
    };

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        env: non_empty(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        exposed_ports: non_empty(exposed),
        healthcheck: spec.healthcheck.as_ref().map(health_config),
        host_config: Some(host_config),
        networking_config,
        tty: spec.tty.then_some(true),
        open_stdin: spec.open_stdin.then_some(true),
        // The attached client's end of input is the process's: its stdin closes with it.
        stdin_once: spec.open_stdin.then_some(true),
        attach_stdin: spec.open_stdin.then_some(true),
        attach_stdout: spec.open_stdin.then_some(true),
        attach_stderr: spec.open_stdin.then_some(true),
        ..Default::default()
    }
}

/// `source:target[:ro]`, Docker's bind syntax (a source without `/` is a named volume).
fn bind_text(b: &sprout_engine::Bind) -> String {
    if b.read_only { format!("{}:{}:ro", b.source, b.target) } else { format!("{}:{}", b.source, b.target) }
}

fn state(status: Option<ContainerStateStatusEnum>) -> ContainerState {
    match status {
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        // Still running until the stop completes.
        Some(ContainerStateStatusEnum::STOPPING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::EMPTY) | None => ContainerState::Created,
    }
}

fn health(status: Option<HealthStatusEnum>) -> Option<DockerHealth> {
    match status? {
        HealthStatusEnum::STARTING => Some(DockerHealth::Starting),
        HealthStatusEnum::HEALTHY => Some(DockerHealth::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(DockerHealth::Unhealthy),
        HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => None,
    }
}

fn time(t: Option<String>) -> String {
    t.filter(|t| t != ZERO_TIME && !t.is_empty()).unwrap_or_default()
}

/// The host ports Docker actually bound (ephemeral ones included), sorted for stable output.
fn published_ports(ports: Option<PortMap>) -> Vec<PublishedPort> {
    let mut out = Vec::new();
    for (key, bindings) in ports.unwrap_or_default() {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let Some(host_port) = b.host_port.and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            out.push(PublishedPort {
                container_port,
                protocol: protocol.to_string(),
                host_ip: b.host_ip.unwrap_or_default(),
                host_port,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
    out
}

/// A container the list shows as created (never started, or being created or started right
/// now): everything Sprout needs of it is in the list, so it is not inspected. Inspecting it
/// would wait on the engine's lock for the container until its start ends.
pub(crate) fn created_container_status(summary: &ContainerSummary) -> Option<ContainerStatus> {
    if summary.state != Some(ContainerSummaryStateEnum::CREATED) {
        return None;
    }
    Some(ContainerStatus {
        id: summary.id.clone()?,
        name: summary.names.as_ref()?.first()?.trim_start_matches('/').to_string(),
        image: summary.image.clone().unwrap_or_default(),
        labels: summary.labels.clone().unwrap_or_default().into_iter().collect(),
        state: ContainerState::Created,
        exit_code: None,
        oom_killed: false,
        health: None,
        ports: Vec::new(),
        ip: None,
        started_at: String::new(),
        finished_at: String::new(),
    })
}

/// What Sprout needs from `docker inspect`.
pub(crate) fn container_status(inspect: ContainerInspectResponse) -> ContainerStatus {
    let config = inspect.config.unwrap_or_default();
    let st = inspect.state.unwrap_or_default();
    let state = state(st.status);
    // Docker reports 0 for containers that never ran; only an exit has an exit code.
    let exited = matches!(state, ContainerState::Exited | ContainerState::Dead);
    ContainerStatus {
        id: inspect.id.unwrap_or_default(),
        name: inspect.name.unwrap_or_default().trim_start_matches('/').to_string(),
        // The reference the container was created from, not the image id.
        image: config.image.or(inspect.image).unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        state,
        exit_code: if exited { st.exit_code } else { None },
        oom_killed: st.oom_killed.unwrap_or(false),
        health: health(st.health.and_then(|h| h.status)),
        ip: if state == ContainerState::Running { network_address(inspect.network_settings.as_ref()) } else { None },
        ports: published_ports(inspect.network_settings.and_then(|n| n.ports)),
        started_at: time(st.started_at),
        finished_at: time(st.finished_at),
    }
}

/// The container's IPv4 address on its network (the first that has one, by network name so the
/// choice is stable), or its IPv6 one.
fn network_address(settings: Option<&bollard::models::NetworkSettings>) -> Option<std::net::IpAddr> {
    let networks = settings?.networks.as_ref()?;
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let endpoint = &networks[name];
        let v4 = endpoint.ip_address.as_deref().filter(|a| !a.is_empty());
        let v6 = endpoint.global_ipv6_address.as_deref().filter(|a| !a.is_empty());
        v4.or(v6)?.parse().ok()
    })
}

/// Split `repo[:tag]` or `repo@digest` for Docker's pull API, which pulls *every* tag when the
/// tag is left empty; a bare name therefore means `latest`, as on the command line.
pub(crate) fn split_reference(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (image[..slash + i].to_string(), image[slash + i + 1..].to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// A container's Docker health check as the engine API takes it, for a container and for a
/// Swarm service alike.
pub(crate) fn health_config(h: &sprout_engine::HealthcheckSpec) -> HealthConfig {
    HealthConfig {
        test: Some(h.test.clone()),
        // Zero means "Docker's default" in both Sprout and Docker, so it passes through.
        interval: Some(i64::from(h.interval_s) * NANOS_PER_SECOND),
        timeout: Some(i64::from(h.timeout_s) * NANOS_PER_SECOND),
        retries: Some(i64::from(h.retries)),
        start_period: Some(i64::from(h.start_period_s) * NANOS_PER_SECOND),
        start_interval: None,
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;

/// CPU percent as `docker stats` computes it: the container's share of the host's CPU time
/// between the two samples, times the number of CPUs. Memory excludes the page cache (cgroup v2
/// `inactive_file`, v1 `total_inactive_file`), as `docker stats` does.
pub(crate) fn container_usage(stats: &bollard::models::ContainerStatsResponse) -> sprout_engine::ContainerUsage {
    let total =
        |s: Option<&bollard::models::ContainerCpuStats>| s.and_then(|s| s.cpu_usage.as_ref()?.total_usage).unwrap_or(0);
    let system = |s: Option<&bollard::models::ContainerCpuStats>| s.and_then(|s| s.system_cpu_usage).unwrap_or(0);
    let (cpu, pre) = (stats.cpu_stats.as_ref(), stats.precpu_stats.as_ref());
    let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
    let system_delta = system(cpu).saturating_sub(system(pre)) as f64;
    let cpus = cpu.and_then(|c| c.online_cpus).unwrap_or(1).max(1) as f64;
    let cpu_percent = if system_delta > 0.0 { cpu_delta / system_delta * cpus * 100.0 } else { 0.0 };
    let memory = stats.memory_stats.as_ref();
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied())
        .unwrap_or(0);
    sprout_engine::ContainerUsage {
        cpu_percent,
        memory_bytes: memory.and_then(|m| m.usage).unwrap_or(0).saturating_sub(cache),
        memory_limit_bytes: memory.and_then(|m| m.limit).unwrap_or(0),
    }
}
