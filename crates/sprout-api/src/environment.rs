//! Environments over the API: creating one, deploying to it, and the view every environment
//! call answers with (`GET /apps/{app}/environments/{env}` and friends).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::environment::EnvStatus;
use sprout_model::options::{BatchSizeType, DeploymentPolicy, Tier};
use sprout_plan::snapshot::{Colour, InstanceView};

/// `POST /apps/{app}/environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEnvironment {
    pub name: String,
    pub version: String,
    #[serde(default = "one")]
    pub instances: u32,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Seconds the launch may take before it counts as failed.
    pub timeout_s: Option<u64>,
    /// Deploy options (policy, batch size, ...); absent fields keep their defaults.
    pub deploy: Option<DeployOptionsPatch>,
    /// A saved configuration to start from (options, properties, scheduled actions); the
    /// request's own variables and deploy options apply on top.
    #[serde(default)]
    pub cfg: Option<String>,
    /// Web or worker; absent: worker when the version has no container on host port 80, else
    /// web.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

fn one() -> u32 {
    1
}

/// `POST /apps/{app}/environments/{env}/deploy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployRequest {
    pub version: String,
    pub timeout_s: Option<u64>,
    /// Deploy options to change before this deploy; they stay for later deploys.
    pub deploy: Option<DeployOptionsPatch>,
    /// A release task for this deploy, in place of the version's `sprout.yaml` one
    /// (`sprout deploy --release "CONTAINER: COMMAND"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRequest>,
}

/// A release task given with a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub container: String,
    pub command: Vec<String>,
    /// Seconds; the version's `sprout.yaml` value, else 600, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
}

/// `GET /apps/{app}/environments/{env}/release`: the deploy's release task and its output so far
/// (the engine's log while its instance exists, then the saved log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseOutput {
    pub run: Option<sprout_plan::release::ReleaseRun>,
    pub output: String,
}

/// Deploy options to change; absent fields keep their value (and are not sent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployOptionsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<DeploymentPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size_type: Option<BatchSizeType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_health_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
}

impl DeployOptionsPatch {
    pub fn is_empty(&self) -> bool {
        *self == DeployOptionsPatch::default()
    }
}

/// An environment as the API shows it: desired state, status, health and instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvView {
    pub app: String,
    pub name: String,
    /// Web (routed by the load balancer) or worker (no route).
    #[serde(default)]
    pub tier: Tier,
    pub status: EnvStatus,
    pub health: Colour,
    pub causes: Vec<String>,
    pub version: String,
    pub last_good_version: Option<String>,
    pub desired_instances: u32,
    pub in_service: usize,
    pub last_error: Option<String>,
    pub url: String,
    pub hostnames: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub deploy_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub instances: Vec<InstanceView>,
    /// The deploy's release task, while a deploy records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<sprout_plan::release::ReleaseRun>,
}

impl EnvView {
    /// Done with a deploy of `label`: Ready on it, every desired instance in service, and no
    /// instance of another version left.
    pub fn is_ready_on(&self, label: &str) -> bool {
        self.status == EnvStatus::Ready
            && self.version == label
            && self.in_service as u64 == u64::from(self.desired_instances)
            && self.instances.iter().all(|i| i.version == label)
    }
}

/// `POST /apps/{app}/swap`: both environments after the exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapView {
    pub source: EnvView,
    pub destination: EnvView,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: EnvStatus, version: &str, in_service: usize) -> EnvView {
        EnvView {
            app: "shop".into(),
            name: "prod".into(),
            tier: Tier::Web,
            status,
            health: Colour::Green,
            causes: Vec::new(),
            version: version.into(),
            last_good_version: None,
            desired_instances: 2,
            in_service,
            last_error: None,
            url: String::new(),
            hostnames: Vec::new(),
            variables: BTreeMap::new(),
            deploy_deadline: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            instances: Vec::new(),
            release: None,
        }
    }

    #[test]
    fn ready_means_the_version_fully_in_service() {
        assert!(view(EnvStatus::Ready, "v2", 2).is_ready_on("v2"));
        assert!(!view(EnvStatus::Ready, "v2", 1).is_ready_on("v2"));
        assert!(!view(EnvStatus::Updating, "v2", 2).is_ready_on("v2"));
        assert!(!view(EnvStatus::Ready, "v1", 2).is_ready_on("v2"));
    }

    #[test]
    fn the_wire_keys_stay_as_scripts_read_them() {
        let json = serde_json_keys(&view(EnvStatus::Ready, "v1", 2));
        for key in ["name", "app", "version", "status", "in_service", "desired_instances", "health", "url", "instances"]
        {
            assert!(json.contains(&format!("\"{key}\":")), "{key} missing from {json}");
        }
        assert!(json.contains("\"status\":\"Ready\"") && json.contains("\"health\":\"Green\""), "{json}");
        let patch = DeployOptionsPatch { policy: Some(DeploymentPolicy::Rolling), ..Default::default() };
        assert_eq!(serde_json_keys(&patch), r#"{"policy":"Rolling"}"#);
    }

    fn serde_json_keys<T: Serialize>(t: &T) -> String {
        serde_json::to_string(t).unwrap()
    }
}
