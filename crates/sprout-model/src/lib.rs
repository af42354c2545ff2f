//! Sprout's domain model: the Dockerrun v2 definition file (types, loading, validation), the
//! environment with its options and events, and the names that every other crate shares
//! (labels, instance and container names).
//!
//! Pure: no tokio, no I/O, no database, no Docker. Callers read files and pass text in.

pub mod config;
pub mod cron;
pub mod diagnostic;
pub mod dockerrun;
pub mod domains;
pub mod environment;
pub mod event;
pub mod expiry;
pub mod image;
pub mod load;
pub mod names;
pub mod options;
pub mod placement;
pub mod policy;
pub mod scaling;
pub mod sprout_yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use dockerrun::*;
pub use load::{Loaded, load_dockerrun};
