//! Client subcommands. Each resolves the application and environment, calls the API, and
//! prints text or JSON; long operations show progress and wait with a timeout.

pub mod abort;
pub mod admin;
pub mod certs;
pub mod clone;
pub mod command;
pub mod config;
pub mod cron;
pub mod domains;
pub mod env;
pub mod events;
pub mod health;
pub mod init;
pub mod logs;
pub mod nodes;
pub mod notify;
pub mod policy;
pub mod proxy;
pub mod registry;
pub mod scale;
pub mod schedule;
pub mod secrets;
pub mod setenv;
pub mod swap;
pub mod tokens;
pub mod versions;
pub mod wait;

use anyhow::{Result, anyhow};

use crate::client::Client;
use crate::config::Resolved;
use crate::output::Format;

pub struct Context {
    pub client: Client,
    pub resolved: Resolved,
    pub fmt: Format,
}

impl Context {
    pub fn app(&self) -> Result<&str> {
        self.resolved.app.as_deref().ok_or_else(|| {
            anyhow!("no application named: pass --app APP, set SPROUT_APP, or run `sprout init APP` in this directory")
        })
    }

    pub fn env(&self, given: Option<String>) -> Result<String> {
        given.or_else(|| self.resolved.project.default_environment.clone()).ok_or_else(|| {
            anyhow!("no environment named: give ENV, or set one with `sprout init APP --environment ENV`")
        })
    }
}
