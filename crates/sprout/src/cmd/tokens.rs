//! `tokens create|list|revoke` and `audit`: API tokens scoped for CI and people, and the record
//! of every change made with them. A new token is printed once; the server keeps its hash.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sprout_model::expiry::parse_expiry;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(clap::Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it once: read (every GET), deploy (versions, deploys, scaling,
    /// schedules, properties, secrets), admin (everything)
    Create {
        name: String,
        #[arg(long, value_parser = ["read", "deploy", "admin"])]
        scope: String,
        /// Only this application
        #[arg(long, value_name = "APP")]
        limit_app: Option<String>,
        /// Only this environment (it may still upload versions of its application)
        #[arg(long, value_name = "ENV")]
        limit_env: Option<String>,
        /// Refused after this long: 90d, 12h, 30m, 45s
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// Name, scope, limits, created, last used, expiry (never a token)
    List,
    /// Revoke a token at once: it is refused from the next call
    Revoke { name: String },
}

#[derive(Serialize)]
struct NewToken {
    name: String,
    scope: String,
    limit_app: Option<String>,
    limit_env: Option<String>,
    expires_in_s: Option<u64>,
}

#[derive(Deserialize, Serialize)]
struct TokenView {
    name: String,
    scope: String,
    limit_app: Option<String>,
    limit_env: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn when(at: &Option<chrono::DateTime<chrono::Utc>>, none: &str) -> String {
    at.map_or(none.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

pub async fn run(c: &Context, args: TokensArgs) -> Result<u8> {
    match args.command {
        TokensCommand::Create { name, scope, limit_app, limit_env, expires } => {
            let expires_in_s = expires
                .as_deref()
                .map(|e| parse_expiry(e).map_err(|why| anyhow::anyhow!("--expires {why}")))
                .transpose()?;
            let req = NewToken { name, scope, limit_app, limit_env, expires_in_s };
            let created: Value = c.client.post("/tokens", &req).await?;
            match c.fmt {
                Format::Json => output::json(&created),
                Format::Text => {
                    // The token alone on stdout, so `$(sprout tokens create ...)` captures it.
                    println!("{}", created["token"].as_str().unwrap_or_default());
                    eprintln!(
                        "Token {} created with scope {}: it is shown this once; keep it in your CI's secret store as SPROUT_TOKEN",
                        created["name"].as_str().unwrap_or_default(),
                        created["scope"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        TokensCommand::List => {
            let list: Vec<TokenView> = c.client.get("/tokens").await?;
            if c.fmt == Format::Json {
                output::json(&list);
                return Ok(0);
            }
            println!(
                "{:<20} {:<7} {:<16} {:<16} {:<16} {:<16} {:<16}",
                "NAME", "SCOPE", "APP", "ENV", "CREATED", "LAST USED", "EXPIRES"
            );
            for t in &list {
                println!(
                    "{:<20} {:<7} {:<16} {:<16} {:<16} {:<16} {:<16}",
                    t.name,
                    t.scope,
                    t.limit_app.as_deref().unwrap_or("*"),
                    t.limit_env.as_deref().unwrap_or("*"),
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    when(&t.last_used_at, "never"),
                    when(&t.expires_at, "never"),
                );
            }
            Ok(0)
        }
        TokensCommand::Revoke { name } => {
            let done: Value = c.client.delete(&format!("/tokens/{name}")).await?;
            match c.fmt {
                Format::Json => output::json(&done),
                Format::Text => println!("Token {name} revoked"),
            }
            Ok(0)
        }
    }
}

#[derive(Deserialize, Serialize)]
struct AuditRecord {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    token: String,
    scope: String,
    method: String,
    path: String,
    app: Option<String>,
    env: Option<String>,
    status: u16,
}

/// `sprout audit [--env ENV]`: the newest changes (of the application when one is set).
pub async fn audit(c: &Context, env: Option<String>, limit: u32) -> Result<u8> {
    let mut query = vec![format!("limit={limit}")];
    if let Some(app) = &c.resolved.app {
        query.push(format!("app={app}"));
    }
    if let Some(env) = &env {
        query.push(format!("env={env}"));
    }
    let list: Vec<AuditRecord> = c.client.get(&format!("/audit?{}", query.join("&"))).await?;
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    for r in &list {
        println!(
            "{}  {:<16} {:<6} {:<6} {} -> {}",
            r.at.format("%Y-%m-%d %H:%M:%S"),
            r.token,
            r.scope,
            r.method,
            r.path,
            r.status
        );
    }
    Ok(0)
}
