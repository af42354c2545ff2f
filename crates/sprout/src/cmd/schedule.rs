//! `schedule add|list|remove|suspend|resume|preview ENV ...`: scheduled actions, each read in
//! its own IANA time zone. A scheduled action sets the band and the starting desired count;
//! metric scaling moves inside the band until the next action.

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(clap::Subcommand)]
pub enum ScheduleCommand {
    /// Add a scheduled action: --cron for a recurrence, or --start alone for a one-off
    Add {
        env: String,
        name: String,
        /// 5-field cron ("0 8 * * 1-5"), or 6 fields with seconds first
        #[arg(long)]
        cron: Option<String>,
        /// IANA time zone the cron is read in
        #[arg(long, default_value = "UTC")]
        tz: String,
        #[arg(long)]
        min: Option<u32>,
        #[arg(long)]
        max: Option<u32>,
        #[arg(long)]
        desired: Option<u32>,
        /// RFC 3339 instant (2026-05-01T08:00:00Z): not before (recurring) or when (one-off)
        #[arg(long)]
        start: Option<String>,
        /// RFC 3339 instant: not after
        #[arg(long)]
        end: Option<String>,
        /// Add it suspended
        #[arg(long)]
        suspended: bool,
    },
    /// List an environment's scheduled actions
    List { env: String },
    /// Remove a scheduled action
    Remove { env: String, name: String },
    /// Keep an action but stop it firing
    Suspend { env: String, name: String },
    /// Let a suspended action fire again
    Resume { env: String, name: String },
    /// The band the actions will set over the coming days
    Preview {
        env: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

fn instant(field: &str, s: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| anyhow!("--{field}: {t:?} is not an RFC 3339 instant ({e})\n  hint: for example --{field} 2026-05-01T08:00:00+02:00"))
        })
        .transpose()
}

pub async fn run(c: &Context, a: ScheduleArgs) -> Result<u8> {
    let app = c.app()?;
    let base = |env: &str| format!("/apps/{app}/environments/{env}/schedules");
    let (env, out): (String, Value) = match a.command {
        ScheduleCommand::Add { env, name, cron, tz, min, max, desired, start, end, suspended } => {
            let body = json!({
                "name": name, "recurrence": cron, "time_zone": tz, "min": min, "max": max, "desired": desired,
                "start": instant("start", &start)?, "end": instant("end", &end)?, "suspended": suspended,
            });
            let v: Value = c.client.post(&base(&env), &body).await?;
            (env, Value::Array(vec![v]))
        }
        ScheduleCommand::List { env } => {
            let v = c.client.get(&base(&env)).await?;
            (env, v)
        }
        ScheduleCommand::Remove { env, name } => {
            let v = c.client.delete(&format!("{}/{name}", base(&env))).await?;
            (env, v)
        }
        ScheduleCommand::Suspend { env, name } => {
            let v = c.client.post(&format!("{}/{name}/suspend", base(&env)), &json!({})).await?;
            (env, v)
        }
        ScheduleCommand::Resume { env, name } => {
            let v = c.client.post(&format!("{}/{name}/resume", base(&env)), &json!({})).await?;
            (env, v)
        }
        ScheduleCommand::Preview { env, days } => {
            let v: Value = c.client.get(&format!("{}/preview?days={days}", base(&env))).await?;
            if c.fmt == Format::Json {
                output::json(&v);
                return Ok(0);
            }
            let list = v.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("No scheduled action fires on {env} in the next {days} day(s)");
            }
            for b in &list {
                println!(
                    "{:<28} {:<20} band {}..{}  desired {}",
                    b["local"].as_str().unwrap_or(""),
                    b["action"].as_str().unwrap_or(""),
                    b["min"],
                    b["max"],
                    b["desired"]
                );
            }
            return Ok(0);
        }
    };
    if c.fmt == Format::Json {
        output::json(&out);
        return Ok(0);
    }
    let list = out.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!(
            "{env} has no scheduled actions: `sprout schedule add {env} NAME --cron \"0 8 * * 1-5\" --tz Europe/Berlin --min 2 --max 6`"
        );
    }
    for a in &list {
        let when = a["recurrence"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("once at {}", a["start"].as_str().unwrap_or("?")));
        let n = |k: &str| a[k].as_u64().map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{:<20} {:<16} {:<18} min {} max {} desired {}{}",
            a["name"].as_str().unwrap_or(""),
            when,
            a["time_zone"].as_str().unwrap_or(""),
            n("min"),
            n("max"),
            n("desired"),
            if a["suspended"].as_bool() == Some(true) { "  (suspended)" } else { "" }
        );
    }
    Ok(0)
}
