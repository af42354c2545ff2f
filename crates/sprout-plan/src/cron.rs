//! Periodic jobs: Elastic Beanstalk's worker `cron.yaml` at the bundle's root, plus Sprout's
//! `timezone:` (IANA, default UTC), and what is due when.
//!
//! ```yaml
//! version: 1
//! timezone: Europe/Berlin      # Sprout's addition; schedules read on this wall clock
//! cron:
//!   - name: nightly-report
//!     url: /tasks/report       # POSTed to one in-service instance's container on host port 80
//!     schedule: "0 3 * * *"    # five fields: minute hour day month weekday
//! ```
//!
//! Loading checks everything at once, each problem at its path (`cron[1].schedule`). Deciding is
//! pure (`decide_job`): from the job's last claimed run (the store's) and `now`, the instant to
//! send (only the latest one due: a server that was down sends the missed instant once, not
//! every one it missed), a failed one to try again (with back-off, until the next run comes),
//! or nothing. Not here: the HTTP call, the store (the server's cron controller).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};
use sprout_model::cron::{CronRun, CronRunState};
use sprout_model::sprout_yaml::{Found, syntax_error};
use sprout_model::{Diagnostic, Severity};

use crate::schedule::{next_in_zone, parse_recurrence, parse_time_zone};

/// The file's name at the bundle's root.
pub const CRON_YAML: &str = "cron.yaml";
/// The most jobs one file may hold.
pub const MAX_JOBS: usize = 100;
/// The most bytes the file may hold.
pub const MAX_BYTES: usize = 64 * 1024;
/// The longest wait between two tries of a failed run.
pub const MAX_BACKOFF_S: i64 = 60;
/// How far back a missed instant is looked for (a server down longer sends none of them).
pub const CATCH_UP: Duration = Duration::days(1);

/// A loaded `cron.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronFile {
    /// IANA time zone the schedules are read in.
    pub timezone: String,
    pub jobs: Vec<CronJob>,
}

/// One periodic job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJob {
    pub name: String,
    /// The path POSTed to (`/tasks/report`).
    pub url: String,
    /// Five cron fields.
    pub schedule: String,
}

/// Parse and check `source` (the text of `cron.yaml`); `has_web_container` tells whether the
/// definition has a container on host port 80, where jobs are sent. On success, the file and
/// its warnings; otherwise every diagnostic.
pub fn load_cron_yaml(source: &str, has_web_container: bool) -> Result<(CronFile, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut found = Found::new(CRON_YAML);
    if source.len() > MAX_BYTES {
        found.error("", format!("the file holds {} bytes, more than {MAX_BYTES}", source.len()), None);
        return Err(found.diags);
    }
    let root: serde_json::Value = match serde_saphyr::from_str(source) {
        Ok(v) => v,
        Err(e) => return Err(vec![syntax_error(CRON_YAML, &e.to_string())]),
    };
    let serde_json::Value::Object(map) = &root else {
        found.error("", "the file must be a mapping with `version: 1` and a `cron:` list", Some(EXAMPLE));
        return Err(found.diags);
    };
    for key in map.keys() {
        if !["version", "cron", "timezone"].contains(&key.as_str()) {
            found.error(key, format!("unknown key `{key}`"), Some("the keys are: version, timezone, cron"));
        }
    }
    match map.get("version") {
        Some(v) if v.as_u64() == Some(1) || v.as_str() == Some("1") => {}
        Some(v) => found.error("version", format!("version {v} is not supported"), Some("write `version: 1`")),
        None => found.error("version", "the file has no `version`", Some("write `version: 1` at the top")),
    }
    let timezone = match map.get("timezone") {
        None | Some(serde_json::Value::Null) => "UTC".to_string(),
        Some(serde_json::Value::String(tz)) => {
            if let Err(e) = parse_time_zone(tz) {
                found.error("timezone", e.message, Some("an IANA name: UTC, Europe/Berlin, America/New_York"));
            }
            tz.clone()
        }
        Some(other) => {
            found.error("timezone", format!("{other} is not a time zone name"), Some("timezone: Europe/Berlin"));
            String::new()
        }
    };
    let jobs = match map.get("cron") {
        Some(serde_json::Value::Array(items)) if !items.is_empty() => check_jobs(items, &mut found),
        Some(serde_json::Value::Array(_)) | Some(serde_json::Value::Null) => {
            found.warning("cron", "the file lists no job", None);
            Vec::new()
        }
        Some(_) => {
            found.error("cron", "`cron` must be a list of jobs", Some(EXAMPLE));
            Vec::new()
        }
        None => {
            found.error("cron", "the file has no `cron` list", Some(EXAMPLE));
            Vec::new()
        }
    };
    if !jobs.is_empty() && !has_web_container {
        found.error(
            "cron",
            "periodic jobs are POSTed to the container on host port 80, and this definition has none",
            Some("map host port 80 to the container that serves the job URLs: \"portMappings\": [{\"hostPort\": 80, \"containerPort\": <port>}]"),
        );
    }
    if found.diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(found.diags);
    }
    Ok((CronFile { timezone, jobs }, found.diags))
}

const EXAMPLE: &str = "version: 1\ncron:\n  - name: nightly\n    url: /tasks/nightly\n    schedule: \"0 3 * * *\"";

fn check_jobs(items: &[serde_json::Value], found: &mut Found) -> Vec<CronJob> {
    if items.len() > MAX_JOBS {
        found.error("cron", format!("{} jobs is more than a file may hold ({MAX_JOBS})", items.len()), None);
    }
    let mut jobs: Vec<CronJob> = Vec::new();
    for (i, item) in items.iter().enumerate().take(MAX_JOBS) {
        let at = |field: &str| format!("cron[{i}].{field}");
        let serde_json::Value::Object(job) = item else {
            found.error(
                &format!("cron[{i}]"),
                "a job must be a mapping with `name`, `url` and `schedule`",
                Some(EXAMPLE),
            );
            continue;
        };
        for key in job.keys() {
            if !["name", "url", "schedule"].contains(&key.as_str()) {
                found.error(&at(key), format!("unknown key `{key}`"), Some("a job has: name, url, schedule"));
            }
        }
        let text = |field: &str, found: &mut Found| match job.get(field) {
            Some(serde_json::Value::String(s)) => Some(s.trim().to_string()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                found.error(&at(field), format!("`{field}` must be text"), None);
                None
            }
            None => {
                found.error(&at(field), format!("the job has no `{field}`"), Some(EXAMPLE));
                None
            }
        };
        let (name, url, schedule) = (text("name", found), text("url", found), text("schedule", found));
        if let Some(n) = &name {
            if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
                found.error(&at("name"), format!("{n:?} must be 1 to 64 printable characters"), None);
            } else if jobs.iter().any(|j| j.name == *n) {
                found.error(&at("name"), format!("two jobs are named {n:?}"), Some("give each job its own name"));
            }
        }
        if let Some(u) = &url
            && (!u.starts_with('/') || u.len() > 1024 || u.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            found.error(
                &at("url"),
                format!("{u:?} must be a path on the instance, starting with `/`, with no spaces"),
                Some("url: /tasks/nightly (POSTed to the container on host port 80)"),
            );
        }
        if let Some(s) = &schedule {
            let fields = s.split_whitespace().count();
            if fields != 5 {
                found.error(
                    &at("schedule"),
                    format!("{s:?} has {fields} field(s); cron.yaml schedules have 5 (minute hour day month weekday)"),
                    Some("schedule: \"*/10 * * * *\" (every ten minutes)"),
                );
            } else if let Err(e) = parse_recurrence(s) {
                found.error(&at("schedule"), e.message, Some("schedule: \"0 3 * * *\" (03:00 every day)"));
            }
        }
        if let (Some(name), Some(url), Some(schedule)) = (name, url, schedule) {
            jobs.push(CronJob { name, url, schedule });
        }
    }
    jobs
}

/// A job ready to be decided on: its parsed schedule and zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// The job's schedule in the file's zone (None for a file that did not load: it was checked
    /// at upload, so only a change of rules gets here).
    pub fn of(job: &CronJob, timezone: &str) -> Option<Schedule> {
        Some(Schedule { cron: parse_recurrence(&job.schedule).ok()?, tz: parse_time_zone(timezone).ok()? })
    }

    /// The first instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        next_in_zone(&self.cron, &self.tz, after)
    }

    /// The next `n` instants after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            let Some(next) = self.next_after(t) else { break };
            out.push(next);
            t = next;
        }
        out
    }

    /// The latest instant in (`after`, `now`], looking back at most `CATCH_UP`.
    pub fn latest_due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.max(now - CATCH_UP);
        let mut latest = None;
        while let Some(next) = self.next_after(t).filter(|n| *n <= now) {
            latest = Some(next);
            t = next;
        }
        latest
    }
}

/// What to do about one job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronStep {
    /// First seen: note `now` as its baseline (nothing before it runs).
    Baseline,
    /// Claim this instant and send it (first try).
    Send { instant: DateTime<Utc> },
    /// The claimed instant failed: try it again (this is try `attempt`).
    Retry { instant: DateTime<Utc>, attempt: u32 },
    /// Nothing now.
    Wait,
}

/// The wait before try `attempt + 1` after `attempt` failed tries: 2, 4, 8 ... up to
/// `MAX_BACKOFF_S` seconds.
pub fn backoff_s(attempts: u32) -> i64 {
    2i64.saturating_pow(attempts.min(10)).min(MAX_BACKOFF_S)
}

/// Decide one job from its last claimed run (None: never seen).
pub fn decide_job(schedule: &Schedule, last: Option<&CronRun>, now: DateTime<Utc>) -> CronStep {
    let Some(last) = last else { return CronStep::Baseline };
    if let Some(instant) = schedule.latest_due(last.instant, now) {
        return CronStep::Send { instant };
    }
    if last.state == CronRunState::Failed && now >= last.updated_at + Duration::seconds(backoff_s(last.attempts)) {
        // No later instant is due yet (else it would be sent above): still before the next run.
        return CronStep::Retry { instant: last.instant, attempt: last.attempts + 1 };
    }
    CronStep::Wait
}

/// When a failed run will be tried again, if it will be (before its next run).
pub fn retry_at(schedule: &Schedule, run: &CronRun) -> Option<DateTime<Utc>> {
    if run.state != CronRunState::Failed {
        return None;
    }
    let at = run.updated_at + Duration::seconds(backoff_s(run.attempts));
    schedule.next_after(run.instant).filter(|next| at < *next).map(|_| at)
}

#[cfg(test)]
mod tests;
