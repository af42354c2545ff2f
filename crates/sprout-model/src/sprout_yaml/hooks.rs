//! The `hooks:` section: lifecycle hooks per container definition, like Kubernetes' container
//! lifecycle hooks. `pre_stop` runs inside the container when its instance leaves (after it left
//! the load balancer, before SIGTERM); `post_start` runs inside it once the instance's containers
//! have started. Each is an argv and a timeout; the server cuts a hook at its timeout.
//!
//! ```yaml
//! hooks:
//!   monitor:
//!     pre_stop: {command: ["/monitor", "retire"], timeout: 10}
//! ```
//!
//! Not here: running them (sprout-server's `instance::hooks`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Found;
use crate::Dockerrun;

/// The section's key.
pub const SECTION: &str = "hooks";
/// A hook's timeout when the file gives none.
pub const DEFAULT_TIMEOUT_S: u64 = 10;
/// The longest a hook may run: a hook holds up a stop, and a stop must end.
pub const MAX_TIMEOUT_S: u64 = 300;
/// The most arguments and bytes a command may have.
const MAX_ARGS: usize = 64;
const MAX_ARG_BYTES: usize = 4096;

/// Which moment of a container's life a hook runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    PreStop,
    PostStart,
}

impl HookPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::PreStop => "pre_stop",
            HookPoint::PostStart => "post_start",
        }
    }
}

/// One hook: the argv run in the container and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub command: Vec<String>,
    pub timeout_s: u64,
}

/// The hooks of one container definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerHooks {
    pub pre_stop: Option<Hook>,
    pub post_start: Option<Hook>,
}

impl ContainerHooks {
    pub fn get(&self, point: HookPoint) -> Option<&Hook> {
        match point {
            HookPoint::PreStop => self.pre_stop.as_ref(),
            HookPoint::PostStart => self.post_start.as_ref(),
        }
    }
}

/// Hooks by container definition name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks(pub BTreeMap<String, ContainerHooks>);

impl Hooks {
    /// `(container, hook)` for every container with a hook at `point`, in name order.
    pub fn at(&self, point: HookPoint) -> Vec<(&str, &Hook)> {
        self.0.iter().filter_map(|(c, h)| h.get(point).map(|h| (c.as_str(), h))).collect()
    }
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|h| h.pre_stop.is_none() && h.post_start.is_none())
    }
}

/// Check the section's value against the bundle's definition; every problem goes to `found`.
pub fn check(value: &Value, dockerrun: &Dockerrun, found: &mut Found) -> Hooks {
    let mut hooks = Hooks::default();
    let map = match value {
        Value::Null => return hooks,
        Value::Object(m) => m,
        _ => {
            found.error(
                SECTION,
                "`hooks` must be a mapping of container names",
                Some("e.g. `hooks: {monitor: {pre_stop: {command: [...], timeout: 10}}}`"),
            );
            return hooks;
        }
    };
    let names: Vec<&str> = dockerrun.container_definitions.iter().map(|c| c.name.as_str()).collect();
    for (container, v) in map {
        let path = format!("{SECTION}.{container}");
        if !names.contains(&container.as_str()) {
            let hint = format!("the containers of Dockerrun.aws.json are: {}", names.join(", "));
            found.error(&path, format!("no container definition is named `{container}`"), Some(&hint));
            continue;
        }
        let Value::Object(points) = v else {
            found.error(&path, "must be a mapping with `pre_stop` and/or `post_start`", None);
            continue;
        };
        let mut ch = ContainerHooks::default();
        for (point, hv) in points {
            let hpath = format!("{path}.{point}");
            let slot = match point.as_str() {
                "pre_stop" => &mut ch.pre_stop,
                "post_start" => &mut ch.post_start,
                "preStop" | "prestop" | "post-start" | "postStart" | "pre-stop" | "poststart" => {
                    found.error(&hpath, format!("unknown hook `{point}`"), Some("write `pre_stop` or `post_start`"));
                    continue;
                }
                _ => {
                    found.error(
                        &hpath,
                        format!("unknown hook `{point}`"),
                        Some("the hooks are `pre_stop` and `post_start`"),
                    );
                    continue;
                }
            };
            *slot = check_hook(hv, &hpath, found);
        }
        hooks.0.insert(container.clone(), ch);
    }
    hooks
}

fn check_hook(v: &Value, path: &str, found: &mut Found) -> Option<Hook> {
    let Value::Object(m) = v else {
        found.error(
            path,
            "must be a mapping with `command` and `timeout`",
            Some("e.g. `{command: [\"/bin/agent\", \"retire\"], timeout: 10}`"),
        );
        return None;
    };
    let mut ok = true;
    for key in m.keys() {
        if key != "command" && key != "timeout" {
            found.error(
                &format!("{path}.{key}"),
                format!("unknown key `{key}`"),
                Some("a hook has `command` and `timeout`"),
            );
            ok = false;
        }
    }
    let cpath = format!("{path}.command");
    let command: Vec<String> = match m.get("command") {
        None => {
            found.error(&cpath, "a hook needs a `command` (an argv: a list of strings)", None);
            return None;
        }
        Some(Value::String(_)) => {
            found.error(
                &cpath,
                "`command` is a list of strings (an argv), not one string",
                Some("e.g. `[\"/bin/sh\", \"-c\", \"...\"]` if you need a shell"),
            );
            return None;
        }
        Some(Value::Array(items)) => {
            let strs: Vec<String> = items.iter().filter_map(|i| i.as_str().map(String::from)).collect();
            if strs.len() != items.len() {
                found.error(&cpath, "every argument must be a string", Some("quote numbers: `\"10\"`"));
                return None;
            }
            strs
        }
        Some(_) => {
            found.error(&cpath, "`command` must be a list of strings (an argv)", None);
            return None;
        }
    };
    if command.first().is_none_or(|c| c.is_empty()) {
        found.error(&cpath, "the command is empty: its first item is the program to run", None);
        ok = false;
    }
    if command.len() > MAX_ARGS || command.iter().any(|a| a.len() > MAX_ARG_BYTES || a.contains('\0')) {
        found.error(
            &cpath,
            format!("at most {MAX_ARGS} arguments of at most {MAX_ARG_BYTES} bytes each, without NUL"),
            None,
        );
        ok = false;
    }
    let tpath = format!("{path}.timeout");
    let timeout_s = match m.get("timeout") {
        None => DEFAULT_TIMEOUT_S,
        Some(t) => match t.as_u64() {
            Some(s) if (1..=MAX_TIMEOUT_S).contains(&s) => s,
            _ => {
                found.error(
                    &tpath,
                    format!("`timeout` must be whole seconds from 1 to {MAX_TIMEOUT_S}, not {t}"),
                    Some("a hook holds up the stop of its instance, so it is bounded"),
                );
                ok = false;
                0
            }
        },
    };
    ok.then_some(Hook { command, timeout_s })
}

#[cfg(test)]
mod tests {
    use super::super::{SPROUT_YAML, load_sprout_yaml};
    use super::*;

    fn dockerrun() -> Dockerrun {
        let text = r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[
            {"name":"web","image":"nginx","essential":true,"memory":128,"portMappings":[{"hostPort":80,"containerPort":80}]},
            {"name":"monitor","image":"m","essential":false,"memory":16}]}"#;
        crate::load_dockerrun("Dockerrun.aws.json", text).unwrap().dockerrun
    }

    fn load(text: &str) -> Result<Hooks, Vec<crate::Diagnostic>> {
        load_sprout_yaml(SPROUT_YAML, text, &dockerrun()).map(|(y, _)| y.hooks)
    }

    #[test]
    fn a_pre_stop_and_a_post_start_load() {
        let h = load(
            "hooks:\n  monitor:\n    pre_stop: {command: [\"/monitor\", \"retire\"], timeout: 5}\n    post_start: {command: [\"/monitor\", \"hello\"]}\n",
        )
        .unwrap();
        let m = &h.0["monitor"];
        assert_eq!(m.pre_stop, Some(Hook { command: vec!["/monitor".into(), "retire".into()], timeout_s: 5 }));
        assert_eq!(m.post_start.as_ref().unwrap().timeout_s, DEFAULT_TIMEOUT_S);
        assert_eq!(h.at(HookPoint::PreStop).len(), 1);
        assert!(!h.is_empty());
    }

    #[test]
    fn an_unknown_container_is_named_with_the_known_ones() {
        let err = load("hooks:\n  agent:\n    pre_stop: {command: [\"x\"], timeout: 5}\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].message.contains("`agent`"), "{}", err[0]);
        assert!(err[0].hint.as_deref().unwrap().contains("web, monitor"), "{:?}", err[0].hint);
        assert_eq!(err[0].path.as_deref(), Some("hooks.agent"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "hooks:\n  monitor:\n    preStop: {command: [\"x\"]}\n    pre_stop: {command: \"x y\", timeout: 5}\n    post_start: {command: [\"x\"], timeout: 3600}\n  web:\n    pre_stop: {command: [], timeout: 0, retries: 2}\n";
        let err = load(text).unwrap_err();
        let paths: Vec<&str> = err.iter().filter_map(|d| d.path.as_deref()).collect();
        for p in [
            "hooks.monitor.preStop",
            "hooks.monitor.pre_stop.command",
            "hooks.monitor.post_start.timeout",
            "hooks.web.pre_stop.retries",
            "hooks.web.pre_stop.command",
            "hooks.web.pre_stop.timeout",
        ] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
    }

    #[test]
    fn the_section_must_be_a_mapping() {
        assert!(load("hooks: [a]\n").is_err());
        assert_eq!(load("hooks:\n").unwrap(), Hooks::default());
    }
}
