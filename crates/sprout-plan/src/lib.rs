//! Sprout's pure planners: given what an environment should be, what the engine shows and the
//! time, say what to do. No I/O, no clock reads, no async: every input is an argument.
//!
//! - `health`: an instance's health from its containers and its HTTP probe record.
//! - `reconcile`: the steps that move an environment's instances towards its spec.
//! - `lifecycle`: which application versions a lifecycle policy deletes.
//! - `deploy`: how a new version replaces the running one under a deployment policy.
//! - `orphans`: what Sprout finds on the engine that no environment wants.
//! - `scaling`: the desired instance count from metrics, the band and the last actions.
//! - `schedule`: when scheduled actions fire, across time zones and daylight-saving changes.

pub mod deploy;
pub mod health;
pub mod lifecycle;
pub mod orphans;
pub mod reconcile;
pub mod rotation;
pub mod scaling;
pub mod schedule;

pub use deploy::{plan_deploy, DeploySpec, DeployStatus, Policy};
pub use health::{judge_instance, ContainerObservation, InstanceHealth, ObservedState, ProbeRecord};
pub use lifecycle::{decide_version_deletions, LifecycleLimits, VersionAge};
pub use orphans::{plan_orphans, FoundInstance};
pub use reconcile::{plan_environment, EnvironmentSpec, InstanceObservation, Plan, RetireReason, Step};
