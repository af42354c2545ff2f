//! Observing an environment on the engine: its containers and networks, by label, grouped by
//! instance. This is how a restarted server adopts what it finds.

use std::collections::BTreeMap;

use sprout_engine::{ContainerState, ContainerStatus, DockerHealth, Engine, EngineError, LabelFilter, NetworkStatus};
use sprout_model::Dockerrun;
use sprout_model::names::*;
use sprout_plan::{ContainerObservation, ObservedState};

use super::spec::{LABEL_CONFIG, LABEL_LAUNCHED_AT};

/// One instance as the engine shows it.
#[derive(Debug, Clone, Default)]
pub struct ObservedInstance {
    pub id: String,
    pub version: String,
    pub launched_at: i64,
    /// Hash of the environment properties it was launched with (`LABEL_CONFIG`).
    pub config: String,
    pub containers: Vec<ContainerStatus>,
    pub network: Option<String>,
    /// `LABEL_ROLE` of a one-off instance (a release task, `sprout run`); None for the
    /// environment's own instances.
    pub role: Option<String>,
}

impl ObservedInstance {
    /// The container of this instance for a definition name.
    pub fn container(&self, name: &str) -> Option<&ContainerStatus> {
        self.containers.iter().find(|c| c.labels.get(LABEL_CONTAINER).map(String::as_str) == Some(name))
    }

    /// Engine names of the containers, in the order they should start (definition order when
    /// known, else as found).
    pub fn container_names(&self, def: Option<&Dockerrun>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if let Some(def) = def {
            for c in super::spec::start_order(def) {
                if let Some(s) = self.container(&c.name) {
                    names.push(s.name.clone());
                }
            }
        }
        for c in &self.containers {
            if !names.contains(&c.name) {
                names.push(c.name.clone());
            }
        }
        names
    }

    /// When its containers last started (Unix seconds); None when none ever has (the engine
    /// reports a zero time for a container created and never started).
    pub fn started_at(&self) -> Option<i64> {
        self.containers
            .iter()
            .filter_map(|c| chrono::DateTime::parse_from_rfc3339(&c.started_at).ok())
            .map(|t| t.timestamp())
            .filter(|t| *t > 0)
            .max()
    }

    /// What the planner needs: each container of the definition, with its state.
    pub fn container_observations(&self, def: &Dockerrun) -> Vec<ContainerObservation> {
        def.container_definitions
            .iter()
            .map(|c| ContainerObservation {
                name: c.name.clone(),
                essential: c.essential,
                state: self.container(&c.name).map(observed_state),
                memory_mib: c.memory,
            })
            .collect()
    }

    /// Where the web container (host port 80 in the file) is reached: its own address on the
    /// instance network and its container port, when the engine reports one; else the loopback
    /// port it is published on. The container's address keeps answering while the engine
    /// restarts (with live-restore), where the engine's port proxy does not, and spares every
    /// request a copy through that proxy.
    pub fn web_address(&self, def: &Dockerrun) -> Option<std::net::SocketAddr> {
        let (web, mapping) = def.web_container()?;
        let c = self.container(&web.name)?;
        if let Some(ip) = c.ip {
            return Some(std::net::SocketAddr::new(ip, mapping.container_port));
        }
        let p = c.ports.iter().find(|p| p.container_port == mapping.container_port && p.protocol == "tcp")?;
        format!(
            "{}:{}",
            if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" { "127.0.0.1" } else { &p.host_ip },
            p.host_port
        )
        .parse()
        .ok()
    }
}

pub fn observed_state(c: &ContainerStatus) -> ObservedState {
    match c.state {
        ContainerState::Created => ObservedState::Created,
        ContainerState::Running if c.health == Some(DockerHealth::Unhealthy) => ObservedState::RunningUnhealthy,
        ContainerState::Running => ObservedState::Running,
        ContainerState::Exited => ObservedState::Exited { code: c.exit_code.unwrap_or(-1), oom: c.oom_killed },
        _ => ObservedState::Stuck,
    }
}

pub fn env_filter(server: &str, app: &str, env: &str) -> LabelFilter {
    BTreeMap::from([
        (LABEL_SERVER.to_string(), server.to_string()),
        (LABEL_APP.to_string(), app.to_string()),
        (LABEL_ENV.to_string(), env.to_string()),
    ])
}

/// Every instance of an environment found on the engine (one-off instances too: see
/// `ObservedInstance::role`): by its containers, and with
/// `with_networks` by its networks too (an instance whose containers are all gone is found only
/// so; the controller looks at networks now and then, since each list costs the engine work in
/// proportion to everything it has).
pub async fn observe_environment(
    engine: &dyn Engine,
    server: &str,
    (app, env): (&str, &str),
    with_networks: bool,
) -> Result<Vec<ObservedInstance>, EngineError> {
    let filter = env_filter(server, app, env);
    let containers = engine.list_containers(&filter).await?;
    let networks = if with_networks { engine.list_networks(&filter).await? } else { Vec::new() };
    Ok(group_instances(containers, networks))
}

/// One environment's containers and networks, grouped by the instance each belongs to.
pub fn group_instances(containers: Vec<ContainerStatus>, networks: Vec<NetworkStatus>) -> Vec<ObservedInstance> {
    let mut by_id: BTreeMap<String, ObservedInstance> = BTreeMap::new();
    for c in containers {
        let Some(id) = c.labels.get(LABEL_INSTANCE).cloned() else { continue };
        let entry = by_id.entry(id.clone()).or_insert_with(|| ObservedInstance { id, ..Default::default() });
        if entry.version.is_empty() {
            entry.version = c.labels.get(LABEL_VERSION).cloned().unwrap_or_default();
            entry.launched_at = c.labels.get(LABEL_LAUNCHED_AT).and_then(|s| s.parse().ok()).unwrap_or(0);
            entry.config = c.labels.get(LABEL_CONFIG).cloned().unwrap_or_default();
            entry.role = c.labels.get(LABEL_ROLE).cloned();
        }
        entry.containers.push(c);
    }
    for n in networks {
        let Some(id) = n.labels.get(LABEL_INSTANCE).cloned() else { continue };
        let entry = by_id.entry(id.clone()).or_insert_with(|| ObservedInstance { id, ..Default::default() });
        if entry.version.is_empty() {
            entry.version = n.labels.get(LABEL_VERSION).cloned().unwrap_or_default();
            entry.launched_at = n.labels.get(LABEL_LAUNCHED_AT).and_then(|s| s.parse().ok()).unwrap_or(0);
            entry.config = n.labels.get(LABEL_CONFIG).cloned().unwrap_or_default();
            entry.role = n.labels.get(LABEL_ROLE).cloned();
        }
        entry.network = Some(n.name);
    }
    by_id.into_values().collect()
}

/// A container as `sprout status` shows it.
pub fn container_view(c: &ContainerStatus) -> sprout_plan::snapshot::ContainerView {
    sprout_plan::snapshot::ContainerView {
        name: c.labels.get(LABEL_CONTAINER).cloned().unwrap_or_default(),
        image: c.image.clone(),
        state: serde_json::to_value(c.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        exit_code: c.exit_code,
        oom_killed: c.oom_killed,
        ports: c
            .ports
            .iter()
            .map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol))
            .collect(),
    }
}
