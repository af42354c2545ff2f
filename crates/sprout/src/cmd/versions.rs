//! `versions`: list an application's versions (with each image's size and registry digest, and
//! who uses each version), delete one, and show or set the lifecycle policy.

use anyhow::Result;
use serde_json::{Value, json};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct VersionsArgs {
    #[command(subcommand)]
    pub command: Option<VersionsCommand>,
}

#[derive(clap::Subcommand)]
pub enum VersionsCommand {
    /// List versions, newest first (the default)
    List,
    /// Delete a version (refused while an environment runs it or keeps it as last good)
    Delete { label: String },
    /// Show the lifecycle policy, or set it: without options it only shows
    Lifecycle {
        /// Keep at most this many versions (the newest; versions in use are always kept)
        #[arg(long)]
        max_count: Option<u32>,
        /// Delete versions older than this many days (unless in use)
        #[arg(long)]
        max_age: Option<u32>,
    },
}

pub async fn run(c: &Context, args: VersionsArgs) -> Result<u8> {
    match args.command.unwrap_or(VersionsCommand::List) {
        VersionsCommand::List => list(c).await,
        VersionsCommand::Delete { label } => delete(c, &label).await,
        VersionsCommand::Lifecycle { max_count, max_age } => lifecycle(c, max_count, max_age).await,
    }
}

fn mb(bytes: u64) -> String {
    format!("{} MB", bytes / 1_000_000)
}

async fn list(c: &Context) -> Result<u8> {
    let app = c.app()?;
    let list: Vec<Value> = c.client.get(&format!("/apps/{app}/versions")).await?;
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    if list.is_empty() {
        println!("Application {app} has no versions yet: `sprout create ENV --bundle DIR` makes one");
    }
    let mut warnings = Vec::new();
    for v in &list {
        let label = v["label"].as_str().unwrap_or("");
        let digest = v["bundle_digest"].as_str().unwrap_or("");
        let size = v["image_size_bytes"].as_u64().map(mb).unwrap_or_else(|| "-".into());
        let used: Vec<&str> =
            v["in_use_by"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let used = if used.is_empty() { String::new() } else { format!("  [{}]", used.join(", ")) };
        println!(
            "{label:<40} {}  {}  {size:>8}  {}{used}",
            v["created_at"].as_str().unwrap_or("").get(..19).unwrap_or(""),
            digest.get(..19).unwrap_or(digest),
            v["description"].as_str().unwrap_or(""),
        );
        if let Some(images) = v["resolved_images"].as_object() {
            for (image, r) in images {
                let digest = r["digest"].as_str().unwrap_or("no registry digest (local build)");
                let size = r["size_bytes"].as_u64().map(mb).unwrap_or_else(|| "-".into());
                println!("    {image:<50} {size:>8}  {digest}");
            }
        }
        if let Some(w) = v["image_warning"].as_str() {
            warnings.push(format!("warning: version {label}: {w}"));
        }
    }
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(0)
}

async fn delete(c: &Context, label: &str) -> Result<u8> {
    let app = c.app()?;
    let done: Value = c.client.delete(&format!("/apps/{app}/versions/{label}")).await?;
    match c.fmt {
        Format::Json => output::json(&done),
        Format::Text => println!("Deleted version {label} of {app}"),
    }
    Ok(0)
}

fn describe(policy: &Value) -> String {
    let count = policy["max_count"]
        .as_u64()
        .map(|n| format!("keep at most {n} versions"))
        .unwrap_or_else(|| "no max count".into());
    let age = policy["max_age_days"]
        .as_u64()
        .map(|d| format!("delete versions older than {d} days"))
        .unwrap_or_else(|| "no max age".into());
    format!("{count}; {age} (versions in use are always kept)")
}

async fn lifecycle(c: &Context, max_count: Option<u32>, max_age: Option<u32>) -> Result<u8> {
    let app = c.app()?;
    let path = format!("/apps/{app}/lifecycle");
    let view: Value = if max_count.is_none() && max_age.is_none() {
        c.client.get(&path).await?
    } else {
        c.client.put(&path, &json!({"max_count": max_count, "max_age_days": max_age})).await?
    };
    if c.fmt == Format::Json {
        output::json(&view);
        return Ok(0);
    }
    println!("Lifecycle policy of {app}: {}", describe(&view["policy"]));
    let deleted: Vec<&str> =
        view["deleted"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted {} version(s): {}", deleted.len(), deleted.join(", "));
    }
    Ok(0)
}
