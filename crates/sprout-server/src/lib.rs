//! Sprout's control plane: the controllers that converge environments on their desired state
//! (reconcile, health, deploy progress, orphan sweep), the REST API, and `run`, which wires them
//! to the store, the engine and the load balancer.
//!
//! Not here: parsing definition files (`sprout-model`), planning (`sprout-plan`), Docker
//! (`sprout-docker`), proxying (`sprout-lb`), the CLI (`sprout`).

pub mod acme;
pub mod api;
pub mod api_listener;
pub mod bundle;
pub mod certs;
pub mod clock;
pub mod console;
pub mod context;
pub mod controller;
pub mod env_secrets;
pub mod events;
pub mod host_access;
pub mod http_call;
pub mod instance;
pub mod lifecycle;
pub mod log_sweep;
pub mod logs;
pub mod memory;
pub mod network_pool;
pub mod nodes;
pub mod notify;
pub mod outbound;
pub mod probe;
pub mod queue_reading;
pub mod registry;
pub mod request_rates;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod version_images;

pub use context::{Ctx, Settings};
pub use server::{EngineKind, ServerOptions, StartError, run};
