//! What the controllers last saw of an environment, in the shape the API shows: instances with
//! their health, containers and published ports, and the environment's colour and causes.
//! Enhanced-health statuses are judged in `enhanced`; the environment's pass (`pass`) builds it.

use serde::{Deserialize, Serialize};

use crate::health::InstanceHealth;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub state: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// `127.0.0.1:49153->80/tcp`.
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub status: crate::enhanced::HealthStatus,
    /// Why the status is not Ok, in words.
    pub causes: Vec<String>,
    /// The last failed check while checks are failing (not yet enough to replace it).
    #[serde(skip)]
    pub failing_check: Option<String>,
}

/// Elastic Beanstalk's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colour {
    Green,
    Yellow,
    Red,
    Grey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvSnapshot {
    pub instances: Vec<InstanceView>,
    /// Enhanced health of the environment as a whole.
    pub status: crate::enhanced::HealthStatus,
    pub colour: Colour,
    pub causes: Vec<String>,
    pub observed_at: chrono::DateTime<chrono::Utc>,
}

/// The cause said while the engine does not answer; replaced, not repeated, on each look.
const ENGINE_CAUSE: &str = "container engine unavailable";

impl EnvSnapshot {
    /// The last snapshot, with the engine's absence said: Warning at least, one cause naming
    /// the error. Instances keep their last verdicts; they are not judged until it returns.
    pub fn engine_unavailable(&self, error: &str) -> EnvSnapshot {
        let mut s = self.clone();
        s.causes.retain(|c| !c.starts_with(ENGINE_CAUSE));
        s.causes.insert(
            0,
            format!(
                "{ENGINE_CAUSE} ({error}); instances keep serving at their addresses and are not judged until it returns"
            ),
        );
        s.status = s.status.worst(crate::enhanced::HealthStatus::Warning);
        s.colour = s.status.colour();
        s
    }
}
