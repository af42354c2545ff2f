//! Sprout's pure planners: given what an environment should be, what the engine shows and the
//! time, say what to do. No I/O, no clock reads, no async: every input is an argument.
//!
//! - `health`: an instance's health from its containers and its HTTP probe record.
//! - `reconcile`: the steps that move an environment's instances towards its spec.
//! - `orphans`: what Sprout finds on the engine that no environment wants.

pub mod health;
pub mod orphans;
pub mod reconcile;

pub use health::{judge_instance, ContainerObservation, InstanceHealth, ObservedState, ProbeRecord};
pub use orphans::{plan_orphans, FoundInstance};
pub use reconcile::{plan_environment, EnvironmentSpec, InstanceObservation, Plan, RetireReason, Step};
