//! An environment's option settings, Elastic Beanstalk style: deployment policy, health check,
//! capacity and scaling. Stored as one JSON document so new options need no migration; every
//! field has a default, so documents written by older versions still read. One type from the
//! CLI's flag through the store to the deploy planner.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvOptions {
    /// Web (routed by the load balancer) or worker (no route). Set when the environment is
    /// created, kept by clones; not an option `sprout config` changes.
    pub tier: Tier,
    pub deploy: DeployOptions,
    pub health: HealthOptions,
    pub capacity: CapacityOptions,
    pub scaling: ScalingOptions,
    pub routing: RoutingOptions,
    pub load_balancer: LoadBalancerOptions,
    pub logs: LogOptions,
    #[serde(skip_serializing_if = "PlacementOptions::is_default")]
    pub placement: PlacementOptions,
    /// Where each option's value came from, by key (`crate::config`): only the options a saved
    /// configuration, a bundle, a schedule or a hand set; the rest are defaults.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, crate::config::Source>,
}

/// An environment's tier (DESIGN.md): a web environment is routed by the load balancer through
/// the container on host port 80; a worker has no route, its health comes from its containers,
/// and it scales by schedules and a queue reading (`scaling.queue_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Web,
    Worker,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Web => "web",
            Tier::Worker => "worker",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "web" | "webserver" => Ok(Tier::Web),
            "worker" => Ok(Tier::Worker),
            other => Err(format!("unknown tier {other:?}; give web or worker")),
        }
    }
}

/// Which host name the environment answers to. `sprout swap` exchanges two environments'
/// `cname`s, so traffic for `blue.APP.localhost` moves to the other environment at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RoutingOptions {
    /// Host prefix (`CNAME.APP.localhost`); None: the environment's own name.
    pub cname: Option<String>,
    /// Custom domains (exact, or one-level wildcards) the environment answers to, normalised
    /// (`sprout_model::domains::parse_domain`); `sprout swap` moves them with the host prefix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Those of `domains` the server obtains and renews certificates for over ACME
    /// (`sprout domains add --acme`); they move with the domains in a swap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acme: Vec<String>,
    /// Answer plain-HTTP requests with a 308 to the same URL over HTTPS.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub https_redirect: bool,
    /// `Strict-Transport-Security: max-age=N` on answers over HTTPS; None: no header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<u64>,
}

impl RoutingOptions {
    /// The host prefix of environment `env`.
    pub fn prefix<'a>(&'a self, env: &'a str) -> &'a str {
        self.cname.as_deref().unwrap_or(env)
    }
}

/// How the load balancer spreads an environment's requests over its in-service instances
/// (`aws:elasticbeanstalk:environment:process:default` `LoadBalancingAlgorithmType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Fewest requests in flight; ties in turn.
    #[default]
    LeastOutstandingRequests,
    /// Each instance in turn, whatever its load.
    RoundRobin,
}

/// Where the instances of an environment may run on a cluster engine (`--engine swarm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PlacementOptions {
    /// Node constraints (`crate::placement`), canonical text; empty: any ready, active node.
    pub constraints: Vec<String>,
}

impl PlacementOptions {
    pub fn is_default(&self) -> bool {
        self.constraints.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LoadBalancerOptions {
    pub algorithm: Algorithm,
    /// Seconds a client connection may stay open with no request before the load balancer
    /// closes it gracefully; None: the listener's `--client-idle-timeout`.
    pub idle_timeout_s: Option<u64>,
}

/// Days a retired instance's logs are kept unless the environment says otherwise (Elastic
/// Beanstalk's `RetentionInDays` default).
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 7;
/// Longest log retention an environment may ask for (ten years).
pub const MAX_LOG_RETENTION_DAYS: u32 = 3653;

/// What happens to the logs of an environment's retired instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogOptions {
    /// Days a retired instance's logs are kept after its last write.
    pub retention_days: u32,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self { retention_days: DEFAULT_LOG_RETENTION_DAYS }
    }
}

/// Longest idle timeout an environment may ask for (Elastic Beanstalk's ALB allows 4000 s).
pub const MAX_IDLE_TIMEOUT_S: u64 = 4000;

/// `aws:elasticbeanstalk:command`: how a new version replaces the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeploymentPolicy {
    AllAtOnce,
    Rolling,
    #[default]
    RollingWithAdditionalBatch,
    Immutable,
}

impl DeploymentPolicy {
    /// The policy an environment without an explicit one gets: RollingWithAdditionalBatch for
    /// more than one instance, AllAtOnce (make-before-break for a single instance) otherwise.
    pub fn default_for(desired: u32) -> DeploymentPolicy {
        if desired > 1 { DeploymentPolicy::RollingWithAdditionalBatch } else { DeploymentPolicy::AllAtOnce }
    }

    /// Every policy with its flag name (`--policy rolling-with-additional-batch`).
    pub const FLAGS: [(&'static str, DeploymentPolicy); 4] = [
        ("all-at-once", DeploymentPolicy::AllAtOnce),
        ("rolling", DeploymentPolicy::Rolling),
        ("rolling-with-additional-batch", DeploymentPolicy::RollingWithAdditionalBatch),
        ("immutable", DeploymentPolicy::Immutable),
    ];
}

impl std::str::FromStr for DeploymentPolicy {
    type Err = String;

    /// A flag name (`rolling`) or Elastic Beanstalk's name (`Rolling`).
    fn from_str(s: &str) -> Result<Self, String> {
        Self::FLAGS.iter().find(|(flag, p)| *flag == s || format!("{p:?}") == s).map(|(_, p)| *p).ok_or_else(|| {
            let names: Vec<&str> = Self::FLAGS.iter().map(|(f, _)| *f).collect();
            format!("unknown deployment policy {s:?}; expected one of {}", names.join(", "))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BatchSizeType {
    #[default]
    Percentage,
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployOptions {
    /// None: RollingWithAdditionalBatch for more than one instance, AllAtOnce for one.
    pub policy: Option<DeploymentPolicy>,
    pub batch_size_type: BatchSizeType,
    /// Percent of instances (1-100) or a fixed count, per `batch_size_type`.
    pub batch_size: u32,
    /// Count a batch as done once its instances run, without waiting for health checks.
    pub ignore_health_check: bool,
    /// Seconds a deploy may take before it is rolled back.
    pub timeout_s: u64,
}

/// The longest a deploy may take before it is rolled back, in seconds (a day).
pub const MAX_DEPLOY_TIMEOUT_S: u64 = 86_400;

/// Checks a deploy timeout given by a user: 1 s to `MAX_DEPLOY_TIMEOUT_S`.
pub fn check_deploy_timeout(seconds: u64) -> Result<(), String> {
    if (1..=MAX_DEPLOY_TIMEOUT_S).contains(&seconds) {
        Ok(())
    } else {
        Err(format!("deploy timeout {seconds} s is out of range: give 1 to {MAX_DEPLOY_TIMEOUT_S} seconds (e.g. 600)"))
    }
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            policy: None,
            batch_size_type: BatchSizeType::Percentage,
            batch_size: 30,
            ignore_health_check: false,
            timeout_s: 600,
        }
    }
}

/// `aws:elasticbeanstalk:environment:process:default`: the load balancer's health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthOptions {
    pub path: String,
    /// Seconds between checks of an in-service instance (minimum 1).
    pub interval_s: u64,
    pub timeout_s: u64,
    /// Consecutive passes that bring an instance back into service.
    pub healthy_threshold: u32,
    /// Consecutive failures that take an in-service instance out.
    pub unhealthy_threshold: u32,
    /// Seconds an instance leaving rotation keeps serving in-flight requests.
    pub deregistration_delay_s: u64,
    /// 5xx answers that enhanced health does not count as failed requests (an application that
    /// answers 503 on purpose when it sheds load, say). Sorted, each 500 to 599.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_codes: Vec<u16>,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            path: "/".into(),
            interval_s: 15,
            timeout_s: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 5,
            deregistration_delay_s: 20,
            ignore_codes: Vec::new(),
        }
    }
}

/// `aws:autoscaling:asg`: the band the instance count stays in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CapacityOptions {
    /// None: the desired count is the floor.
    pub min: Option<u32>,
    /// None: the desired count is the ceiling.
    pub max: Option<u32>,
}

/// Metric triggers, target tracking, cooldowns, the request queue and scheduled actions: the
/// domain type, so the pure scaling planner reads the same settings the store keeps.
pub use crate::scaling::ScalingSettings as ScalingOptions;
