//! `certs add|list|remove`: the TLS certificates the load balancer's HTTPS listener serves,
//! chosen by the name a client asks for (SNI). An upload is checked by the server (the key
//! matches, valid now, DNS names present) and refused with the reason; the key is stored
//! encrypted and never shown again.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: CertsCommand,
}

#[derive(clap::Subcommand)]
pub enum CertsCommand {
    /// Upload a certificate chain (leaf first) and its private key, both PEM
    Add {
        #[arg(long, value_name = "FULLCHAIN.pem")]
        cert: PathBuf,
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
    },
    /// Names, issuer, expiry, source, last renewal attempt and error of every certificate, and
    /// the state of every ACME name
    List,
    /// Renew a certificate obtained over ACME now, whatever its renewal time and back-off
    Renew { id: String },
    /// Stop serving a certificate (by the id `certs list` shows)
    Remove { id: String },
}

#[derive(Deserialize, Serialize)]
struct CertView {
    id: String,
    names: Vec<String>,
    issuer: String,
    not_before: chrono::DateTime<chrono::Utc>,
    not_after: chrono::DateTime<chrono::Utc>,
    source: String,
    added_at: chrono::DateTime<chrono::Utc>,
    last_attempt: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct AcmeNameView {
    name: String,
    app: String,
    env: String,
    certificate: Option<String>,
    not_after: Option<chrono::DateTime<chrono::Utc>>,
    last_attempt: Option<chrono::DateTime<chrono::Utc>>,
    failures: u32,
    last_error: Option<String>,
    next_order: Option<chrono::DateTime<chrono::Utc>>,
    directory: String,
}

fn read(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn run(c: &Context, args: CertsArgs) -> Result<u8> {
    let list: Vec<CertView> = match args.command {
        CertsCommand::Add { cert, key } => {
            let body = json!({ "chain_pem": read(&cert)?, "key_pem": read(&key)? });
            let added: CertView = c.client.post("/certificates", &body).await?;
            if c.fmt == Format::Text {
                eprintln!("Certificate {} added: served for {}", added.id, added.names.join(", "));
            }
            vec![added]
        }
        CertsCommand::List => {
            let list: Vec<CertView> = c.client.get("/certificates").await?;
            if c.fmt == Format::Text {
                let acme: Vec<AcmeNameView> = c.client.get("/certificates/acme").await?;
                print_list(&list);
                print_acme(&acme);
                return Ok(0);
            }
            list
        }
        CertsCommand::Renew { id } => {
            let names: Vec<String> = c.client.post(&format!("/certificates/{id}/renew"), &json!({})).await?;
            if c.fmt == Format::Json {
                output::json(&names);
            } else {
                eprintln!("Renewal of {} asked for: `sprout certs list` shows how it went", names.join(", "));
            }
            return Ok(0);
        }
        CertsCommand::Remove { id } => {
            let gone: CertView = c.client.delete(&format!("/certificates/{id}")).await?;
            if c.fmt == Format::Text {
                eprintln!("Certificate {} removed: no longer served for {}", gone.id, gone.names.join(", "));
            }
            vec![gone]
        }
    };
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    print_list(&list);
    Ok(0)
}

fn print_list(list: &[CertView]) {
    if list.is_empty() {
        println!("no certificate: `sprout certs add --cert FULLCHAIN.pem --key KEY.pem` adds one");
    }
    for cert in list {
        println!(
            "{}  {:<6}  expires {}  {}  issuer {}",
            cert.id,
            cert.source,
            cert.not_after.format("%Y-%m-%d %H:%M"),
            cert.names.join(","),
            cert.issuer
        );
        if let Some(err) = &cert.last_error {
            let when = cert.last_attempt.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
            println!("    last renewal attempt {when} failed: {err}");
        }
    }
}

fn print_acme(names: &[AcmeNameView]) {
    if names.is_empty() {
        return;
    }
    println!();
    println!("ACME names (directory {}):", names[0].directory);
    let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    for n in names {
        let serving = match &n.certificate {
            Some(id) => format!("served by {id} until {}", time(&n.not_after)),
            None => "no certificate yet".to_string(),
        };
        println!("{:<40} {}/{}  {serving}  next order {}", n.name, n.app, n.env, time(&n.next_order));
        if let Some(err) = &n.last_error {
            println!("    last attempt {} failed ({} in a row): {err}", time(&n.last_attempt), n.failures);
        }
    }
}
