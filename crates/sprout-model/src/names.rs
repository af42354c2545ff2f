//! Names and labels Sprout gives Docker objects, deterministic so a restarted server adopts
//! what it finds.

/// Label keys on every container and network Sprout creates.
pub const LABEL_APP: &str = "sprout.app";
pub const LABEL_ENV: &str = "sprout.env";
pub const LABEL_INSTANCE: &str = "sprout.instance";
pub const LABEL_VERSION: &str = "sprout.version";
pub const LABEL_CONTAINER: &str = "sprout.container";
/// Marks every object as Sprout's, whatever else it carries.
pub const LABEL_MANAGED: &str = "sprout.managed";
/// The id of the server (its data directory) that owns the object: two servers sharing one
/// Docker engine never touch each other's instances.
pub const LABEL_SERVER: &str = "sprout.server";
/// Label holding the Unix second an instance was launched.
pub const LABEL_LAUNCHED_AT: &str = "sprout.launched-at";
/// Label holding the hash of the environment properties an instance was launched with, so a
/// changed property (`sprout setenv`) replaces instances the way a new version does.
pub const LABEL_CONFIG: &str = "sprout.config";
/// Set on the containers and network of a one-off instance (not part of the environment's
/// capacity, never judged or routed): `release` for a deploy's release task, `run` for
/// `sprout run`. Instances without it are the environment's own.
pub const LABEL_ROLE: &str = "sprout.role";
/// `LABEL_ROLE` of a release task's instance.
pub const ROLE_RELEASE: &str = "release";
/// `LABEL_ROLE` of a `sprout run` instance.
pub const ROLE_RUN: &str = "run";

/// The network of one instance.
pub fn network_name(app: &str, env: &str, instance: &str) -> String {
    format!("sprout-{app}-{env}-{instance}")
}

/// One container of one instance.
pub fn container_name(app: &str, env: &str, instance: &str, container: &str) -> String {
    format!("sprout-{app}-{env}-{instance}-{container}")
}

/// Application and environment names: lowercase letters, digits and `-`, starting with a
/// letter, at most 40 characters, so they fit in host names and Docker names.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{kind} name {name:?} is not valid: use 1-40 lowercase letters, digits and '-', starting with a letter (e.g. \"production\")"
        ))
    }
}

/// Checks a version label: 1-100 characters, none of them whitespace, a control character, '/'
/// or '\\', and not `.` or `..` (labels name files and appear in paths, logs and URLs).
pub fn check_label(label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.chars().count() <= 100
        && !label.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
        && label != "."
        && label != "..";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "version label {label:?} is not valid: use 1-100 characters without spaces, control characters, '/' or '\\' (e.g. \"v1.4.2-20261130\")"
        ))
    }
}

/// Checks an environment variable: a POSIX-ish name (letters, digits, `_`, `.`, `-`, not
/// starting with a digit; at most 256 characters) and a value without NUL (the kernel cannot
/// pass one), at most 32 KiB.
pub fn check_variable(name: &str, value: &str) -> Result<(), String> {
    let name_ok = !name.is_empty()
        && name.len() <= 256
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !name_ok {
        return Err(format!("{name:?} is not a valid variable name"));
    }
    if value.contains('\0') || value.len() > 32 * 1024 {
        return Err(format!("the value of {name} holds a NUL character or is longer than 32 KiB"));
    }
    Ok(())
}

/// What the planner compares to decide an instance is current: version label and properties.
/// `/` cannot appear in a label, so the key splits back unambiguously.
pub fn deploy_key(version: &str, config: &str) -> String {
    if config.is_empty() { version.to_string() } else { format!("{version}/{config}") }
}

/// The version label of a deploy key.
pub fn key_version(key: &str) -> &str {
    key.split_once('/').map_or(key, |(v, _)| v)
}
