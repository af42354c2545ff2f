//! One entry of `containerDefinitions`: its keys (compose keys and misspellings get hints),
//! identity (name, image), limits (memory, cpu) and flags. Lists that wire containers together
//! are read by `wiring`, runtime settings by `runtime`.
//!
//! Not the rules that need every container at once (cycles, an essential container): `checks`.

use serde_json::Value;

use super::ctx::{Ctx, field};
use super::hints::{compose_key_hint, near_miss};
use super::locate::child_key;
use super::walk::{Shared, valid_name};
use super::{runtime, wiring};
use crate::ContainerDefinition;

/// Docker refuses smaller memory limits; a data-only container in the corpus uses exactly 4.
pub const MIN_MEMORY_MIB: u64 = 4;

pub(crate) const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "essential",
    "memory",
    "memoryReservation",
    "cpu",
    "portMappings",
    "links",
    "volumesFrom",
    "mountPoints",
    "environment",
    "command",
    "entryPoint",
    "workingDirectory",
    "user",
    "hostname",
    "privileged",
    "readonlyRootFilesystem",
    "extraHosts",
    "dnsServers",
    "dockerLabels",
    "ulimits",
    "logConfiguration",
    "healthCheck",
    "dependsOn",
    "secrets",
];

pub(crate) fn walk_container(ctx: &mut Ctx, shared: &mut Shared, v: &Value, path: &str) -> Option<ContainerDefinition> {
    let obj = ctx.object(v, path, path)?;
    for (key, value) in obj.iter().filter(|(k, _)| !CONTAINER_KEYS.contains(&k.as_str())) {
        let child = child_key(path, key);
        if let Some(said) = super::compat::ignored_container_field(key, value) {
            match said {
                Ok(warning) => ctx.warn(&child, warning, None),
                Err(error) => ctx.error_hint(&child, error, "remove it, or run this container elsewhere"),
            }
        } else if let Some(hint) = compose_key_hint(key, value) {
            ctx.error_hint(&child, format!("`{key}` is a docker-compose key, not a Dockerrun one"), hint);
        } else if let Some(k) = near_miss(key, CONTAINER_KEYS) {
            ctx.error_hint(
                &child,
                format!("unknown key `{key}` in a container definition"),
                format!("did you mean `{k}`?"),
            );
        } else {
            ctx.error_hint(
                &child,
                format!("unknown key `{key}` in a container definition"),
                "remove it; Sprout reads the ECS container fields that Elastic Beanstalk passes on",
            );
        }
    }

    let name = ctx.req_string(obj, path, "name", "the container");
    let label = name.clone().unwrap_or_else(|| path.to_string());
    if let Some(n) = &name {
        check_name(ctx, shared, n, path);
    }
    let image = image(ctx, obj, path, &label);
    let essential = ctx.opt_bool(obj, path, "essential").unwrap_or(true);
    let memory = ctx.opt_uint(obj, path, "memory", u64::from(u32::MAX), " of MiB");
    let memory_reservation = ctx.opt_uint(obj, path, "memoryReservation", u64::from(u32::MAX), " of MiB");
    check_memory(ctx, obj, path, &label, memory, memory_reservation);
    let cpu = ctx.opt_uint(obj, path, "cpu", 1 << 20, " of CPU shares");
    let me = name.as_deref().unwrap_or("");

    let container = ContainerDefinition {
        essential,
        memory,
        memory_reservation,
        cpu,
        port_mappings: wiring::port_mappings(ctx, shared, obj, path),
        links: wiring::links(ctx, shared, obj, path, me),
        volumes_from: wiring::volumes_from(ctx, shared, obj, path, me),
        mount_points: wiring::mount_points(ctx, shared, obj, path),
        depends_on: wiring::depends_on(ctx, shared, obj, path, me),
        environment: runtime::environment(ctx, obj, path),
        command: ctx.opt_string_list(obj, path, "command"),
        entry_point: ctx.opt_string_list(obj, path, "entryPoint"),
        working_directory: working_directory(ctx, obj, path),
        user: ctx.opt_string(obj, path, "user"),
        hostname: ctx.opt_string(obj, path, "hostname"),
        privileged: ctx.opt_bool(obj, path, "privileged").unwrap_or(false),
        readonly_root_filesystem: ctx.opt_bool(obj, path, "readonlyRootFilesystem").unwrap_or(false),
        extra_hosts: runtime::extra_hosts(ctx, obj, path),
        dns_servers: runtime::dns_servers(ctx, obj, path),
        docker_labels: ctx.opt_string_map(obj, path, "dockerLabels").unwrap_or_default().into_iter().collect(),
        ulimits: runtime::ulimits(ctx, obj, path),
        log_configuration: runtime::log_configuration(ctx, obj, path),
        health_check: runtime::health_check(ctx, obj, path),
        secrets: super::secrets::secrets(ctx, obj, path),
        name: name?,
        image: image?,
    };
    Some(container)
}

fn check_name(ctx: &mut Ctx, shared: &mut Shared, name: &str, path: &str) {
    let name_path = child_key(path, "name");
    if !valid_name(name) {
        ctx.error_hint(
            &name_path,
            format!("container name `{name}` must be letters, digits, `-` and `_` only"),
            "rename it; other containers refer to it by this name in links, volumesFrom and dependsOn",
        );
    }
    if let Some(first) = shared.name_paths.get(name) {
        let message = format!("container name `{name}` is used twice (first at {first})");
        ctx.error_hint(&name_path, message, "give each container its own name");
    } else {
        shared.name_paths.insert(name.to_string(), path.to_string());
    }
}

fn image(ctx: &mut Ctx, obj: &super::ctx::Object, path: &str, label: &str) -> Option<String> {
    if field(obj, "image").is_none() {
        let hint = if obj.contains_key("build") {
            "Dockerrun runs prebuilt images: build and push the image, then name it in \"image\""
        } else {
            "add \"image\": \"repository/name:tag\""
        };
        ctx.error_hint(path, format!("container `{label}` has no `image`"), hint);
        return None;
    }
    let image = ctx.opt_string(obj, path, "image")?;
    if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
        ctx.error_hint(
            &child_key(path, "image"),
            format!("image {image:?} is not an image reference"),
            "use repository/name:tag",
        );
        return None;
    }
    Some(image)
}

fn check_memory(
    ctx: &mut Ctx,
    obj: &super::ctx::Object,
    path: &str,
    label: &str,
    memory: Option<u64>,
    reservation: Option<u64>,
) {
    // A field that is present but unreadable was reported already; "missing" would be noise.
    let given = |k| field(obj, k).is_some();
    if !given("memory") && !given("memoryReservation") {
        ctx.error_hint(
            path,
            format!("container `{label}` sets neither `memory` nor `memoryReservation`"),
            "set memory (hard limit, MiB) or memoryReservation (soft limit, MiB), e.g. \"memory\": 256",
        );
    }
    for (key, value) in [("memory", memory), ("memoryReservation", reservation)] {
        if let Some(mib) = value.filter(|m| *m < MIN_MEMORY_MIB) {
            let message = format!("`{key}` is {mib} MiB; Docker needs at least {MIN_MEMORY_MIB} MiB");
            ctx.error_hint(&child_key(path, key), message, format!("set {key} to {MIN_MEMORY_MIB} or more"));
        }
    }
    if let (Some(hard), Some(soft)) = (memory, reservation)
        && soft > hard
    {
        ctx.error_hint(
            &child_key(path, "memoryReservation"),
            format!("memoryReservation ({soft} MiB) is above memory ({hard} MiB), the hard limit"),
            "make memoryReservation at most memory, or raise memory",
        );
    }
}

fn working_directory(ctx: &mut Ctx, obj: &super::ctx::Object, path: &str) -> Option<String> {
    let dir = ctx.opt_string(obj, path, "workingDirectory")?;
    if !dir.starts_with('/') {
        ctx.error_hint(
            &child_key(path, "workingDirectory"),
            format!("workingDirectory `{dir}` is not an absolute path"),
            format!("Docker needs an absolute path, e.g. /{dir}"),
        );
    }
    Some(dir)
}
