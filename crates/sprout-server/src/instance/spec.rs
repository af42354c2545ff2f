//! Building an instance's container specs from a version's Dockerrun: every field mapped to the
//! engine faithfully, in an order that respects links, volumesFrom and dependsOn.
//!
//! Pure: takes the definition and the instance's identity and paths, returns specs. Not here:
//! creating or starting anything (see `launch`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sprout_engine::{Bind, ContainerSpec, HealthcheckSpec, LogConfigSpec, NetworkSpec, PortSpec, UlimitSpec};
use sprout_model::names::{self, *};
use sprout_model::{BUNDLE_PREFIX, ContainerDefinition, DependencyCondition, Dockerrun, LOG_VOLUME_PREFIX};

pub use sprout_model::names::{LABEL_CONFIG, LABEL_LAUNCHED_AT, deploy_key, key_version};
/// Label saying whether a container is essential.
pub const LABEL_ESSENTIAL: &str = "sprout.essential";

/// Who an instance is and where its files live.
#[derive(Debug, Clone)]
pub struct InstanceIdentity {
    /// The owning server's id (see `LABEL_SERVER`).
    pub server: String,
    pub app: String,
    pub env: String,
    pub instance: String,
    pub version: String,
    pub launched_at: i64,
    /// `config_hash` of the environment properties the instance runs with.
    pub config: String,
    /// The version's unpacked bundle (what `/var/app/current` means).
    pub bundle_dir: PathBuf,
    /// Per-instance directory; `awseb-logs-<name>` volumes live in `logs/<name>` under it.
    pub log_dir: PathBuf,
    /// Per-instance directory for volumes without a host path.
    pub volume_dir: PathBuf,
}

/// One container to create, with what must hold before it starts.
#[derive(Debug, Clone)]
pub struct PlannedContainer {
    /// Name in the definition file.
    pub name: String,
    pub spec: ContainerSpec,
    /// (definition name of the dependency, condition) to wait for before starting.
    pub wait_for: Vec<(String, DependencyCondition)>,
    /// Definition names that must be created and started first: link targets (their names
    /// must resolve when this one starts), volumesFrom sources and dependsOn dependencies.
    pub after: Vec<String>,
    /// Definition names of the containers this one takes volumes from: they must exist before
    /// this one is created (a subset of `after`).
    pub volumes_from: Vec<String>,
}

impl InstancePlan {
    /// Containers grouped in start waves: every container comes one wave after the last of its
    /// `after` dependencies, so each wave can be started concurrently.
    pub fn waves(&self) -> Vec<Vec<&PlannedContainer>> {
        self.waves_over(|c| &c.after)
    }

    /// Containers grouped in create waves: only volumesFrom sources must exist first.
    pub fn create_waves(&self) -> Vec<Vec<&PlannedContainer>> {
        self.waves_over(|c| &c.volumes_from)
    }

    /// Waves where every container comes one wave after the last of `deps`.
    fn waves_over(&self, deps: impl Fn(&PlannedContainer) -> &[String]) -> Vec<Vec<&PlannedContainer>> {
        let mut wave_of: BTreeMap<&str, usize> = BTreeMap::new();
        // `containers` is in start order (which respects every dependency), so each
        // dependency's wave is known before it is used.
        for c in &self.containers {
            let w = deps(c).iter().filter_map(|d| wave_of.get(d.as_str())).map(|w| w + 1).max().unwrap_or(0);
            wave_of.insert(&c.name, w);
        }
        let mut waves: Vec<Vec<&PlannedContainer>> = Vec::new();
        for c in &self.containers {
            let w = wave_of[c.name.as_str()];
            if waves.len() <= w {
                waves.resize_with(w + 1, Vec::new);
            }
            waves[w].push(c);
        }
        waves
    }
}

/// The instance's network and its containers in start order.
#[derive(Debug, Clone)]
pub struct InstancePlan {
    pub network: NetworkSpec,
    pub containers: Vec<PlannedContainer>,
    /// Host directories to create before the containers (log and empty volumes).
    pub dirs: Vec<PathBuf>,
    /// Bundle paths a container mounts read-write: each instance gets its own copy (made before
    /// the containers), so no container can change the stored, immutable version.
    pub copies: Vec<BundleCopy>,
}

/// A part of the version's bundle copied for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleCopy {
    pub from: PathBuf,
    pub to: PathBuf,
}

/// Where an instance's copies of read-write bundle paths live: under its volumes directory (so
/// they go with the instance), in a name no Dockerrun volume can take (volume names have no dot).
const BUNDLE_COPIES: &str = ".bundle";

pub fn instance_labels(id: &InstanceIdentity) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_SERVER.to_string(), id.server.clone()),
        (LABEL_APP.to_string(), id.app.clone()),
        (LABEL_ENV.to_string(), id.env.clone()),
        (LABEL_INSTANCE.to_string(), id.instance.clone()),
        (LABEL_VERSION.to_string(), id.version.clone()),
        (LABEL_LAUNCHED_AT.to_string(), id.launched_at.to_string()),
        (LABEL_CONFIG.to_string(), id.config.clone()),
    ])
}

/// A short hash of the environment properties; empty when there are none, so instances
/// launched without properties need no label to match.
pub fn config_hash(variables: &BTreeMap<String, String>) -> String {
    config_hash_with(variables, &BTreeMap::new())
}

/// `config_hash` over the properties and the secrets' versions (never their values, which
/// would then be guessable from a label): setting a secret again changes the hash, so the
/// instances are replaced to take it. Without secrets it is `config_hash`, so instances
/// launched before secrets existed stay current.
pub fn config_hash_with(variables: &BTreeMap<String, String>, secret_versions: &BTreeMap<String, i64>) -> String {
    use sha2::{Digest, Sha256};
    if variables.is_empty() && secret_versions.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    for (k, v) in variables {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    for (k, v) in secret_versions {
        // A NUL cannot start a property name: these never collide with a property's fields.
        field(&mut h, format!("\0secret {k}").as_bytes());
        field(&mut h, &v.to_le_bytes());
    }
    hex::encode(&h.finalize()[..6])
}

/// Map a Dockerrun to the engine specs of one instance. `variables` (the environment's
/// properties) are added to every container and win over the file's values.
pub fn plan_instance(def: &Dockerrun, id: &InstanceIdentity, variables: &BTreeMap<String, String>) -> InstancePlan {
    plan_instance_with_secrets(def, id, variables, &BTreeMap::new())
}

/// `plan_instance` with the environment's secrets, opened: each is added to every container
/// like a property (and wins over one), and a container's `secrets` entries name theirs. A
/// secret a container names that is missing here is left out (the deploy checked it was set).
pub fn plan_instance_with_secrets(
    def: &Dockerrun,
    id: &InstanceIdentity,
    variables: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> InstancePlan {
    let mut merged = variables.clone();
    merged.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    let variables = &merged;
    let net = names::network_name(&id.app, &id.env, &id.instance);
    let labels = instance_labels(id);
    let mut host = HostPaths::default();

    // Links give the target an extra alias on the instance network (a user-defined network
    // resolves names, so links need no legacy `--link`).
    let mut aliases: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in &def.container_definitions {
        aliases.entry(&c.name).or_default().insert(c.name.clone());
        for l in &c.links {
            aliases.entry(&l.name).or_default().insert(l.alias.clone());
        }
    }

    let mut containers = Vec::new();
    for c in start_order(def) {
        let mut spec = container_spec(def, c, id, &net, &labels, variables, &aliases, &mut host);
        for r in &c.secrets {
            if let Some(value) = secrets.get(&r.secret) {
                spec.env.retain(|(k, _)| k != &r.name);
                spec.env.push((r.name.clone(), value.clone()));
            }
        }
        let wait_for = c.depends_on.iter().map(|d| (d.container_name.clone(), d.condition)).collect();
        let volumes_from: Vec<String> = c.volumes_from.iter().map(|v| v.source_container.clone()).collect();
        let mut after: Vec<String> = c.links.iter().map(|l| l.name.clone()).collect();
        after.extend(volumes_from.iter().cloned());
        after.extend(c.depends_on.iter().map(|d| d.container_name.clone()));
        after.sort();
        after.dedup();
        containers.push(PlannedContainer { name: c.name.clone(), spec, wait_for, after, volumes_from });
    }
    InstancePlan {
        network: NetworkSpec { name: net, labels, subnet: None, placement: Vec::new() },
        containers,
        dirs: host.dirs,
        copies: host.copies,
    }
}

/// Host paths an instance needs prepared before its containers start.
#[derive(Default)]
struct HostPaths {
    dirs: Vec<PathBuf>,
    copies: Vec<BundleCopy>,
}

/// The bundle path or host path a volume's `sourcePath` names.
pub fn resolve_source(source: &str, bundle_dir: &Path) -> PathBuf {
    match source.strip_prefix(BUNDLE_PREFIX) {
        Some(rest) => bundle_dir.join(rest.trim_start_matches('/')),
        None => PathBuf::from(source),
    }
}

#[allow(clippy::too_many_arguments)]
fn container_spec(
    def: &Dockerrun,
    c: &ContainerDefinition,
    id: &InstanceIdentity,
    net: &str,
    labels: &BTreeMap<String, String>,
    variables: &BTreeMap<String, String>,
    aliases: &BTreeMap<&str, BTreeSet<String>>,
    host: &mut HostPaths,
) -> ContainerSpec {
    let dirs = &mut host.dirs;
    let mut all_labels: BTreeMap<String, String> = c.docker_labels.clone();
    // Sprout's own labels win: adoption after a restart depends on them.
    all_labels.extend(labels.clone());
    all_labels.insert(LABEL_CONTAINER.into(), c.name.clone());
    all_labels.insert(LABEL_ESSENTIAL.into(), c.essential.to_string());

    let mut env: Vec<(String, String)> = c
        .environment
        .iter()
        .filter(|e| !variables.contains_key(&e.name))
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    env.extend(variables.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut binds = Vec::new();
    for m in &c.mount_points {
        let source = if let Some(owner) =
            m.source_volume.strip_prefix(LOG_VOLUME_PREFIX).filter(|_| def.volume(&m.source_volume).is_none())
        {
            let dir = id.log_dir.join(owner);
            dirs.push(dir.clone());
            dir
        } else {
            match def.volume(&m.source_volume).and_then(|v| v.source_path.as_deref()) {
                // A stored version never changes: read-only mounts of the bundle bind it as is,
                // read-write ones bind this instance's own copy.
                Some(src) if src.starts_with(BUNDLE_PREFIX) && !m.read_only => {
                    let copy = resolve_source(src, &id.volume_dir.join(BUNDLE_COPIES));
                    host.copies.push(BundleCopy { from: resolve_source(src, &id.bundle_dir), to: copy.clone() });
                    copy
                }
                Some(src) => resolve_source(src, &id.bundle_dir),
                None => {
                    let dir = id.volume_dir.join(&m.source_volume);
                    dirs.push(dir.clone());
                    dir
                }
            }
        };
        binds.push(Bind {
            source: source.to_string_lossy().into_owned(),
            target: m.container_path.clone(),
            read_only: m.read_only,
        });
    }

    let ports = c
        .port_mappings
        .iter()
        .filter(|p| p.host_port.is_some())
        .map(|p| PortSpec {
            container_port: p.container_port,
            protocol: p.protocol.as_str().to_string(),
            // Every host port is published on loopback, on an ephemeral port: instances of one
            // environment share the machine, and the load balancer is the public door.
            host_ip: "127.0.0.1".into(),
            host_port: None,
        })
        .collect();

    ContainerSpec {
        name: names::container_name(&id.app, &id.env, &id.instance, &c.name),
        image: c.image.clone(),
        labels: all_labels,
        network: net.to_string(),
        aliases: aliases.get(c.name.as_str()).map(|s| s.iter().cloned().collect()).unwrap_or_default(),
        env,
        command: c.command.clone(),
        entrypoint: c.entry_point.clone(),
        working_dir: c.working_directory.clone(),
        user: c.user.clone(),
        hostname: c.hostname.clone(),
        privileged: c.privileged,
        readonly_rootfs: c.readonly_root_filesystem,
        memory_bytes: c.memory.map(|m| (m as i64) * 1024 * 1024),
        memory_reservation_bytes: c.memory_reservation.map(|m| (m as i64) * 1024 * 1024),
        cpu_shares: c.cpu.map(|v| v.max(2) as i64),
        binds,
        volumes_from: c
            .volumes_from
            .iter()
            .map(|v| {
                let name = names::container_name(&id.app, &id.env, &id.instance, &v.source_container);
                format!("{name}:{}", if v.read_only { "ro" } else { "rw" })
            })
            .collect(),
        ports,
        extra_hosts: c.extra_hosts.iter().map(|h| format!("{}:{}", h.hostname, h.ip_address)).collect(),
        dns: c.dns_servers.clone(),
        ulimits: c
            .ulimits
            .iter()
            .map(|u| UlimitSpec { name: u.name.clone(), soft: u.soft_limit, hard: u.hard_limit })
            .collect(),
        log_config: c
            .log_configuration
            .as_ref()
            .map(|l| LogConfigSpec { driver: l.log_driver.clone(), options: l.options.clone() }),
        healthcheck: c.health_check.as_ref().map(|h| HealthcheckSpec {
            test: h.command.clone(),
            interval_s: h.interval.unwrap_or(0),
            timeout_s: h.timeout.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
            start_period_s: h.start_period.unwrap_or(0),
        }),
        tty: false,
        open_stdin: false,
    }
}

/// Containers ordered so that every link target, volumesFrom source and dependsOn dependency
/// comes first; ties keep file order. Validation has already refused cycles; should one slip
/// through, the remaining containers follow in file order rather than looping.
pub fn start_order(def: &Dockerrun) -> Vec<&ContainerDefinition> {
    let deps = |c: &ContainerDefinition| -> Vec<String> {
        let mut d: Vec<String> = c.links.iter().map(|l| l.name.clone()).collect();
        d.extend(c.volumes_from.iter().map(|v| v.source_container.clone()));
        d.extend(c.depends_on.iter().map(|v| v.container_name.clone()));
        d
    };
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    while out.len() < def.container_definitions.len() {
        let next = def.container_definitions.iter().find(|c| {
            !placed.contains(c.name.as_str())
                && deps(c).iter().all(|d| placed.contains(d.as_str()) || def.container(d).is_none())
        });
        let next = next.or_else(|| def.container_definitions.iter().find(|c| !placed.contains(c.name.as_str())));
        let Some(c) = next else { break };
        placed.insert(&c.name);
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
