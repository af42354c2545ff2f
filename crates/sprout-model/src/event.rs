//! Typed events: everything that happens to an environment, with its level, kind and words, so
//! the CLI, API and (later) alerts read the same words. Pure data: the planners return them,
//! the server records them (`sprout_server::events`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventLevel {
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "INFO",
            EventLevel::Warn => "WARN",
            EventLevel::Error => "ERROR",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "INFO" => EventLevel::Info,
            "WARN" => EventLevel::Warn,
            "ERROR" => EventLevel::Error,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    EnvironmentCreated {
        version: String,
        instances: u32,
    },
    DeployStarted {
        from: String,
        to: String,
    },
    InstanceLaunched {
        instance: String,
        version: String,
    },
    /// Created whole and left stopped, for the stopped warm pool.
    InstanceCreatedStopped {
        instance: String,
        version: String,
    },
    /// A stopped warm instance started on demand; it serves once it passes a health check.
    InstanceStarted {
        instance: String,
        version: String,
    },
    LaunchFailed {
        instance: String,
        error: String,
        retry_in_s: u64,
    },
    /// Launches that failed again and again with one error (said once, as `LaunchFailed`)
    /// stopped doing so: they work again, fail otherwise, or none is wanted.
    LaunchFailuresEnded {
        error: String,
        failures: u32,
        over_s: u64,
    },
    InstanceInService {
        instance: String,
        address: String,
    },
    InstanceRetired {
        instance: String,
        reason: String,
    },
    /// A lifecycle hook (`pre_stop`, `post_start`) of one container ran: `ok` when it exited 0
    /// in time; `outcome` says how it ended, in words.
    HookRan {
        instance: String,
        container: String,
        hook: String,
        ok: bool,
        outcome: String,
    },
    InstanceUnhealthy {
        instance: String,
        reason: String,
    },
    RetireFailed {
        instance: String,
        error: String,
    },
    EnvironmentReady {
        version: String,
        instances: u32,
    },
    DeployFailed {
        version: String,
        reason: String,
        rollback_to: Option<String>,
    },
    TerminateStarted,
    EnvironmentTerminated,
    OrphanRemoved {
        app: String,
        env: String,
        instance: String,
    },
    HostnameSwapped {
        host: String,
    },
    /// Custom domains were added to or removed from the environment (`sprout domains`).
    DomainsChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// A new certificate for the environment's names is served (obtained or renewed over ACME,
    /// or uploaded).
    CertificateIssued {
        names: Vec<String>,
        not_after: String,
        issuer: String,
    },
    /// An ACME order for the environment's name failed; the certificate served (if any) stays.
    CertificateRenewalFailed {
        name: String,
        error: String,
        next_try: String,
    },
    /// A certificate serving the environment's names expires soon and nothing later covers them.
    CertificateExpiring {
        names: Vec<String>,
        not_after: String,
    },
    VariablesChanged {
        names: String,
    },
    /// A secret was set or removed (never its value).
    SecretChanged {
        name: String,
        removed: bool,
    },
    /// Options changed (`sprout config`, a saved configuration, a bundle's `sprout.yaml`):
    /// `changes` lists `key: old -> new`, `source` says who.
    OptionsChanged {
        changes: String,
        source: String,
    },
    EngineUnavailable {
        error: String,
    },
    /// A node of the swarm the environment runs on went down (not drained: a drained node's
    /// instances are replaced without a word of this kind). Said once per node and environment.
    NodeLost {
        node: String,
        instances: Vec<String>,
    },
    DeployBatchStarted {
        batch: u32,
        of: u32,
        retiring: Vec<String>,
        launching: usize,
    },
    DeployBatchHealthy {
        batch: u32,
        of: u32,
    },
    InstanceQuarantined {
        instance: String,
        error: String,
    },
    DeployAborted {
        version: String,
        rollback_to: Option<String>,
    },
    /// Auto-scaling changed the desired count; the reason says from what metrics.
    ScalingDecision {
        from: u32,
        to: u32,
        reason: String,
    },
    /// A scheduled action set the band and desired count.
    ScheduledActionFired {
        action: String,
        reason: String,
    },
    /// Auto-scaling is holding off (a deploy in progress), and why.
    ScalingWaits {
        reason: String,
    },
    VersionDeleted {
        label: String,
        reason: String,
    },
    /// Instances keep being replaced for the same cause: said when the loop is first seen and
    /// whenever its health level changes, with the count so far, not once per replacement.
    CrashLoop {
        cause: String,
        replacements: u32,
        within_s: u64,
        retry_in_s: u64,
        level: String,
    },
    /// The cause of a crash loop has not recurred for the quiet period, or its version left.
    CrashLoopEnded {
        cause: String,
        replacements: u32,
    },
    /// A pull this environment waits for began (one pull per image across the server).
    ImagePullStarted {
        image: String,
        /// Where from: the image's registry, or its mirror.
        source: String,
    },
    /// How far a pull is, said every few seconds while it runs.
    ImagePullProgress {
        image: String,
        layers_done: u32,
        layers: u32,
        bytes_done: u64,
        bytes: u64,
    },
    ImagePulled {
        image: String,
        digest: String,
        size_bytes: u64,
        /// How long the pull took, in milliseconds.
        millis: u64,
    },
    /// A pull failed for a reason that may pass; the next attempt's time is said.
    ImagePullFailed {
        image: String,
        error: String,
        retry_at: String,
    },
    /// A deploy's release task began, in its own one-off instance of the new version.
    ReleaseTaskStarted {
        version: String,
        instance: String,
        container: String,
        command: String,
    },
    ReleaseTaskSucceeded {
        version: String,
        instance: String,
        seconds: i64,
    },
    /// The release task failed (non-zero exit, timeout, or it could not be launched): the deploy
    /// stops before any instance is replaced. `tail` holds its last lines of output.
    ReleaseTaskFailed {
        version: String,
        instance: String,
        reason: String,
        tail: String,
    },
    /// A one-off command ended (`sprout exec`, `sprout run`): where it ran, what, and its exit
    /// code (None when it could not be had).
    CommandRan {
        how: String,
        instance: String,
        container: String,
        command: String,
        exit_code: Option<i64>,
    },
    /// A periodic job of the version's `cron.yaml` was sent (`POST url` to one in-service
    /// instance) for its scheduled instant: `outcome` says what came back ("returned 200",
    /// "connect to ...: refused", "no instance in service"); `retry_in_s` when it will be tried
    /// again before its next run.
    CronJobRan {
        job: String,
        scheduled_at: String,
        instance: String,
        ok: bool,
        outcome: String,
        retry_in_s: Option<u64>,
    },
    /// The queue reading (`scaling.queue_url`) failed: said once per run of failures; queue
    /// target tracking holds meanwhile.
    QueueReadingFailed {
        url: String,
        error: String,
    },
    /// A registry refused a credential: said once when its circuit opens, not per instance.
    RegistryRefused {
        registry: String,
        /// The user whose credential was refused; empty when there was none.
        user: String,
        at: String,
        next_try: String,
        message: String,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::EnvironmentCreated { .. } => "EnvironmentCreated",
            Event::DeployStarted { .. } => "DeployStarted",
            Event::DeployBatchStarted { .. } => "DeployBatchStarted",
            Event::DeployBatchHealthy { .. } => "DeployBatchHealthy",
            Event::InstanceQuarantined { .. } => "InstanceQuarantined",
            Event::DeployAborted { .. } => "DeployAborted",
            Event::InstanceLaunched { .. } => "InstanceLaunched",
            Event::InstanceCreatedStopped { .. } => "InstanceCreatedStopped",
            Event::InstanceStarted { .. } => "InstanceStarted",
            Event::LaunchFailed { .. } => "LaunchFailed",
            Event::LaunchFailuresEnded { .. } => "LaunchFailuresEnded",
            Event::InstanceInService { .. } => "InstanceInService",
            Event::InstanceRetired { .. } => "InstanceRetired",
            Event::HookRan { ok: true, .. } => "HookSucceeded",
            Event::HookRan { ok: false, .. } => "HookFailed",
            Event::InstanceUnhealthy { .. } => "InstanceUnhealthy",
            Event::CrashLoop { .. } => "CrashLoop",
            Event::CrashLoopEnded { .. } => "CrashLoopEnded",
            Event::RetireFailed { .. } => "RetireFailed",
            Event::EnvironmentReady { .. } => "EnvironmentReady",
            Event::DeployFailed { .. } => "DeployFailed",
            Event::TerminateStarted => "TerminateStarted",
            Event::EnvironmentTerminated => "EnvironmentTerminated",
            Event::OrphanRemoved { .. } => "OrphanRemoved",
            Event::HostnameSwapped { .. } => "HostnameSwapped",
            Event::DomainsChanged { .. } => "DomainsChanged",
            Event::CertificateIssued { .. } => "CertificateIssued",
            Event::CertificateRenewalFailed { .. } => "CertificateRenewalFailed",
            Event::CertificateExpiring { .. } => "CertificateExpiring",
            Event::VariablesChanged { .. } => "VariablesChanged",
            Event::SecretChanged { .. } => "SecretChanged",
            Event::OptionsChanged { .. } => "OptionsChanged",
            Event::EngineUnavailable { .. } => "EngineUnavailable",
            Event::NodeLost { .. } => "NodeLost",
            Event::ScalingDecision { .. } => "ScalingDecision",
            Event::ScheduledActionFired { .. } => "ScheduledActionFired",
            Event::ScalingWaits { .. } => "ScalingWaits",
            Event::VersionDeleted { .. } => "VersionDeleted",
            Event::ImagePullStarted { .. } => "ImagePullStarted",
            Event::ImagePullProgress { .. } => "ImagePullProgress",
            Event::ImagePulled { .. } => "ImagePulled",
            Event::ImagePullFailed { .. } => "ImagePullFailed",
            Event::RegistryRefused { .. } => "RegistryRefused",
            Event::ReleaseTaskStarted { .. } => "ReleaseTaskStarted",
            Event::CommandRan { .. } => "CommandRan",
            Event::CronJobRan { ok: true, .. } => "CronJobSucceeded",
            Event::CronJobRan { ok: false, .. } => "CronJobFailed",
            Event::QueueReadingFailed { .. } => "QueueReadingFailed",
            Event::ReleaseTaskSucceeded { .. } => "ReleaseTaskSucceeded",
            Event::ReleaseTaskFailed { .. } => "ReleaseTaskFailed",
        }
    }

    pub fn level(&self) -> EventLevel {
        match self {
            Event::LaunchFailed { .. }
            | Event::InstanceUnhealthy { .. }
            | Event::CrashLoop { .. }
            | Event::RetireFailed { .. }
            | Event::InstanceQuarantined { .. }
            | Event::DeployAborted { .. }
            | Event::ImagePullFailed { .. }
            | Event::OrphanRemoved { .. }
            | Event::HookRan { ok: false, .. }
            | Event::CertificateRenewalFailed { .. }
            | Event::CertificateExpiring { .. }
            | Event::CronJobRan { ok: false, .. }
            | Event::QueueReadingFailed { .. }
            | Event::NodeLost { .. } => EventLevel::Warn,
            Event::DeployFailed { .. }
            | Event::EngineUnavailable { .. }
            | Event::RegistryRefused { .. }
            | Event::ReleaseTaskFailed { .. } => EventLevel::Error,
            _ => EventLevel::Info,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Event::EnvironmentCreated { version, instances } => {
                format!("createEnvironment is starting: version {version}, {instances} instance(s)")
            }
            Event::DeployStarted { from, to } => format!("Deploying version {to} (replacing {from})"),
            Event::DeployBatchStarted { batch, of, retiring, launching } => {
                let out = if retiring.is_empty() { "none".to_string() } else { retiring.join(", ") };
                format!(
                    "Deploying batch {batch} of {of}: launching {launching} instance(s), taking out instances: {out}"
                )
            }
            Event::DeployBatchHealthy { batch, of } => format!("Batch {batch} of {of} healthy"),
            Event::InstanceQuarantined { instance, error } => format!(
                "Instance {instance} will not stop or be removed ({error}): quarantined out of rotation and replaced; cleanup is retried every 30s"
            ),
            Event::DeployAborted { version, rollback_to: Some(to) } => {
                format!("Deploy of version {version} aborted. Rolling back to {to}")
            }
            Event::DeployAborted { version, rollback_to: None } => {
                format!(
                    "Deploy of version {version} aborted. No earlier good version to roll back to: the environment keeps {version}"
                )
            }
            Event::InstanceLaunched { instance, version } => {
                format!("Instance {instance} launched with version {version}")
            }
            Event::InstanceCreatedStopped { instance, version } => {
                format!("Instance {instance} created with version {version} and left stopped in the warm pool")
            }
            Event::InstanceStarted { instance, version } => {
                format!("Instance {instance} (version {version}) started from the stopped warm pool")
            }
            Event::LaunchFailed { instance, error, retry_in_s } => {
                format!("Instance {instance} failed to launch: {error}; retrying in {retry_in_s}s")
            }
            Event::LaunchFailuresEnded { error, failures, over_s } => {
                format!("Launch failure over after {failures} failed launches in {over_s} s: {error}")
            }
            Event::InstanceInService { instance, address } => {
                format!("Instance {instance} passed its health check and is in service at {address}")
            }
            Event::InstanceRetired { instance, reason } => format!("Instance {instance} retired ({reason})"),
            Event::HookRan { instance, container, hook, outcome, .. } => {
                format!("Hook {hook} of container {container} on instance {instance} {outcome}")
            }
            Event::InstanceUnhealthy { instance, reason } => {
                format!("Instance {instance} is unhealthy and will be replaced: {reason}")
            }
            Event::RetireFailed { instance, error } => {
                format!("Instance {instance} could not be cleaned up, will retry: {error}")
            }
            Event::EnvironmentReady { version, instances } => {
                format!("Environment is Ready: {instances} healthy instance(s) of version {version}")
            }
            Event::DeployFailed { version, reason, rollback_to: Some(to) } => {
                format!("Deploy of version {version} failed: {reason}. Rolling back to {to}")
            }
            Event::DeployFailed { version, reason, rollback_to: None } => {
                format!("Deploy of version {version} failed: {reason}. No earlier good version to roll back to")
            }
            Event::TerminateStarted => "terminateEnvironment is starting".into(),
            Event::EnvironmentTerminated => "terminateEnvironment completed: no instance left".into(),
            Event::SecretChanged { name, removed: false } => {
                format!("secret {name} changed: replacing instances under the deployment policy")
            }
            Event::SecretChanged { name, removed: true } => {
                format!("secret {name} removed: replacing instances under the deployment policy")
            }
            Event::VariablesChanged { names } => {
                format!("Environment properties changed ({names}): replacing instances under the deployment policy")
            }
            Event::HostnameSwapped { host } => format!("Environment now answers {host} (swapped)"),
            Event::DomainsChanged { added, removed } => match (added.is_empty(), removed.is_empty()) {
                (false, true) => format!("Environment now answers {}", added.join(", ")),
                (true, false) => format!("Environment no longer answers {}", removed.join(", ")),
                _ => format!("Environment now answers {}; no longer {}", added.join(", "), removed.join(", ")),
            },
            Event::CertificateIssued { names, not_after, issuer } => {
                format!("A new certificate for {} is served (expires {not_after}, issuer {issuer})", names.join(", "))
            }
            Event::CertificateRenewalFailed { name, error, next_try } => format!(
                "Could not obtain a certificate for {name}: {error}; the certificate served (if any) is kept, next try {next_try}"
            ),
            Event::CertificateExpiring { names, not_after } => {
                format!("The certificate for {} expires {not_after} and nothing renews it yet", names.join(", "))
            }
            Event::OptionsChanged { changes, source } => format!("Options changed ({source}): {changes}"),
            Event::OrphanRemoved { app, env, instance } => {
                format!("Removed instance {instance} of {app}/{env}: no such environment")
            }
            Event::EngineUnavailable { error } => format!("Container engine unavailable: {error}"),
            Event::NodeLost { node, instances } => format!(
                "Node {node} is lost (down or unreachable): its instance(s) {} are replaced on the other nodes",
                instances.join(", ")
            ),
            Event::CrashLoop { cause, replacements, within_s, retry_in_s, level } => format!(
                "Crash loop ({level}): instances replaced {replacements} times in {within_s} s: {cause}; the next replacement waits {retry_in_s} s"
            ),
            Event::CrashLoopEnded { cause, replacements } => {
                format!("Crash loop over after {replacements} replacement(s): {cause}")
            }
            Event::ScalingDecision { from, to, reason } => {
                let verb = if to > from { "Scaling out" } else { "Scaling in" };
                format!("{verb}: {reason}")
            }
            Event::ScheduledActionFired { action: _, reason } => format!("Scheduled: {reason}"),
            Event::ScalingWaits { reason } => format!("Scaling waits: {reason}"),
            Event::VersionDeleted { label, reason } => format!("Deleted application version {label} ({reason})"),
            Event::ImagePullStarted { image, source } => format!("Pulling image {image} from {source}"),
            Event::ImagePullProgress { image, layers_done, layers, bytes_done, bytes } => format!(
                "Pulling image {image}: {layers_done} of {layers} layers, {} of {} MB",
                megabytes(*bytes_done),
                megabytes(*bytes)
            ),
            Event::ImagePulled { image, digest, size_bytes, millis } => format!(
                "Pulled image {image} ({digest}, {} MB) in {:.1} s",
                megabytes(*size_bytes),
                *millis as f64 / 1000.0
            ),
            Event::ImagePullFailed { image, error, retry_at } => {
                format!("Pull of image {image} failed: {error}; next attempt at {retry_at}")
            }
            Event::CommandRan { how, instance, container, command, exit_code } => {
                let exit = exit_code.map(|c| format!("exit code {c}")).unwrap_or_else(|| "exit code unknown".into());
                format!("Command ran ({how}) in {instance}, container {container}: {command} ({exit})")
            }
            Event::CronJobRan { job, scheduled_at, instance, outcome, retry_in_s, .. } => {
                let on = if instance.is_empty() { String::new() } else { format!(" on {instance}") };
                let retry = retry_in_s.map(|s| format!("; retrying in {s} s")).unwrap_or_default();
                format!("Cron job {job} (scheduled {scheduled_at}){on}: {outcome}{retry}")
            }
            Event::QueueReadingFailed { url, error } => {
                format!("Queue reading {url} failed: {error}; queue scaling holds until it answers a number again")
            }
            Event::ReleaseTaskStarted { version, instance, container, command } => {
                format!("Release task of version {version} started in {instance} (container {container}): {command}")
            }
            Event::ReleaseTaskSucceeded { version, instance, seconds } => {
                format!("Release task of version {version} succeeded in {seconds} s ({instance}, exit code 0)")
            }
            Event::ReleaseTaskFailed { version, instance, reason, tail } => {
                let tail = if tail.trim().is_empty() {
                    "no output".to_string()
                } else {
                    format!("last lines:\n{}", tail.trim_end())
                };
                format!(
                    "Release task of version {version} failed ({instance}): {reason}; the deploy stops before any instance is replaced; its output is kept in the logs of instance {instance}; {tail}"
                )
            }
            Event::RegistryRefused { registry, user, at, next_try, message } => {
                let whose = if user.is_empty() {
                    "access without a credential".to_string()
                } else {
                    format!("the credential of user {user}")
                };
                format!(
                    "Registry {registry} refused {whose} at {at} ({message}); next try {next_try}; launches that need its images wait and running instances are untouched; `sprout registry login {registry} --username USER --password-stdin` to fix"
                )
            }
        }
    }
}

/// Bytes as megabytes with one decimal, as pull progress shows them.
fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_000_000.0)
}
