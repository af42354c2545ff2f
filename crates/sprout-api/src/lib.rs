//! The REST API's request and response types, written once and shared by the server (which
//! serializes them) and the CLI (which reads them), so that no field name is spelled twice and
//! the CLI never works out meaning from untyped JSON.
//!
//! The wire format is a contract: scripts and CI jobs read the API's JSON and every
//! `--output json`, so keys never change here without a version bump. Pure data: no I/O, no
//! server logic (validating and applying a request is the server's business).

pub mod command;
pub mod config;
pub mod cron;
pub mod environment;
pub mod notify;
pub mod registry;

pub use config::{ConfigChange, ConfigChangeView, ConfigView, OptionChanged, OptionView, SaveConfiguration};
pub use environment::{
    DeployOptionsPatch, DeployRequest, EnvView, NewEnvironment, ReleaseOutput, ReleaseRequest, SwapView,
};
pub use notify::{DeliveryView, NewWebhook, TestQueued, WebhookView};
pub use registry::{CredentialView, ImportRequest, LoginRequest, LogoutRequest, RegistryChange};
