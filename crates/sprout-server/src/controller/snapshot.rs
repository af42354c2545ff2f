//! What the controllers last saw of an environment, in the shape the API shows: instances with
//! their health, containers and published ports, and the environment's colour and causes.
//! Enhanced-health statuses are judged in `enhanced`.

use serde::Serialize;
use sprout_engine::ContainerStatus;
use sprout_plan::InstanceHealth;

#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub state: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// `127.0.0.1:49153->80/tcp`.
    pub ports: Vec<String>,
}

impl ContainerView {
    pub fn from_status(name: &str, s: &ContainerStatus) -> Self {
        ContainerView {
            name: name.to_string(),
            image: s.image.clone(),
            state: serde_json::to_value(s.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            exit_code: s.exit_code,
            oom_killed: s.oom_killed,
            ports: s
                .ports
                .iter()
                .map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub version: String,
    pub health: InstanceHealth,
    pub in_service: bool,
    /// Where the load balancer reaches it.
    pub address: Option<String>,
    pub launched_at: i64,
    pub containers: Vec<ContainerView>,
    /// Enhanced health: Ok, Warning, Degraded, ...
    pub status: super::enhanced::HealthStatus,
    /// Why the status is not Ok, in words.
    pub causes: Vec<String>,
    /// The last failed check while checks are failing (not yet enough to replace it).
    #[serde(skip)]
    pub failing_check: Option<String>,
}

/// Elastic Beanstalk's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Colour {
    Green,
    Yellow,
    Red,
    Grey,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvSnapshot {
    pub instances: Vec<InstanceView>,
    /// Enhanced health of the environment as a whole.
    pub status: super::enhanced::HealthStatus,
    pub colour: Colour,
    pub causes: Vec<String>,
    pub observed_at: chrono::DateTime<chrono::Utc>,
}
