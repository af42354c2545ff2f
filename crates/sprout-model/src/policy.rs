//! The host access policy: what an application's containers may reach on the host, set by an
//! administrator (`sprout policy set APP ...`). By default nothing outside the version's bundle
//! and the instance's own directories: no host path, so no Docker socket and no `/proc`, and no
//! `privileged` container. Whoever may deploy must not be root on the host by way of a
//! definition file. (A container's own `user`, root included, is the image's business.)
//!
//! Pure: paths are resolved by the caller (`resolve`: symlinks followed, `..` removed), here only
//! compared. Not here: storing the policy, or enforcing it at upload and launch (the server).

use serde::{Deserialize, Serialize};

use crate::dockerrun::{BUNDLE_PREFIX, Dockerrun};

/// What an application's containers may reach on the host beyond their bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostAccessPolicy {
    /// Host paths (files or directories, and what is below them) that volumes may mount.
    pub allow_host_paths: Vec<String>,
    pub allow_privileged: bool,
}

/// One thing a definition asks for that the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAccessViolation {
    pub container: String,
    /// The field path in the definition (`containerDefinitions[1].mountPoints[0]`).
    pub field: String,
    /// The host path as resolved, for a mount.
    pub path: Option<String>,
    /// What the user reads: what is refused, and the command that would allow it.
    pub message: String,
}

/// Lexically normalises an absolute path: `.` and `..` removed, repeated `/` merged; `..` never
/// climbs above `/`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn is_within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Everything `def` asks of the host that `policy` does not allow. `app` names the application
/// in the advice; `resolve` turns a host path into its real location (symlinks followed).
pub fn check_host_access(
    def: &Dockerrun,
    policy: &HostAccessPolicy,
    app: &str,
    resolve: &dyn Fn(&str) -> String,
) -> Vec<HostAccessViolation> {
    let allowed: Vec<String> = policy.allow_host_paths.iter().map(|p| resolve(&normalize(p))).collect();
    let mut out = Vec::new();
    for (i, c) in def.container_definitions.iter().enumerate() {
        if c.privileged && !policy.allow_privileged {
            out.push(HostAccessViolation {
                container: c.name.clone(),
                field: format!("containerDefinitions[{i}].privileged"),
                path: None,
                message: format!(
                    "container {} asks to run privileged, which gives it the host; allow it with `sprout policy set {app} --allow-privileged` if it must",
                    c.name
                ),
            });
        }
        for (j, m) in c.mount_points.iter().enumerate() {
            let Some(source) = def.volume(&m.source_volume).and_then(|v| v.source_path.as_deref()) else { continue };
            let field = format!("containerDefinitions[{i}].mountPoints[{j}]");
            if source.split('/').any(|part| part == "..") {
                // `..` after a link means something else to the kernel than to a string
                // comparison: a path with one is never compared, it is refused.
                out.push(HostAccessViolation {
                    container: c.name.clone(),
                    field,
                    path: Some(source.to_string()),
                    message: format!(
                        "container {} mounts volume {} from {source}, a path with `..`; give the path without `..` (bundle paths must stay below {BUNDLE_PREFIX})",
                        c.name, m.source_volume
                    ),
                });
                continue;
            }
            let lexical = normalize(source);
            if is_within(&lexical, BUNDLE_PREFIX) {
                // Inside the bundle: always allowed (the bundle is checked for links out of it).
                continue;
            }
            let escapes_bundle = source.starts_with(BUNDLE_PREFIX);
            let real = resolve(&lexical);
            if !escapes_bundle && allowed.iter().any(|a| is_within(&real, a)) {
                continue;
            }
            let message = if escapes_bundle {
                format!(
                    "container {} mounts volume {} at {}, whose path {source} leaves the bundle (it is {real} on the host); bundle paths must stay below {BUNDLE_PREFIX}",
                    c.name, m.source_volume, m.container_path
                )
            } else {
                format!(
                    "container {} mounts host path {real} (volume {}) at {}, which the application's host access policy does not allow; an administrator can allow it with `sprout policy set {app} --allow-host-path {source}`",
                    c.name, m.source_volume, m.container_path
                )
            };
            out.push(HostAccessViolation { container: c.name.clone(), field, path: Some(real), message });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(volumes: &str, mounts: &str, privileged: bool) -> Dockerrun {
        let text = format!(
            r#"{{"AWSEBDockerrunVersion": 2, "volumes": [{volumes}],
                "containerDefinitions": [{{"name": "agent", "image": "a:1", "memory": 32, "privileged": {privileged},
                  "mountPoints": [{mounts}]}}]}}"#
        );
        crate::load_dockerrun("Dockerrun.aws.json", &text).unwrap().dockerrun
    }

    fn host(path: &str) -> String {
        format!(r#"{{"name": "v", "host": {{"sourcePath": "{path}"}}}}"#)
    }

    const MOUNT: &str = r#"{"sourceVolume": "v", "containerPath": "/mnt"}"#;

    /// `/var/run` is a link to `/run` here, as on many hosts.
    fn resolve(p: &str) -> String {
        match p.strip_prefix("/var/run") {
            Some(rest) => format!("/run{rest}"),
            None => p.to_string(),
        }
    }

    #[test]
    fn by_default_nothing_outside_the_bundle() {
        let none = HostAccessPolicy::default();
        for path in ["/", "/var/run/docker.sock", "/proc", "/tmp"] {
            let v = check_host_access(&def(&host(path), MOUNT, false), &none, "shop", &resolve);
            assert_eq!(v.len(), 1, "{path}");
            assert_eq!(v[0].field, "containerDefinitions[0].mountPoints[0]");
            assert!(v[0].message.contains("sprout policy set shop --allow-host-path"), "{}", v[0].message);
        }
        assert!(
            check_host_access(&def(&host("/var/app/current/conf"), MOUNT, false), &none, "shop", &resolve).is_empty()
        );
    }

    #[test]
    fn a_path_with_dot_dot_is_refused_whatever_the_policy() {
        let all = HostAccessPolicy { allow_host_paths: vec!["/".into()], allow_privileged: true };
        for path in ["/var/app/current/../../../etc", "/var/app/current/conf/../x", "/proc/1/root/../etc"] {
            let v = check_host_access(&def(&host(path), MOUNT, false), &all, "shop", &resolve);
            assert_eq!(v.len(), 1, "{path}");
            assert!(v[0].message.contains("a path with `..`"), "{}", v[0].message);
        }
    }

    #[test]
    fn allowed_paths_are_compared_resolved_on_both_sides() {
        let monitor = HostAccessPolicy {
            allow_host_paths: vec!["/var/run/docker.sock".into(), "/proc".into()],
            ..Default::default()
        };
        for path in ["/var/run/docker.sock", "/run/docker.sock", "/proc", "/proc/1/stat"] {
            assert!(
                check_host_access(&def(&host(path), MOUNT, false), &monitor, "shop", &resolve).is_empty(),
                "{path}"
            );
        }
        for path in ["/run", "/procfs", "/etc/shadow"] {
            assert_eq!(
                check_host_access(&def(&host(path), MOUNT, false), &monitor, "shop", &resolve).len(),
                1,
                "{path}"
            );
        }
    }

    #[test]
    fn privileged_needs_its_own_allowance() {
        let v = check_host_access(
            &def(&host("/var/app/current/x"), MOUNT, true),
            &HostAccessPolicy::default(),
            "shop",
            &resolve,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "containerDefinitions[0].privileged");
        let allowed = HostAccessPolicy { allow_privileged: true, ..Default::default() };
        assert!(
            check_host_access(&def(&host("/var/app/current/x"), MOUNT, true), &allowed, "shop", &resolve).is_empty()
        );
    }
}
