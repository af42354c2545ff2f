//! How one container connects to the instance and to the others: `portMappings`, `links`,
//! `volumesFrom`, `mountPoints` and `dependsOn`, each reference resolved against the names
//! the file defines.
//!
//! Not cycle detection (it needs every edge first): the edges are recorded here and checked in
//! `checks`.

use serde_json::Value;

use super::ctx::{Ctx, Object};
use super::hints::{candidates, compose_port, near_miss};
use super::limits::MAX_CANDIDATES;
use super::locate::child_key;
use super::walk::Shared;
use crate::{
    ContainerDependency, DependencyCondition, LOG_VOLUME_PREFIX, Link, MountPoint, PortMapping, Protocol, VolumeFrom,
};

pub(crate) fn port_mappings(ctx: &mut Ctx, shared: &mut Shared, obj: &Object, path: &str) -> Vec<PortMapping> {
    let keys = ["hostPort", "containerPort", "protocol"];
    let hint = |v: &Value| compose_port(v).map(|m| format!("write it as {m}"));
    let mut out = Vec::new();
    for (p, m) in ctx.object_list(obj, path, "portMappings", "a port mapping", &keys, hint) {
        let container_port = match m.get("containerPort") {
            None | Some(Value::Null) => {
                ctx.error_hint(
                    &p,
                    "port mapping has no `containerPort`",
                    "add \"containerPort\": the port the process listens on",
                );
                None
            }
            Some(_) => port(ctx, m, &p, "containerPort"),
        };
        // hostPort 0 (or none) publishes nothing: the port is reachable on the instance network.
        let host_port = match m.get("hostPort") {
            Some(Value::Number(n)) if n.as_u64() == Some(0) => None,
            _ => port(ctx, m, &p, "hostPort"),
        };
        let protocol = match ctx.opt_string(m, &p, "protocol").as_deref() {
            None | Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some(other) => {
                let message = format!("protocol `{other}` is neither `tcp` nor `udp`");
                ctx.error_hint(&child_key(&p, "protocol"), message, format!("use \"{}\"", other.to_lowercase()));
                continue;
            }
        };
        if let Some(h) = host_port {
            if let Some(first) = shared.host_ports.get(&(h, protocol)) {
                ctx.error_hint(
                    &child_key(&p, "hostPort"),
                    format!("host port {h}/{} is already mapped at {first}", protocol.as_str()),
                    "an instance publishes each host port once; change one hostPort or remove a mapping",
                );
            } else {
                shared.host_ports.insert((h, protocol), p.clone());
            }
        }
        if let Some(container_port) = container_port {
            out.push(PortMapping { host_port, container_port, protocol });
        }
    }
    out
}

fn port(ctx: &mut Ctx, m: &Object, path: &str, key: &str) -> Option<u16> {
    let n = ctx.opt_int(m, path, key)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            ctx.error_hint(&child_key(path, key), format!("`{key}` {n} is out of range"), "ports are 1 to 65535");
            None
        }
    }
}

pub(crate) fn links(ctx: &mut Ctx, shared: &mut Shared, obj: &Object, path: &str, me: &str) -> Vec<Link> {
    let list = ctx.opt_string_list(obj, path, "links").unwrap_or_default();
    let mut out = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let p = format!("{}[{i}]", child_key(path, "links"));
        let (name, alias) = text.split_once(':').unwrap_or((text, text));
        if name.is_empty() || alias.is_empty() {
            ctx.error_hint(
                &p,
                format!("link `{text}` is not `name` or `name:alias`"),
                "write \"db\" or \"db:database\"",
            );
            continue;
        }
        if reference(ctx, shared, &p, "links to", name, me) {
            out.push(Link { name: name.to_string(), alias: alias.to_string() });
        }
    }
    out
}

pub(crate) fn volumes_from(ctx: &mut Ctx, shared: &mut Shared, obj: &Object, path: &str, me: &str) -> Vec<VolumeFrom> {
    let keys = ["sourceContainer", "readOnly"];
    let mut out = Vec::new();
    for (p, v) in ctx.object_list(obj, path, "volumesFrom", "a volumesFrom entry", &keys, |_| None) {
        let source = ctx.req_string(v, &p, "sourceContainer", "the volumesFrom entry");
        let read_only = ctx.opt_bool(v, &p, "readOnly").unwrap_or(false);
        let Some(source) = source else { continue };
        if reference(ctx, shared, &child_key(&p, "sourceContainer"), "takes volumes from", &source, me) {
            out.push(VolumeFrom { source_container: source, read_only });
        }
    }
    out
}

pub(crate) fn mount_points(ctx: &mut Ctx, shared: &Shared, obj: &Object, path: &str) -> Vec<MountPoint> {
    let keys = ["sourceVolume", "containerPath", "readOnly"];
    let mut out = Vec::new();
    for (p, m) in ctx.object_list(obj, path, "mountPoints", "a mount point", &keys, |_| None) {
        let volume = ctx.req_string(m, &p, "sourceVolume", "the mount point");
        let container_path = ctx.req_string(m, &p, "containerPath", "the mount point");
        let read_only = ctx.opt_bool(m, &p, "readOnly").unwrap_or(false);
        if let Some(cp) = container_path.as_deref().filter(|cp| !cp.starts_with('/')) {
            let message = format!("containerPath `{cp}` is not an absolute path");
            ctx.error_hint(&child_key(&p, "containerPath"), message, format!("use an absolute path, e.g. /{cp}"));
        }
        let Some(volume) = volume else { continue };
        let vp = child_key(&p, "sourceVolume");
        if let Some(container) = volume.strip_prefix(LOG_VOLUME_PREFIX) {
            if !shared.containers.iter().any(|c| c == container) {
                ctx.error_with(&vp, format!("log volume `{volume}` names no container of this file"), || {
                    let names = candidates(container, &names(&shared.containers));
                    format!("`{LOG_VOLUME_PREFIX}<name>` must name a container: one of {names}")
                });
            }
        } else if !shared.volume_names.contains(&volume) {
            ctx.error_with(&vp, format!("mount of unknown volume `{volume}`"), || {
                let volumes = names(&shared.volumes);
                match near_miss(&volume, &volumes) {
                    Some(v) => format!("did you mean `{v}`?"),
                    None if volumes.is_empty() => format!(
                        "define it in the top-level \"volumes\": [{{\"name\": {}, \"host\": {{\"sourcePath\": \"/data\"}}}}]",
                        Value::from(volume.as_str())
                    ),
                    None => format!("define it in the top-level `volumes` or use one of {}", candidates(&volume, &volumes)),
                }
            });
        }
        if let Some(container_path) = container_path {
            out.push(MountPoint { source_volume: volume, container_path, read_only });
        }
    }
    out
}

pub(crate) fn depends_on(
    ctx: &mut Ctx,
    shared: &mut Shared,
    obj: &Object,
    path: &str,
    me: &str,
) -> Vec<ContainerDependency> {
    let keys = ["containerName", "condition"];
    let mut out = Vec::new();
    for (p, d) in ctx.object_list(obj, path, "dependsOn", "a dependsOn entry", &keys, |_| None) {
        let name = ctx.req_string(d, &p, "containerName", "the dependsOn entry");
        let condition = ctx.req_string(d, &p, "condition", "the dependsOn entry");
        let condition = condition.and_then(|c| {
            let parsed = match c.as_str() {
                "START" => DependencyCondition::Start,
                "COMPLETE" => DependencyCondition::Complete,
                "SUCCESS" => DependencyCondition::Success,
                "HEALTHY" => DependencyCondition::Healthy,
                _ => {
                    let message = format!("dependsOn condition `{c}` is not one of START, COMPLETE, SUCCESS, HEALTHY");
                    ctx.error_hint(
                        &child_key(&p, "condition"),
                        message,
                        "use START, COMPLETE, SUCCESS or HEALTHY (upper case)",
                    );
                    return None;
                }
            };
            Some(parsed)
        });
        let Some(name) = name else { continue };
        if !reference(ctx, shared, &child_key(&p, "containerName"), "depends on", &name, me) {
            continue;
        }
        let cp = child_key(&p, "condition");
        match condition {
            Some(DependencyCondition::Healthy) if !shared.with_health_check.contains(&name) => ctx.error_hint(
                &cp,
                format!("`{me}` waits for `{name}` to be HEALTHY, but `{name}` has no healthCheck"),
                format!("add a healthCheck to `{name}`, or use condition START"),
            ),
            Some(c @ (DependencyCondition::Complete | DependencyCondition::Success))
                if !shared.non_essential.contains(&name) =>
            {
                ctx.error_hint(
                    &cp,
                    format!(
                        "`{me}` waits for essential container `{name}` to exit ({}), which stops the instance",
                        c.as_str()
                    ),
                    format!("set \"essential\": false on `{name}`, or use condition START or HEALTHY"),
                )
            }
            _ => {}
        }
        if let Some(condition) = condition {
            out.push(ContainerDependency { container_name: name, condition });
        }
    }
    out
}

/// Resolves a reference from container `me` to container `name`; records the start-order edge.
/// False (with an error) when it names no container, or `me` itself.
fn reference(ctx: &mut Ctx, shared: &mut Shared, path: &str, verb: &str, name: &str, me: &str) -> bool {
    if name == me {
        ctx.error_hint(path, format!("container `{me}` {verb} itself"), "remove this entry");
        return false;
    }
    if !shared.containers.iter().any(|c| c == name) {
        let message = format!("`{}` {verb} `{name}`, which is not a container of this file", display(me));
        ctx.error_with(path, message, || {
            let names = names(&shared.containers);
            match near_miss(name, &names) {
                Some(n) => format!("did you mean `{n}`?"),
                None if names.len() > MAX_CANDIDATES => {
                    format!("the closest containers are {}", candidates(name, &names))
                }
                None => format!("the containers are {}", candidates(name, &names)),
            }
        });
        return false;
    }
    shared.edges.push((me.to_string(), name.to_string(), path.to_string()));
    true
}

fn display(me: &str) -> &str {
    if me.is_empty() { "this container" } else { me }
}

fn names(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}
