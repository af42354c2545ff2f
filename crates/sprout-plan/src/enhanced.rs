//! Enhanced health, in Elastic Beanstalk's vocabulary: a status, a colour and causes in words for
//! each instance and for the environment, from the health checks and live traffic.
//!
//! Pure functions of what the health checker and the load balancer's metrics saw; they decide
//! nothing about replacement (`sprout_plan::judge_instance` does). A high 5xx rate makes an
//! instance Degraded, a cause to look at, not a reason to replace it.

use crate::health::InstanceHealth;
use crate::snapshot::{Colour, InstanceView};
use serde::{Deserialize, Serialize};

/// Elastic Beanstalk's enhanced health statuses, from best to worst where they compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum HealthStatus {
    Ok,
    Info,
    #[default]
    Unknown,
    Pending,
    Suspended,
    Warning,
    Degraded,
    Severe,
}

impl HealthStatus {
    pub fn colour(self) -> Colour {
        match self {
            HealthStatus::Ok | HealthStatus::Info => Colour::Green,
            HealthStatus::Warning => Colour::Yellow,
            HealthStatus::Degraded | HealthStatus::Severe => Colour::Red,
            HealthStatus::Pending | HealthStatus::Unknown | HealthStatus::Suspended => Colour::Grey,
        }
    }

    /// How bad, for picking the worst of several.
    fn rank(self) -> u8 {
        match self {
            HealthStatus::Ok => 0,
            HealthStatus::Info => 1,
            HealthStatus::Unknown | HealthStatus::Suspended => 2,
            HealthStatus::Pending => 3,
            HealthStatus::Warning => 4,
            HealthStatus::Degraded => 5,
            HealthStatus::Severe => 6,
        }
    }

    pub fn worst(self, other: HealthStatus) -> HealthStatus {
        if other.rank() > self.rank() { other } else { self }
    }
}

/// The window of live traffic that enhanced health judges, in seconds.
pub const TRAFFIC_WINDOW_S: u32 = 10;

/// Live traffic over a window: what the status judges need of the load balancer's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub status_5xx: u64,
    pub window_s: u32,
}

/// Fewer requests than this in the window say nothing about an error rate.
pub const MIN_REQUESTS_FOR_RATE: u64 = 20;
/// An instance answering more than this share of 5xx is Degraded.
const DEGRADED_5XX: f64 = 0.5;
/// ... and more than this share, a Warning.
const WARNING_5XX: f64 = 0.1;

impl Traffic {
    /// The share of 5xx answers, when there were enough requests to judge.
    fn share_5xx(&self) -> Option<f64> {
        (self.requests >= MIN_REQUESTS_FOR_RATE).then(|| self.status_5xx as f64 / self.requests as f64)
    }

    fn cause_5xx(&self, share: f64) -> String {
        format!("{:.0}% of requests failed with 5xx over the last {} s", share * 100.0, self.window_s)
    }
}

/// What is known of one instance's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckFacts {
    /// Failed checks in a row (below the unhealthy threshold, or it would be Unhealthy).
    pub failing: u32,
    pub last_failure: Option<String>,
    /// Recovering from failed checks: (passes in a row, healthy threshold).
    pub recovering: Option<(u32, u32)>,
}

/// An instance's status and causes.
pub fn judge_instance_status(
    health: &InstanceHealth,
    checks: &CheckFacts,
    traffic: Traffic,
) -> (HealthStatus, Vec<String>) {
    let mut causes = Vec::new();
    let mut status = match health {
        InstanceHealth::Unhealthy(why) => {
            causes.push(why.clone());
            HealthStatus::Severe
        }
        InstanceHealth::Pending => {
            let last = checks.last_failure.as_deref().map_or(String::new(), |l| format!(": {l}"));
            causes.push(format!("starting, waiting for its first passing health check{last}"));
            HealthStatus::Pending
        }
        InstanceHealth::Healthy if checks.failing > 0 => {
            let last = checks.last_failure.as_deref().unwrap_or("no answer");
            causes.push(format!("failed the last {} health check(s): {last}", checks.failing));
            HealthStatus::Warning
        }
        InstanceHealth::Healthy => match checks.recovering {
            Some((passes, threshold)) if passes < threshold => {
                causes.push(format!("recovering: {passes} of {threshold} health checks passed in a row"));
                HealthStatus::Warning
            }
            _ => HealthStatus::Ok,
        },
    };
    if let Some(share) = traffic.share_5xx() {
        if share > DEGRADED_5XX {
            status = status.worst(HealthStatus::Degraded);
            causes.push(traffic.cause_5xx(share));
        } else if share > WARNING_5XX {
            status = status.worst(HealthStatus::Warning);
            causes.push(traffic.cause_5xx(share));
        }
    }
    (status, causes)
}

/// An environment's status, colour and causes from its instances (already judged) and traffic.
pub fn judge_environment_status(
    instances: &[InstanceView],
    desired: u32,
    version: &str,
    traffic: Traffic,
) -> (HealthStatus, Colour, Vec<String>) {
    let total = instances.len();
    let in_service = instances.iter().filter(|i| i.in_service).count();
    let pending = instances.iter().filter(|i| i.health == InstanceHealth::Pending).count();
    let unhealthy = instances.iter().filter(|i| i.health.is_unhealthy()).count();
    let mut causes = Vec::new();
    let mut status = HealthStatus::Ok;

    if desired == 0 && total == 0 {
        return (HealthStatus::Suspended, Colour::Grey, vec!["no instance wanted (desired count 0)".into()]);
    }
    if desired > 0 && in_service == 0 {
        if pending > 0 && unhealthy == 0 {
            status = HealthStatus::Pending;
            causes.push(format!("{pending} instance(s) starting, none in service yet"));
        } else {
            status = HealthStatus::Severe;
            causes.push(format!("none of {desired} instance(s) in service"));
        }
    } else if (in_service as u32) < desired {
        status = HealthStatus::Warning;
        causes.push(format!("{in_service} of {desired} instance(s) in service"));
    }

    let failing: Vec<&str> = instances
        .iter()
        .filter_map(|i| match &i.health {
            InstanceHealth::Unhealthy(why) => Some(why.as_str()),
            _ => i.failing_check.as_deref(),
        })
        .collect();
    if let Some(example) = failing.first() {
        causes.push(format!("{} of {total} instance(s) failing health checks: {example}", failing.len()));
        let share = failing.len() as f64 / total.max(1) as f64;
        status = status.worst(if share >= 0.5 { HealthStatus::Degraded } else { HealthStatus::Warning });
    }
    if let Some(share) = traffic.share_5xx() {
        let level = if share >= 0.5 {
            Some(HealthStatus::Severe)
        } else if share >= 0.1 {
            Some(HealthStatus::Degraded)
        } else if share >= 0.01 {
            Some(HealthStatus::Warning)
        } else {
            None
        };
        if let Some(level) = level {
            status = status.worst(level);
            causes.push(traffic.cause_5xx(share));
        }
    }
    if pending > 0 && status != HealthStatus::Pending {
        status = status.worst(HealthStatus::Info);
        causes.push(format!("{pending} instance(s) starting"));
    }
    let old = instances.iter().filter(|i| i.version != version).count();
    if old > 0 {
        status = status.worst(HealthStatus::Info);
        causes.push(format!("{old} instance(s) still run an earlier version"));
    }
    (status, status.colour(), causes)
}

#[cfg(test)]
mod tests;
