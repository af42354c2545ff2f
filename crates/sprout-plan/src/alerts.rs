//! Alerts that mean something: which of an environment's events are incidents worth waking
//! someone for, folded so that one incident is one alert and one `resolved`.
//!
//! - **Alerts**: an instance lost without a plan (`InstanceUnhealthy`: essential container exit,
//!   OOM, failing health checks, the engine losing it), the environment's health reaching
//!   Degraded or Severe, a crash loop, the container engine unreachable, a deploy that failed (and
//!   rolled back), a registry that refused its credential (the circuit opened), a certificate that
//!   failed to renew or expires within 14 days with nothing later to serve its names (resolved
//!   when a new certificate for the name is served).
//! - **Info** (sent only to webhooks that asked for every event): planned changes: scale-in and
//!   out, deploys, swaps, terminations, warm-pool moves and draining (`InstanceRetired` with its
//!   reason), hooks.
//! - Everything else (pull progress, batch steps, launches) is neither.
//!
//! Folding: signals of one kind of trouble join one open incident: an instance lost and the
//! health Degraded it causes are one availability incident; during a deploy they are the
//! deploy's incident, with its failure. An incident's alert is
//! held `GRACE` after its first signal so that signals arriving together are named together, then
//! sent once (other incidents are sent at once); repeats while it is open only count. It resolves when its clearing condition holds
//! (health back to Ok with the lost instances replaced; the next Ready deploy; a pull from the
//! registry), with one `resolved` naming how many signals it folded and how long it lasted.
//!
//! Pure: the caller keeps `AlertMemory` per environment (it serializes, so it outlives a restart)
//! and passes the time.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sprout_model::event::Event;

use crate::enhanced::HealthStatus;

/// How long an incident's alert waits for related signals before it is sent.
pub const GRACE: Duration = Duration::seconds(3);
/// An availability incident whose health has been clear this long resolves even if no
/// replacement came into service (the environment was scaled in meanwhile, say).
pub const CLEAR_FALLBACK: Duration = Duration::seconds(60);

/// How a notification reads: `info`, `warning`, `critical`, `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
    Resolved,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Resolved => "resolved",
        }
    }
    /// Alerts (and their resolutions) go to every webhook; info only to those asking for all.
    pub fn is_alert(self) -> bool {
        self != Severity::Info
    }
}

/// One notification to send about one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub severity: Severity,
    /// The incident it opens or resolves (`availability`, `deploy`, `registry:HOST`); none for info.
    pub incident: Option<String>,
    /// The event kind behind an info notice, or `incident` / `resolved`.
    pub kind: String,
    /// In words, whole: what happened, where and why.
    pub message: String,
    pub at: DateTime<Utc>,
    /// Signals folded into the incident so far (1 for info).
    pub count: u32,
}

/// One open incident of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub opened_at: DateTime<Utc>,
    /// Whether its alert has gone out (it is held `GRACE` first).
    pub sent: bool,
    pub severity: Severity,
    /// What was seen, in words, in order, each once.
    pub signals: Vec<String>,
    pub count: u32,
    /// Instances lost without a plan and not yet replaced by one coming into service.
    pub awaiting_replacements: u32,
    /// Instances lost without a plan in all: an incident with one is always said, even when it
    /// clears within its grace.
    #[serde(default)]
    pub lost: u32,
    /// Since when its clearing condition has held.
    pub clear_since: Option<DateTime<Utc>>,
}

/// What the alert planner remembers of one environment: its open incidents by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMemory {
    pub incidents: BTreeMap<String, Incident>,
}

/// The environment's health as the last pass judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthView {
    pub status: HealthStatus,
    /// A deploy is in progress: trouble now is the deploy's.
    pub deploying: bool,
    pub causes: Vec<String>,
    /// Instances the environment shows, and how many of them are in service.
    pub instances: usize,
    pub in_service: usize,
}

const AVAILABILITY: &str = "availability";
/// How a health signal begins.
const HEALTH_WORDS: &str = "Environment health is";
const DEPLOY: &str = "deploy";
/// How a certificate incident's key begins (then the name).
const CERTIFICATE: &str = "certificate:";

/// What one event means for alerting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A signal of trouble for the incident `key`.
    Signal { key: String, severity: Severity, words: String, lost_instance: bool },
    /// Clears incident `key` (deploys: the next Ready; registries: a pull from them).
    Clears { key: String },
    /// A replacement came into service (counts against an availability incident).
    Replaced,
    /// A planned change, worth a word to those asking for everything.
    Info,
    /// Not worth a notification.
    Quiet,
}

/// Classify one event of an environment.
pub fn classify(event: &Event) -> Class {
    let signal = |key: &str, severity, lost_instance| Class::Signal {
        key: key.to_string(),
        severity,
        words: event.message(),
        lost_instance,
    };
    match event {
        Event::InstanceUnhealthy { .. } => signal(AVAILABILITY, Severity::Warning, true),
        Event::CrashLoop { level, .. } => {
            let sev = if level.eq_ignore_ascii_case("severe") { Severity::Critical } else { Severity::Warning };
            signal(AVAILABILITY, sev, false)
        }
        Event::EngineUnavailable { .. } => signal(AVAILABILITY, Severity::Critical, false),
        Event::DeployFailed { rollback_to, .. } => {
            signal(DEPLOY, if rollback_to.is_some() { Severity::Warning } else { Severity::Critical }, false)
        }
        // Followed by `DeployFailed`, which folds into it: the alert carries the task's words.
        Event::ReleaseTaskFailed { .. } => signal(DEPLOY, Severity::Warning, false),
        Event::RegistryRefused { registry, .. } => signal(&format!("registry:{registry}"), Severity::Warning, false),
        Event::CertificateRenewalFailed { name, .. } => signal(&cert_key(name), Severity::Warning, false),
        Event::CertificateExpiring { names, .. } => {
            signal(&cert_key(names.first().map_or("", String::as_str)), Severity::Warning, false)
        }
        Event::CertificateIssued { names, .. } => {
            Class::Clears { key: cert_key(names.first().map_or("", String::as_str)) }
        }
        Event::ImagePulled { image, .. } => Class::Clears { key: format!("registry:{}", registry_of(image)) },
        Event::EnvironmentReady { .. } => Class::Clears { key: DEPLOY.to_string() },
        Event::InstanceInService { .. } => Class::Replaced,
        Event::EnvironmentCreated { .. }
        | Event::DeployStarted { .. }
        | Event::DeployAborted { .. }
        | Event::InstanceRetired { .. }
        | Event::HookRan { .. }
        | Event::TerminateStarted
        | Event::EnvironmentTerminated
        | Event::HostnameSwapped { .. }
        | Event::VariablesChanged { .. }
        | Event::SecretChanged { .. }
        | Event::ReleaseTaskStarted { .. }
        | Event::ReleaseTaskSucceeded { .. }
        | Event::ScalingDecision { .. }
        | Event::ScheduledActionFired { .. } => Class::Info,
        _ => Class::Quiet,
    }
}

/// The incident of a certificate's trouble: by the (first) name it is for.
fn cert_key(name: &str) -> String {
    format!("{CERTIFICATE}{name}")
}

/// The registry host of an image reference, as Docker reads it (`docker.io` when the first
/// component is no host).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// An event of the environment happened at `now` (`deploying`: a deploy is in progress): info
/// notices at once; signals join their incident (sent after `GRACE` by `on_health`, or at once
/// for a failed deploy or a refused credential); clearing events resolve.
pub fn on_event(mem: &mut AlertMemory, event: &Event, deploying: bool, now: DateTime<Utc>) -> Vec<Notice> {
    match classify(event) {
        Class::Info => vec![Notice {
            severity: Severity::Info,
            incident: None,
            kind: event.kind().to_string(),
            message: event.message(),
            at: now,
            count: 1,
        }],
        Class::Signal { key, severity, words, lost_instance } => {
            let key = route(&key, deploying);
            // Trouble with the service has related signals worth waiting for (the health it
            // causes); a failed deploy or a refused credential is said at once (a rollback may
            // be Ready within the grace).
            let at_once = !matches!(
                event,
                Event::InstanceUnhealthy { .. } | Event::CrashLoop { .. } | Event::EngineUnavailable { .. }
            );
            signal(mem, &key, severity, words, lost_instance, now);
            match mem.incidents.get_mut(&key) {
                Some(i) if at_once && !i.sent => {
                    i.sent = true;
                    vec![alert(&key, i, now)]
                }
                _ => Vec::new(),
            }
        }
        Class::Clears { key } => resolve(mem, &key, now),
        Class::Replaced => {
            if let Some(i) = mem.incidents.get_mut(AVAILABILITY) {
                i.awaiting_replacements = i.awaiting_replacements.saturating_sub(1);
            }
            Vec::new()
        }
        Class::Quiet => Vec::new(),
    }
}

/// The environment's pass judged its health at `now`: Degraded or Severe is an availability
/// signal; held alerts past their grace are sent; an availability incident whose health is clear
/// (Ok or Info, every instance in service, its lost instances replaced) resolves.
pub fn on_health(mem: &mut AlertMemory, health: &HealthView, now: DateTime<Utc>) -> Vec<Notice> {
    if matches!(health.status, HealthStatus::Degraded | HealthStatus::Severe) {
        let sev = if health.status == HealthStatus::Severe { Severity::Critical } else { Severity::Warning };
        let why = if health.causes.is_empty() { String::new() } else { format!(": {}", health.causes.join("; ")) };
        let key = route(AVAILABILITY, health.deploying);
        signal(mem, &key, sev, format!("{HEALTH_WORDS} {:?}{why}", health.status), false, now);
    }
    let mut out = Vec::new();
    for (key, i) in mem.incidents.iter_mut() {
        if !i.sent && now - i.opened_at >= GRACE {
            i.sent = true;
            out.push(alert(key, i, now));
        }
    }
    if let Some(i) = mem.incidents.get_mut(AVAILABILITY) {
        let clear = matches!(health.status, HealthStatus::Ok | HealthStatus::Info)
            && health.instances > 0
            && health.in_service == health.instances;
        if !clear {
            i.clear_since = None;
        } else {
            let since = *i.clear_since.get_or_insert(now);
            if i.awaiting_replacements == 0 || now - since >= CLEAR_FALLBACK {
                out.extend(resolve(mem, AVAILABILITY, now));
            }
        }
    }
    out
}

/// The environment is gone: every incident whose alert went out is resolved, saying so.
pub fn close_all(mem: &mut AlertMemory, now: DateTime<Utc>) -> Vec<Notice> {
    let open = std::mem::take(&mut mem.incidents);
    open.into_iter()
        .filter(|(_, i)| i.sent)
        .map(|(key, i)| Notice {
            severity: Severity::Resolved,
            message: format!("Resolved: the environment was terminated (was: {})", i.signals.join("; ")),
            incident: Some(key),
            kind: "resolved".to_string(),
            at: now,
            count: i.count,
        })
        .collect()
}

/// Trouble with the service during a deploy (its rollback included) is the deploy's: a version
/// that never gets healthy is one incident, not one per instance and one for the health it
/// causes. Once the environment is no longer deploying, trouble is its own incident again (a
/// deploy that failed with nothing to roll back to stays open until the next Ready).
fn route(key: &str, deploying: bool) -> String {
    if key == AVAILABILITY && deploying { DEPLOY.to_string() } else { key.to_string() }
}

fn signal(mem: &mut AlertMemory, key: &str, severity: Severity, words: String, lost: bool, now: DateTime<Utc>) {
    let i = mem.incidents.entry(key.to_string()).or_insert_with(|| Incident {
        opened_at: now,
        sent: false,
        severity,
        signals: Vec::new(),
        count: 0,
        awaiting_replacements: 0,
        lost: 0,
        clear_since: None,
    });
    i.count += 1;
    i.severity = i.severity.max(severity);
    i.clear_since = None;
    if lost {
        i.awaiting_replacements += 1;
        i.lost += 1;
    }
    // Health is judged every pass: the same words again, or health said again in other words,
    // are a repeat, not news (the severity still rises with it).
    let health_again = words.starts_with(HEALTH_WORDS) && i.signals.iter().any(|s| s.starts_with(HEALTH_WORDS));
    if !health_again && !i.signals.contains(&words) && i.signals.len() < 20 {
        i.signals.push(words);
    }
}

/// The alert of an incident, naming every signal gathered so far.
fn alert(key: &str, i: &Incident, now: DateTime<Utc>) -> Notice {
    let what = match key {
        AVAILABILITY => "Instances lost or unhealthy without a plan",
        DEPLOY => "A deploy is in trouble",
        k if k.starts_with(CERTIFICATE) => "A certificate is not renewed",
        _ => "A registry refused its credential",
    };
    Notice {
        severity: i.severity,
        incident: Some(key.to_string()),
        kind: "incident".to_string(),
        message: format!("{what}: {}", i.signals.join("; ")),
        at: now,
        count: i.count,
    }
}

/// Close incident `key`: its alert if it was still held and lost an instance (an instance lost
/// without a plan is always said, however quickly it was replaced), then a `resolved`. Health
/// that dipped and cleared within the grace ends silently.
fn resolve(mem: &mut AlertMemory, key: &str, now: DateTime<Utc>) -> Vec<Notice> {
    let Some(i) = mem.incidents.remove(key) else { return Vec::new() };
    let mut out = Vec::new();
    if !i.sent {
        if i.lost == 0 {
            return out;
        }
        out.push(alert(key, &i, now));
    }
    let lasted = (now - i.opened_at).num_seconds().max(0);
    let what = match key {
        AVAILABILITY => "every instance is in service and health is back to Ok".to_string(),
        DEPLOY => "the environment is Ready again".to_string(),
        k if k.starts_with(CERTIFICATE) => "a new certificate is served".to_string(),
        _ => "images are pulled from it again".to_string(),
    };
    let folded = if i.count > 1 { format!(", {} signals folded", i.count) } else { String::new() };
    out.push(Notice {
        severity: Severity::Resolved,
        incident: Some(key.to_string()),
        kind: "resolved".to_string(),
        message: format!("Resolved after {lasted} s{folded}: {what} (was: {})", i.signals.join("; ")),
        at: now,
        count: i.count,
    });
    out
}

#[cfg(test)]
mod tests;
