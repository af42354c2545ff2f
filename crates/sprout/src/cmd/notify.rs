//! `notify add|list|remove|test|log`: webhooks that hear about an application's incidents
//! (docs/notifications.md). A secret (to sign bodies with HMAC-SHA256) is read from standard
//! input only, and never printed.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use sprout_api::{DeliveryView, NewWebhook, TestQueued, WebhookView};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Json,
    Slack,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum EventsArg {
    /// Incidents only: an alert when one opens, `resolved` when it clears
    Alerts,
    /// Incidents and planned changes (scale-in, deploys, swaps, terminations) as `info`
    All,
}

#[derive(clap::Subcommand)]
pub enum NotifyCommand {
    /// Send an environment's notifications (without ENV: every environment of the application)
    /// to a webhook
    Add {
        env: Option<String>,
        /// http:// URL the notifications are POSTed to
        #[arg(long, value_name = "URL")]
        webhook: String,
        #[arg(long, value_enum, default_value = "json")]
        format: FormatArg,
        #[arg(long, value_enum, default_value = "alerts")]
        events: EventsArg,
        /// Read a secret from standard input: every body is signed with HMAC-SHA256
        /// (header X-Sprout-Signature: sha256=HEX)
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List the application's webhooks
    List,
    /// Remove a webhook (what it still had queued is dropped)
    Remove { id: String },
    /// Send a test notification to a webhook and wait for its delivery
    Test {
        id: String,
        /// Seconds to wait for the delivery
        #[arg(long, default_value_t = 15)]
        timeout: u64,
    },
    /// Deliveries, newest first: status, tries, last error
    Log {
        #[arg(long, default_value_t = 30)]
        limit: u32,
    },
}

pub async fn run(c: &Context, args: NotifyArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let base = format!("/apps/{app}/notify");
    match args.command {
        NotifyCommand::Add { env, webhook, format, events, secret_stdin } => {
            let secret = if secret_stdin {
                let mut input = String::new();
                std::io::stdin().read_to_string(&mut input).context("cannot read the secret from standard input")?;
                let secret = input.strip_suffix('\n').unwrap_or(&input).trim_end_matches('\r').to_string();
                if secret.is_empty() {
                    bail!("standard input held no secret");
                }
                Some(secret)
            } else {
                None
            };
            let req = NewWebhook {
                env,
                url: webhook,
                format: Some(format!("{format:?}").to_lowercase()),
                events: Some(format!("{events:?}").to_lowercase()),
                secret,
            };
            let view: WebhookView = c.client.post(&base, &req).await?;
            match c.fmt {
                Format::Json => output::json(&view),
                Format::Text => println!("Webhook {} added: {}", view.id, describe(&view)),
            }
            Ok(0)
        }
        NotifyCommand::List => {
            let list: Vec<WebhookView> = c.client.get(&base).await?;
            match c.fmt {
                Format::Json => output::json(&list),
                Format::Text if list.is_empty() => {
                    println!("No webhooks for {app} (add one: sprout notify add --webhook URL)")
                }
                Format::Text => {
                    for w in &list {
                        println!("{}  {}", w.id, describe(w));
                    }
                }
            }
            Ok(0)
        }
        NotifyCommand::Remove { id } => {
            let done: serde_json::Value = c.client.delete(&format!("{base}/{id}")).await?;
            match c.fmt {
                Format::Json => output::json(&done),
                Format::Text => println!("Webhook {id} removed"),
            }
            Ok(0)
        }
        NotifyCommand::Test { id, timeout } => test(c, &base, &id, timeout).await,
        NotifyCommand::Log { limit } => {
            let list: Vec<DeliveryView> = c.client.get(&format!("{base}/log?limit={limit}")).await?;
            match c.fmt {
                Format::Json => output::json(&list),
                Format::Text if list.is_empty() => println!("No deliveries yet"),
                Format::Text => {
                    for d in &list {
                        println!("{}", line(d));
                    }
                }
            }
            Ok(0)
        }
    }
}

/// Queue a test notice and wait (bounded) until it is delivered or given up.
async fn test(c: &Context, base: &str, id: &str, timeout: u64) -> Result<u8> {
    let queued: TestQueued = c.client.post(&format!("{base}/{id}/test"), &serde_json::json!({})).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let list: Vec<DeliveryView> = c.client.get(&format!("{base}/log?limit=100")).await?;
        let found = list.into_iter().find(|d| d.id == queued.delivery);
        let done = found.as_ref().is_some_and(|d| d.status != "pending");
        if done || tokio::time::Instant::now() >= deadline {
            let Some(d) = found else { bail!("the test delivery {} is not in the log", queued.delivery) };
            match c.fmt {
                Format::Json => output::json(&d),
                Format::Text => println!("{}", line(&d)),
            }
            return Ok(if d.status == "delivered" { 0 } else { 1 });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn describe(w: &WebhookView) -> String {
    let scope = w.env.as_deref().map_or("every environment".to_string(), |e| format!("environment {e}"));
    let signed = if w.signed { ", signed" } else { "" };
    format!("{} ({scope}, {}, {}{signed})", w.url, w.format, w.events)
}

fn line(d: &DeliveryView) -> String {
    let env = if d.env.is_empty() { "-" } else { &d.env };
    let error = d.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default();
    format!(
        "{:>6}  {}  {}  {:<9} {:<9} {} tries  {env}: {}{error}",
        d.id,
        d.created_at.format("%Y-%m-%d %H:%M:%S"),
        d.webhook,
        d.severity,
        d.status,
        d.attempts,
        d.message
    )
}
