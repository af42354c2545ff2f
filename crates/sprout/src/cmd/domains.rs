//! `domains add|list|remove`: the custom domains (exact or `*.one-level` wildcards) an
//! environment answers to besides `ENV.APP.localhost`. A name belongs to one environment at a
//! time; `sprout swap` moves them with the host names.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct DomainsArgs {
    #[command(subcommand)]
    pub command: DomainsCommand,
}

#[derive(clap::Subcommand)]
pub enum DomainsCommand {
    /// Make ENV answer these names too (exact, or one-level wildcards such as '*.ads.example.com')
    Add {
        env: String,
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// The application's domains, or one environment's
    List { env: Option<String> },
    /// Stop ENV answering HOST
    Remove { env: String, host: String },
}

#[derive(Deserialize, Serialize)]
struct DomainView {
    host: String,
    env: String,
    wildcard: bool,
}

pub async fn run(c: &Context, args: DomainsArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let (list, said): (Vec<DomainView>, Option<String>) = match args.command {
        DomainsCommand::Add { env, hosts } => {
            let list =
                c.client.post(&format!("/apps/{app}/environments/{env}/domains"), &json!({ "hosts": hosts })).await?;
            (list, Some(format!("{env} answers {}", hosts.join(", "))))
        }
        DomainsCommand::List { env } => {
            let query = env.as_ref().map(|e| format!("?env={e}")).unwrap_or_default();
            let list: Vec<DomainView> = c.client.get(&format!("/apps/{app}/domains{query}")).await?;
            if list.is_empty() && c.fmt == Format::Text {
                let whose = env.unwrap_or_else(|| app.clone());
                println!("{whose} has no custom domain: `sprout domains add ENV HOST` adds one");
            }
            (list, None)
        }
        DomainsCommand::Remove { env, host } => {
            let list = c.client.delete(&format!("/apps/{app}/environments/{env}/domains/{host}")).await?;
            (list, Some(format!("{env} no longer answers {host}")))
        }
    };
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    if let Some(said) = said {
        eprintln!("{said}");
    }
    for d in &list {
        println!("{:<48} {}", d.host, d.env);
    }
    Ok(0)
}
