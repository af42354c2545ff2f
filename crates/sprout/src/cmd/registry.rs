//! `registry login|list|logout|import`: the credentials Sprout pulls private images with, kept
//! encrypted by the server (docs/registries.md), and `sprout server`'s registry flags (mirrors,
//! the circuit's back-off). A password is read from standard input only, never from an argument
//! other users could see in the process list, and is never printed.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use sprout_api::{CredentialView, ImportRequest, LoginRequest, LogoutRequest, RegistryChange};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    pub command: RegistryCommand,
}

#[derive(clap::Subcommand)]
pub enum RegistryCommand {
    /// Store a credential for a registry (HOST as in image names: quay.io, 127.0.0.1:5000)
    Login {
        host: String,
        #[arg(long, short = 'u')]
        username: String,
        /// Read the password from standard input (one trailing newline is dropped)
        #[arg(long)]
        password_stdin: bool,
        /// Only this application's pulls use it [default: every application's]
        #[arg(long, value_name = "APP")]
        limit_app: Option<String>,
    },
    /// List stored credentials: host, user, scope, last success and failure (never a secret)
    List,
    /// Remove the credentials for a registry (of every application, or of --limit-app's)
    Logout {
        host: String,
        #[arg(long, value_name = "APP")]
        limit_app: Option<String>,
    },
    /// Import a Docker config.json or .dockercfg under NAME (what a Dockerrun's
    /// `authentication.key` names)
    Import {
        name: String,
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        #[arg(long, value_name = "APP")]
        limit_app: Option<String>,
    },
}

/// `sprout server`'s registry flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerRegistryArgs {
    /// Pull images of registry HOST from MIRROR too (repeatable), e.g.
    /// `--registry-mirror docker.io=127.0.0.1:5001`
    #[arg(long = "registry-mirror", value_name = "HOST=MIRROR")]
    pub mirrors: Vec<String>,
    /// Which to try first for an image that has a mirror
    #[arg(long, value_enum, default_value = "mirror-first")]
    pub registry_mirror_order: MirrorOrderArg,
    /// Seconds no pull is tried with a credential after a registry refused it; doubles with
    /// each further refusal
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub registry_backoff: u64,
    /// The longest such wait, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub registry_backoff_max: u64,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum MirrorOrderArg {
    MirrorFirst,
    OriginFirst,
}

impl ServerRegistryArgs {
    pub fn settings(&self) -> Result<sprout_server::registry::RegistrySettings> {
        use sprout_model::image::{check_registry_host, normalize_registry_host};
        let mut mirrors = BTreeMap::new();
        for m in &self.mirrors {
            let (host, mirror) = m
                .split_once('=')
                .ok_or_else(|| anyhow!("--registry-mirror {m:?} must be HOST=MIRROR, e.g. docker.io=127.0.0.1:5001"))?;
            let (host, mirror) = (normalize_registry_host(host), normalize_registry_host(mirror));
            check_registry_host(&host)
                .and_then(|_| check_registry_host(&mirror))
                .map_err(|e| anyhow!("--registry-mirror {m:?}: {e}"))?;
            mirrors.insert(host, mirror);
        }
        let policy = sprout_plan::registry::CircuitPolicy {
            auth_first: std::time::Duration::from_secs(self.registry_backoff),
            auth_max: std::time::Duration::from_secs(self.registry_backoff_max.max(self.registry_backoff)),
            ..Default::default()
        };
        let order = match self.registry_mirror_order {
            MirrorOrderArg::MirrorFirst => sprout_server::registry::MirrorOrder::MirrorFirst,
            MirrorOrderArg::OriginFirst => sprout_server::registry::MirrorOrder::OriginFirst,
        };
        Ok(sprout_server::registry::RegistrySettings { mirrors, order, policy })
    }
}

pub async fn run(c: &Context, args: RegistryArgs) -> Result<u8> {
    match args.command {
        RegistryCommand::Login { host, username, password_stdin, limit_app } => {
            if !password_stdin {
                bail!(
                    "give the password on standard input with --password-stdin (e.g. `sprout registry login {host} --username {username} --password-stdin < token.txt`); Sprout never takes it as an argument, which other users could read"
                );
            }
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("cannot read the password from standard input")?;
            let password = strip_newline(input);
            if password.is_empty() {
                bail!("standard input held no password");
            }
            let req = LoginRequest { host, username, password, app: limit_app };
            let view: CredentialView = c.client.post("/registries/login", &req).await?;
            match c.fmt {
                Format::Json => output::json(&view),
                Format::Text => println!("Login stored for {} as {} ({})", view.host, view.username, scope(&view.app)),
            }
            Ok(0)
        }
        RegistryCommand::List => list(c).await,
        RegistryCommand::Logout { host, limit_app } => {
            let done: RegistryChange = c
                .client
                .post("/registries/logout", &LogoutRequest { host: host.clone(), app: limit_app.clone() })
                .await?;
            match c.fmt {
                Format::Json => output::json(&done),
                Format::Text => println!("Removed {} credential(s) for {host} ({})", done.removed, scope(&limit_app)),
            }
            Ok(0)
        }
        RegistryCommand::Import { name, file, limit_app } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let config: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let req = ImportRequest { name: name.clone(), config, app: limit_app.clone() };
            let done: RegistryChange = c.client.post("/registries/import", &req).await?;
            match c.fmt {
                Format::Json => output::json(&done),
                Format::Text => println!(
                    "Imported {name} ({}): credentials for {}",
                    scope(&limit_app),
                    if done.hosts.is_empty() { "no registry".to_string() } else { done.hosts.join(", ") }
                ),
            }
            Ok(0)
        }
    }
}

/// One trailing newline is not part of the password, as `docker login --password-stdin` reads it.
pub(crate) fn strip_newline(mut input: String) -> String {
    if input.ends_with('\n') {
        input.pop();
        if input.ends_with('\r') {
            input.pop();
        }
    }
    input
}

fn scope(app: &Option<String>) -> String {
    app.as_ref().map_or("every application".to_string(), |a| format!("application {a} only"))
}

fn when(at: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

async fn list(c: &Context) -> Result<u8> {
    let list: Vec<CredentialView> = c.client.get("/registries").await?;
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    if list.is_empty() {
        println!("No registry credential stored: `sprout registry login HOST --username U --password-stdin` adds one");
        return Ok(0);
    }
    println!(
        "{:<24} {:<16} {:<20} {:<14} {:<19}  {:<19}",
        "HOST", "USER", "SCOPE", "SOURCE", "LAST SUCCESS", "LAST FAILURE"
    );
    for v in &list {
        let app = v.app.clone().unwrap_or_else(|| "every app".into());
        let source = v.config.as_ref().map_or("login".to_string(), |n| format!("import {n}"));
        println!(
            "{:<24} {:<16} {:<20} {:<14} {:<19}  {:<19}",
            v.host,
            v.username,
            app,
            source,
            when(&v.last_success),
            when(&v.last_failure)
        );
        if let Some(held) = &v.held {
            println!("  held: {held}");
        } else if let (Some(_), Some(m)) = (&v.last_failure, &v.last_failure_message) {
            println!("  last refusal: {m}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_dropped_as_docker_does() {
        assert_eq!(strip_newline("s3cret\n".into()), "s3cret");
        assert_eq!(strip_newline("s3cret\r\n".into()), "s3cret");
        assert_eq!(strip_newline("s3cret\n\n".into()), "s3cret\n");
        assert_eq!(strip_newline("s3cret".into()), "s3cret");
        assert_eq!(strip_newline(" s3cret \n".into()), " s3cret ");
    }
}
