//! Instances: one copy of a version's whole container group on its own network.
//!
//! - `spec`: the pure mapping from a Dockerrun to engine specs.
//! - `launch`: create and start an instance, honouring dependsOn conditions.
//! - `retire`: stop and remove an instance (drained first by the caller).
//! - `hooks`: the bundle's lifecycle hooks, run inside the containers.
//! - `observe`: group what the engine lists by instance, for the planner.
//! - `look`: one list of the engine's objects shared by every environment's controller.
//! - `one_off`: a container definition run for a command (release tasks, `sprout run`).

pub mod hooks;
pub mod launch;
pub mod look;
pub mod observe;
pub mod one_off;
pub mod retire;
pub mod spec;

pub use launch::{launch_instance, launch_instance_as, start_instance};
pub use observe::{ObservedInstance, container_view, observe_environment};
pub use retire::retire_instance;
pub use spec::{InstanceIdentity, InstancePlan, plan_instance, plan_instance_with_secrets};
