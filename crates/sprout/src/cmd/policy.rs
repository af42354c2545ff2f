//! `policy set|show|reset APP`: what an application's containers may reach on the host, set by
//! an administrator. By default nothing outside the bundle and nothing privileged; the seed's
//! monitoring agent needs exactly `--allow-host-path /var/run/docker.sock --allow-host-path /proc`.

use anyhow::Result;
use sprout_store::HostAccessPolicy;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Replace the application's policy with exactly these allowances
    Set {
        app: String,
        /// A host path (file or directory, and what is below it) volumes may mount; repeatable
        #[arg(long = "allow-host-path", value_name = "PATH")]
        allow_host_paths: Vec<String>,
        /// Allow containers that ask for `privileged`
        #[arg(long)]
        allow_privileged: bool,
    },
    /// Show the application's policy
    Show { app: String },
    /// Back to the default: no host path outside the bundle, nothing privileged
    Reset { app: String },
}

pub async fn run(c: &Context, a: PolicyArgs) -> Result<u8> {
    let policy: HostAccessPolicy = match a.command {
        PolicyCommand::Set { app, allow_host_paths, allow_privileged } => {
            sprout_model::names::check_name("application", &app).map_err(anyhow::Error::msg)?;
            let body = HostAccessPolicy { allow_host_paths, allow_privileged };
            c.client.put(&format!("/apps/{app}/policy"), &body).await?
        }
        PolicyCommand::Show { app } => c.client.get(&format!("/apps/{app}/policy")).await?,
        PolicyCommand::Reset { app } => c.client.delete(&format!("/apps/{app}/policy")).await?,
    };
    match c.fmt {
        Format::Json => output::json(&policy),
        Format::Text => {
            if policy.allow_host_paths.is_empty() {
                println!("Host paths: none outside the bundle");
            }
            for path in &policy.allow_host_paths {
                println!("Host path allowed: {path}");
            }
            println!("Privileged containers: {}", if policy.allow_privileged { "allowed" } else { "not allowed" });
        }
    }
    Ok(0)
}
