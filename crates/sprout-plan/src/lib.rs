//! Sprout's pure planners: given what an environment should be, what the engine shows and the
//! time, say what to do. No I/O, no clock reads, no async: every input is an argument.
//!
//! - `alerts`: which events are incidents, folded into one alert and one `resolved` each.
//! - `crashloop`: instances replaced again and again for one cause: back-off and health.
//! - `health`: an instance's health from its containers and its HTTP probe record.
//! - `launch_failures`: launches failing again and again the same way: said once, counted.
//! - `reconcile`: the steps that move an environment's instances towards its spec.
//! - `lifecycle`: which application versions a lifecycle policy deletes.
//! - `deploy`: how a new version replaces the running one under a deployment policy.
//! - `orphans`: what Sprout finds on the engine that no environment wants.
//! - `scaling`: the desired instance count from metrics, the band and the last actions.
//! - `registry`: the registry circuit: when a registry may be asked again after a refusal.
//! - `renewal`: when a certificate is ordered or renewed over ACME, and when one nears expiry.
//! - `schedule`: when scheduled actions fire, across time zones and daylight-saving changes.
//! - `placement`: which cluster node a new instance goes to.
//! - `subnets`: which subnet of the instance network pool an instance's network gets.

pub mod alerts;
pub mod batches;
pub mod checks;
pub mod crashloop;
pub mod cron;
pub mod deploy;
pub mod enhanced;
pub mod health;
pub mod launch_failures;
pub mod lifecycle;
pub mod log_retention;
pub mod orphans;
pub mod pass;
pub mod placement;
pub mod progress;
pub mod reconcile;
pub mod registry;
pub mod release;
pub mod renewal;
pub mod rotation;
pub mod scaling;
pub mod schedule;
pub mod snapshot;
pub mod subnets;
pub mod warm;

pub use deploy::{DeploySpec, DeployStatus, DeploymentPolicy, plan_deploy};
pub use health::{ContainerObservation, InstanceHealth, ObservedState, ProbeRecord, judge_instance};
pub use lifecycle::{LifecycleLimits, VersionAge, decide_version_deletions};
pub use orphans::{FoundInstance, plan_orphans};
pub use reconcile::{EnvironmentSpec, InstanceObservation, Plan, RetireReason, Step, plan_environment};
