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
        /// Obtain and renew their certificates over ACME (HTTP-01 on the load balancer's HTTP
        /// listener; exact names only)
        #[arg(long)]
        acme: bool,
    },
    /// The application's domains, or one environment's
    List { env: Option<String> },
    /// Stop ENV answering HOST
    Remove { env: String, host: String },
    /// ENV's HTTPS options: redirect plain HTTP to HTTPS (308), HSTS
    Https {
        env: String,
        /// Answer plain-HTTP requests with a 308 to the same URL over HTTPS
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        redirect: Option<bool>,
        /// Send Strict-Transport-Security with this max-age on HTTPS answers (0: none)
        #[arg(long, value_name = "SECONDS")]
        hsts_max_age: Option<u64>,
    },
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("{s:?}: expected on or off")),
    }
}

#[derive(Deserialize, Serialize)]
struct HttpsView {
    redirect: bool,
    hsts_max_age: Option<u64>,
}

#[derive(Deserialize, Serialize)]
struct DomainView {
    host: String,
    env: String,
    wildcard: bool,
    #[serde(default)]
    acme: bool,
}

pub async fn run(c: &Context, args: DomainsArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let (list, said): (Vec<DomainView>, Option<String>) = match args.command {
        DomainsCommand::Add { env, hosts, acme } => {
            let body = json!({ "hosts": hosts, "acme": acme });
            let list = c.client.post(&format!("/apps/{app}/environments/{env}/domains"), &body).await?;
            let how = if acme { " (certificates over ACME: `sprout certs list` shows them)" } else { "" };
            (list, Some(format!("{env} answers {}{how}", hosts.join(", "))))
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
        DomainsCommand::Https { env, redirect, hsts_max_age } => {
            let body = json!({ "redirect": redirect, "hsts_max_age": hsts_max_age });
            let v: HttpsView = c.client.put(&format!("/apps/{app}/environments/{env}/https"), &body).await?;
            if c.fmt == Format::Json {
                output::json(&v);
            } else {
                let hsts = v.hsts_max_age.map_or("off".to_string(), |s| format!("max-age={s}"));
                println!("{env}: redirect to HTTPS {}, HSTS {hsts}", if v.redirect { "on" } else { "off" });
            }
            return Ok(0);
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
        println!("{:<48} {}{}", d.host, d.env, if d.acme { "  acme" } else { "" });
    }
    Ok(0)
}
