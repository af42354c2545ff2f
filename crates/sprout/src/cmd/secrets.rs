//! `secrets set|list|unset`: environment secrets, read from standard input or a file (never
//! from an argument other users could see in the process list), stored encrypted by the server
//! and never printed. Setting or removing one replaces the instances under the deployment
//! policy; like `setenv`, the command waits until they run with it, unless `--no-wait`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sprout_api::EnvView;

use super::Context;
use super::env::finish;
use super::registry::strip_newline;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(clap::Subcommand)]
pub enum SecretsCommand {
    /// Set a secret from standard input (--value-stdin) or a file (--from-file)
    Set {
        env: String,
        name: String,
        /// Read the value from standard input (one trailing newline is dropped)
        #[arg(long, conflicts_with = "from_file")]
        value_stdin: bool,
        /// Read the value from this file, as it is
        #[arg(long, value_name = "PATH")]
        from_file: Option<PathBuf>,
        /// Seconds to wait for the instances to run with it
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Return at once
        #[arg(long)]
        no_wait: bool,
    },
    /// Names, versions and when each was set (never a value)
    List { env: String },
    /// Remove a secret
    Unset {
        env: String,
        name: String,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Deserialize, Serialize)]
struct SecretView {
    name: String,
    version: i64,
    set_at: chrono::DateTime<chrono::Utc>,
}

pub async fn run(c: &Context, args: SecretsArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    match args.command {
        SecretsCommand::Set { env, name, value_stdin, from_file, timeout, no_wait } => {
            let value = match (value_stdin, from_file) {
                (true, _) => {
                    let mut input = String::new();
                    std::io::stdin().read_to_string(&mut input).context("cannot read the value from standard input")?;
                    strip_newline(input)
                }
                (false, Some(path)) => {
                    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?
                }
                (false, None) => bail!(
                    "give the value on standard input with --value-stdin (e.g. `sprout secrets set {env} {name} --value-stdin < secret.txt`) or with --from-file PATH; Sprout never takes it as an argument, which other users could read"
                ),
            };
            if value.is_empty() {
                bail!("the value of {name} is empty: remove a secret with `sprout secrets unset {env} {name}`");
            }
            let v: EnvView = c
                .client
                .put(&format!("/apps/{app}/environments/{env}/secrets/{name}"), &json!({ "value": value }))
                .await?;
            if c.fmt == Format::Text {
                eprintln!("Secret {name} of {env} set: its instances are replaced under its deployment policy");
            }
            finish(c, &app, &env, &v.version, timeout, no_wait).await
        }
        SecretsCommand::List { env } => {
            let list: Vec<SecretView> = c.client.get(&format!("/apps/{app}/environments/{env}/secrets")).await?;
            if c.fmt == Format::Json {
                output::json(&list);
                return Ok(0);
            }
            if list.is_empty() {
                println!("{env} has no secret: `sprout secrets set {env} NAME --value-stdin` adds one");
            }
            for s in &list {
                println!("{:<32} v{:<4} set {}", s.name, s.version, s.set_at.format("%Y-%m-%d %H:%M:%S"));
            }
            Ok(0)
        }
        SecretsCommand::Unset { env, name, timeout, no_wait } => {
            let v: EnvView = c.client.delete(&format!("/apps/{app}/environments/{env}/secrets/{name}")).await?;
            if c.fmt == Format::Text {
                eprintln!("Secret {name} of {env} removed: its instances are replaced under its deployment policy");
            }
            finish(c, &app, &env, &v.version, timeout, no_wait).await
        }
    }
}
