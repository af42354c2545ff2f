//! `cron list ENV`: the periodic jobs of the deployed version's `cron.yaml`, their next runs and
//! the last run's result.

use anyhow::Result;
use sprout_api::cron::CronListView;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct CronArgs {
    #[command(subcommand)]
    pub command: CronCommand,
}

#[derive(clap::Subcommand)]
pub enum CronCommand {
    /// List an environment's periodic jobs: next runs and last results
    List { env: String },
}

pub async fn run(c: &Context, a: CronArgs) -> Result<u8> {
    let CronCommand::List { env } = a.command;
    let app = c.app()?;
    let v: CronListView = c.client.get(&format!("/apps/{app}/environments/{env}/cron")).await?;
    if c.fmt == Format::Json {
        output::json(&v);
        return Ok(0);
    }
    let Some(tz) = &v.timezone else {
        println!("Version {} has no cron.yaml: no periodic jobs", v.version);
        return Ok(0);
    };
    println!("Periodic jobs of version {} (schedules read in {tz}):", v.version);
    for j in &v.jobs {
        println!("  {}  POST {}  \"{}\"", j.name, j.url, j.schedule);
        let next: Vec<String> = j.next.iter().map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()).collect();
        println!("    next: {}", if next.is_empty() { "none".to_string() } else { next.join(", ") });
        match &j.last {
            Some(r) if r.state == sprout_model::cron::CronRunState::Baseline => {
                println!("    last: none yet (watching since {})", r.instant.format("%Y-%m-%d %H:%M:%SZ"))
            }
            Some(r) => {
                let on = if r.instance.is_empty() { String::new() } else { format!(" on {}", r.instance) };
                println!(
                    "    last: {} {}{on} after {} try(s): {}",
                    r.instant.format("%Y-%m-%d %H:%M:%SZ"),
                    r.state.as_str(),
                    r.attempts,
                    r.outcome
                );
            }
            None => println!("    last: none yet"),
        }
        if let Some(at) = j.retry_at {
            println!("    retry: {}", at.format("%Y-%m-%d %H:%M:%SZ"));
        }
    }
    Ok(0)
}
