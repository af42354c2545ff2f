//! Typed events: everything that happens to an environment, emitted in one place with its
//! level and kind, so the CLI, API and (later) alerts read the same words.

use chrono::{DateTime, Utc};
use sprout_store::{EventLevel, NewEvent};

#[derive(Debug, Clone)]
pub enum Event {
    EnvironmentCreated { version: String, instances: u32 },
    DeployStarted { from: String, to: String },
    InstanceLaunched { instance: String, version: String },
    LaunchFailed { instance: String, error: String, retry_in_s: u64 },
    InstanceInService { instance: String, address: String },
    InstanceRetired { instance: String, reason: String },
    InstanceUnhealthy { instance: String, reason: String },
    RetireFailed { instance: String, error: String },
    EnvironmentReady { version: String, instances: u32 },
    DeployFailed { version: String, reason: String, rollback_to: Option<String> },
    TerminateStarted,
    EnvironmentTerminated,
    OrphanRemoved { app: String, env: String, instance: String },
    EngineUnavailable { error: String },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::EnvironmentCreated { .. } => "EnvironmentCreated",
            Event::DeployStarted { .. } => "DeployStarted",
            Event::InstanceLaunched { .. } => "InstanceLaunched",
            Event::LaunchFailed { .. } => "LaunchFailed",
            Event::InstanceInService { .. } => "InstanceInService",
            Event::InstanceRetired { .. } => "InstanceRetired",
            Event::InstanceUnhealthy { .. } => "InstanceUnhealthy",
            Event::RetireFailed { .. } => "RetireFailed",
            Event::EnvironmentReady { .. } => "EnvironmentReady",
            Event::DeployFailed { .. } => "DeployFailed",
            Event::TerminateStarted => "TerminateStarted",
            Event::EnvironmentTerminated => "EnvironmentTerminated",
            Event::OrphanRemoved { .. } => "OrphanRemoved",
            Event::EngineUnavailable { .. } => "EngineUnavailable",
        }
    }

    pub fn level(&self) -> EventLevel {
        match self {
            Event::LaunchFailed { .. }
            | Event::InstanceUnhealthy { .. }
            | Event::RetireFailed { .. }
            | Event::OrphanRemoved { .. } => EventLevel::Warn,
            Event::DeployFailed { .. } | Event::EngineUnavailable { .. } => EventLevel::Error,
            _ => EventLevel::Info,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Event::EnvironmentCreated { version, instances } => {
                format!("createEnvironment is starting: version {version}, {instances} instance(s)")
            }
            Event::DeployStarted { from, to } => format!("Deploying version {to} (replacing {from})"),
            Event::InstanceLaunched { instance, version } => format!("Instance {instance} launched with version {version}"),
            Event::LaunchFailed { instance, error, retry_in_s } => {
                format!("Instance {instance} failed to launch: {error}; retrying in {retry_in_s}s")
            }
            Event::InstanceInService { instance, address } => {
                format!("Instance {instance} passed its health check and is in service at {address}")
            }
            Event::InstanceRetired { instance, reason } => format!("Instance {instance} retired ({reason})"),
            Event::InstanceUnhealthy { instance, reason } => {
                format!("Instance {instance} is unhealthy and will be replaced: {reason}")
            }
            Event::RetireFailed { instance, error } => {
                format!("Instance {instance} could not be cleaned up, will retry: {error}")
            }
            Event::EnvironmentReady { version, instances } => {
                format!("Environment is Ready: {instances} healthy instance(s) of version {version}")
            }
            Event::DeployFailed { version, reason, rollback_to: Some(to) } => {
                format!("Deploy of version {version} failed: {reason}. Rolling back to {to}")
            }
            Event::DeployFailed { version, reason, rollback_to: None } => {
                format!("Deploy of version {version} failed: {reason}. No earlier good version to roll back to")
            }
            Event::TerminateStarted => "terminateEnvironment is starting".into(),
            Event::EnvironmentTerminated => "terminateEnvironment completed: no instance left".into(),
            Event::OrphanRemoved { app, env, instance } => {
                format!("Removed instance {instance} of {app}/{env}: no such environment")
            }
            Event::EngineUnavailable { error } => format!("Container engine unavailable: {error}"),
        }
    }

    pub fn record(&self, app: &str, env: Option<&str>, at: DateTime<Utc>) -> NewEvent {
        NewEvent {
            app: app.to_string(),
            env: env.map(str::to_string),
            at,
            level: self.level(),
            kind: self.kind().to_string(),
            message: self.message(),
        }
    }
}
