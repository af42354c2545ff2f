//! The top level of a Dockerrun v2 file: version, volumes, authentication, and the list of
//! container definitions (each walked by `container`). Also the facts every container's walk
//! needs about the others (`Shared`), gathered before and during the walk.
//!
//! Not the cross-container rules that need the whole file at once: those are in `checks`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::container::walk_container;
use super::ctx::{Ctx, field};
use super::hints::near_miss;
use super::limits::MAX_CONTAINERS;
use super::locate::{child_index, child_key};
use crate::{Authentication, Dockerrun, Protocol, Volume};

const TOP_LEVEL_KEYS: &[&str] = &["AWSEBDockerrunVersion", "containerDefinitions", "volumes", "authentication"];

/// What one container's walk needs to know about the rest of the file.
#[derive(Default)]
pub(crate) struct Shared {
    /// Every container `name` the file gives, read loosely before the walk so that a link to a
    /// container defined further down resolves.
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    /// The same names, for lookups: a file may mount thousands of times.
    pub volume_names: HashSet<String>,
    /// Containers that define a `healthCheck` (a `HEALTHY` dependency needs one).
    pub with_health_check: Vec<String>,
    /// Containers that say `"essential": false`.
    pub non_essential: Vec<String>,
    /// First path each container name was seen at, to report duplicates.
    pub name_paths: HashMap<String, String>,
    /// First mapping of each host port, to report a second one.
    pub host_ports: HashMap<(u16, Protocol), String>,
    /// Start-order edges (from, to, path of the reference) from links, volumesFrom and dependsOn.
    pub edges: Vec<(String, String, String)>,
}

impl Shared {
    fn scan(root: &Value) -> Shared {
        let mut shared = Shared::default();
        let containers = root.get("containerDefinitions").and_then(Value::as_array);
        for c in containers.into_iter().flatten() {
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            shared.containers.push(name.to_string());
            if c.get("healthCheck").is_some_and(|h| !h.is_null()) {
                shared.with_health_check.push(name.to_string());
            }
            if c.get("essential") == Some(&Value::Bool(false)) {
                shared.non_essential.push(name.to_string());
            }
        }
        let volumes = root.get("volumes").and_then(Value::as_array);
        for v in volumes.into_iter().flatten() {
            if let Some(name) = v.get("name").and_then(Value::as_str) {
                shared.volumes.push(name.to_string());
                shared.volume_names.insert(name.to_string());
            }
        }
        shared
    }
}

/// Walks the whole document. Returns what could be read along with the facts the
/// cross-container checks need; the caller decides from `ctx.failed()` whether it is usable.
pub(crate) fn walk(ctx: &mut Ctx, root: &Value) -> Option<(Dockerrun, Shared)> {
    let Value::Object(obj) = root else {
        let message = format!("the file must be a JSON object, found {}", super::ctx::describe(root));
        ctx.error_hint("", message, "start from {\"AWSEBDockerrunVersion\": 2, \"containerDefinitions\": [...]}");
        return None;
    };
    ctx.duplicate_keys();
    // Without `containerDefinitions`, the key that explains why is the one error said.
    let says_version_1 = obj
        .get("AWSEBDockerrunVersion")
        .is_some_and(|v| v.as_u64() == Some(1) || v.as_str().is_some_and(|s| s.trim() == "1"));
    let missing_cause =
        if obj.contains_key("containerDefinitions") { None } else { super::compat::missing_definitions_cause(obj) };
    for key in obj.keys().filter(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        if let Some((at, message, hint)) = missing_cause.as_ref().filter(|(at, _, _)| at == key) {
            // A file that says it is version 1 is told so at its version, once.
            if !says_version_1 {
                ctx.error_hint(&child_key("", at), message.clone(), hint.clone());
            }
            continue;
        }
        if missing_cause.is_some() {
            continue;
        }
        if let Some(note) = super::compat::ignored_top_level(key) {
            ctx.warn(&child_key("", key), format!("`{key}` is ignored: {note}"), None);
            continue;
        }
        let hint = match near_miss(key, TOP_LEVEL_KEYS) {
            _ if matches!(key.as_str(), "services" | "version") => {
                "this looks like a docker-compose file: a Dockerrun file lists containers in `containerDefinitions`"
                    .to_string()
            }
            Some(k) => format!("did you mean `{k}`?"),
            None => "Sprout ignores it; remove it or rename it if it was meant as a setting".to_string(),
        };
        ctx.warn(&child_key("", key), format!("unknown top-level key `{key}` is ignored"), Some(hint));
    }

    let version = version(ctx, obj.get("AWSEBDockerrunVersion"));
    let mut shared = Shared::scan(root);
    let volumes = field(obj, "volumes").map(|v| volumes(ctx, v)).unwrap_or_default();
    let authentication = field(obj, "authentication").and_then(|v| authentication(ctx, v));

    let mut containers = Vec::new();
    match field(obj, "containerDefinitions") {
        None if missing_cause.is_some() => {}
        None => ctx.error_hint(
            "",
            "the file has no `containerDefinitions`",
            "add \"containerDefinitions\": [{\"name\": \"web\", \"image\": \"nginx\", \"memory\": 128, \
             \"portMappings\": [{\"hostPort\": 80, \"containerPort\": 80}]}]",
        ),
        Some(v) => {
            let path = "containerDefinitions";
            if let Some(items) = ctx.array(v, path, path, "an array of container definitions") {
                if items.is_empty() {
                    ctx.error_hint(path, "`containerDefinitions` is empty", "define at least one container");
                }
                // Before any per-container check: a 30,000-container file is refused at once.
                if items.len() > MAX_CONTAINERS {
                    ctx.error_hint(
                        path,
                        format!(
                            "{} container definitions; Sprout allows at most {MAX_CONTAINERS} per definition",
                            items.len()
                        ),
                        "run the containers as several environments, each with its own Dockerrun file",
                    );
                    return None;
                }
                for (i, item) in items.iter().enumerate() {
                    if let Some(c) = walk_container(ctx, &mut shared, item, &child_index(path, i)) {
                        containers.push(c);
                    }
                }
            }
        }
    }
    let dockerrun = Dockerrun { version: version?, volumes, container_definitions: containers, authentication };
    Some((dockerrun, shared))
}

fn version(ctx: &mut Ctx, v: Option<&Value>) -> Option<u32> {
    let path = "AWSEBDockerrunVersion";
    match v {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => Some(2),
        Some(Value::String(s)) if s.trim() == "2" => Some(2),
        None | Some(Value::Null) => {
            ctx.error_hint(
                "",
                "the file has no `AWSEBDockerrunVersion`",
                "add \"AWSEBDockerrunVersion\": 2 at the top level",
            );
            None
        }
        Some(other) if other.as_u64() == Some(1) || other.as_str().is_some_and(|s| s.trim() == "1") => {
            ctx.error_hint(
                path,
                "version 1 is Elastic Beanstalk's single-container format; Sprout runs version 2",
                "rewrite the file as version 2, with a `containerDefinitions` list",
            );
            None
        }
        Some(other) => {
            let message = format!("`AWSEBDockerrunVersion` must be 2, found {}", super::ctx::describe(other));
            ctx.error_hint(path, message, "set \"AWSEBDockerrunVersion\": 2");
            None
        }
    }
}

fn volumes(ctx: &mut Ctx, v: &Value) -> Vec<Volume> {
    let path = "volumes";
    let Some(items) = ctx.array(v, path, path, "an array of {name, host} objects") else {
        return Vec::new();
    };
    let mut out: Vec<Volume> = Vec::new();
    let mut first_path: HashMap<String, String> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = child_index(path, i);
        let Some(obj) = ctx.object(item, &p, &p) else {
            continue;
        };
        ctx.unknown_keys(obj, &p, "a volume", &["name", "host"]);
        let name = ctx.req_string(obj, &p, "name", "the volume");
        let host = field(obj, "host").and_then(|h| ctx.object(h, &child_key(&p, "host"), "host"));
        let source_path = host.and_then(|h| {
            let hp = child_key(&p, "host");
            ctx.unknown_keys(h, &hp, "`host`", &["sourcePath"]);
            let sp = ctx.opt_string(h, &hp, "sourcePath")?;
            if !sp.starts_with('/') {
                ctx.error_hint(
                    &child_key(&hp, "sourcePath"),
                    format!("volume sourcePath `{sp}` is not an absolute path"),
                    format!("use an absolute host path, or {}/{sp} for a path in the bundle", crate::BUNDLE_PREFIX),
                );
                return None;
            }
            Some(sp)
        });
        let Some(name) = name else { continue };
        if !valid_name(&name) {
            ctx.error_hint(
                &child_key(&p, "name"),
                format!("volume name `{name}` has characters other than letters, digits, `-` and `_`"),
                "rename it using only letters, digits, `-` and `_`",
            );
        }
        if let Some(first) = first_path.get(&name) {
            ctx.error_hint(
                &child_key(&p, "name"),
                format!("volume `{name}` is defined twice (first at {first})"),
                "give each volume its own name",
            );
            continue;
        }
        first_path.insert(name.clone(), p.clone());
        out.push(Volume { name, source_path });
    }
    out
}

fn authentication(ctx: &mut Ctx, v: &Value) -> Option<Authentication> {
    let path = "authentication";
    let obj = ctx.object(v, path, path)?;
    ctx.unknown_keys(obj, path, "`authentication`", &["bucket", "key"]);
    let bucket = ctx.req_string(obj, path, "bucket", "`authentication`");
    let key = ctx.req_string(obj, path, "key", "`authentication`");
    Some(Authentication { bucket: bucket?, key: key? })
}

/// Container and volume names: what ECS allows, and what fits in Docker object names.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
