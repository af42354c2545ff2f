//! A container's runtime settings that stand alone: `environment`, `extraHosts`, `dnsServers`,
//! `ulimits`, `logConfiguration` and `healthCheck`.
//!
//! Not references to other containers or volumes: those are in `wiring`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::ctx::{Ctx, Object, describe, field};
use super::hints::environment_hint;
use super::locate::child_key;
use crate::{EnvVar, ExtraHost, HealthCheck, LogConfiguration, Ulimit};

/// The resource names Docker's `--ulimit` takes.
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

pub(crate) fn environment(ctx: &mut Ctx, obj: &Object, path: &str) -> Vec<EnvVar> {
    let Some(v) = field(obj, "environment") else {
        return Vec::new();
    };
    let ep = child_key(path, "environment");
    let items = match v {
        Value::Array(items) => items,
        Value::Object(map) => {
            // The compose map form: show the same variables in the Dockerrun form.
            let pairs: Vec<(String, String)> = map.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect();
            let message = "`environment` must be a list of {name, value} objects, found an object (the compose form)";
            ctx.error_hint(&ep, message, environment_hint(&pairs));
            return Vec::new();
        }
        other => {
            ctx.type_error(&ep, "environment", "a list of {name, value} objects", other);
            return Vec::new();
        }
    };
    let mut out: Vec<EnvVar> = Vec::new();
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{ep}[{i}]");
        let entry = match item {
            Value::Object(o) => o,
            Value::String(s) => {
                let (k, val) = s.split_once('=').unwrap_or((s, ""));
                let message = format!("`environment[{i}]` must be a {{name, value}} object, found the string {item}");
                ctx.error_hint(&p, message, environment_hint(&[(k.to_string(), val.to_string())]));
                continue;
            }
            other => {
                ctx.type_error(&p, &format!("environment[{i}]"), "a {name, value} object", other);
                continue;
            }
        };
        ctx.unknown_keys(entry, &p, "an environment entry", &["name", "value"]);
        let name = ctx.req_string(entry, &p, "name", "the environment entry");
        let value = match field(entry, "value") {
            None => {
                ctx.error_hint(&p, "environment entry has no `value`", "add \"value\": \"\" for an empty value");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                let vp = child_key(&p, "value");
                let message = format!("environment value must be a string, found {}", describe(other));
                ctx.error_hint(&vp, message, format!("quote it: \"value\": \"{}\"", scalar_text(other)));
                None
            }
        };
        let Some(name) = name else { continue };
        if name.is_empty() || name.contains('=') {
            ctx.error_hint(
                &child_key(&p, "name"),
                format!("environment name {name:?} is not a variable name"),
                "use a name without `=`, e.g. DATABASE_URL",
            );
            continue;
        }
        if let Some(at) = first.get(&name) {
            let message = format!("environment variable `{name}` is set twice (first at {at})");
            ctx.error_hint(&child_key(&p, "name"), message, "keep one of them");
            continue;
        }
        first.insert(name.clone(), p.clone());
        if let Some(value) = value {
            out.push(EnvVar { name, value });
        }
    }
    out
}

/// A scalar as it would read inside quotes (for hints).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn extra_hosts(ctx: &mut Ctx, obj: &Object, path: &str) -> Vec<ExtraHost> {
    let keys = ["hostname", "ipAddress"];
    let mut out = Vec::new();
    for (p, h) in ctx.object_list(obj, path, "extraHosts", "an extraHosts entry", &keys, |_| None) {
        let hostname = ctx.req_string(h, &p, "hostname", "the extraHosts entry");
        let ip = ctx.req_string(h, &p, "ipAddress", "the extraHosts entry");
        let ip = ip.filter(|ip| ip_ok(ctx, &child_key(&p, "ipAddress"), ip));
        if let (Some(hostname), Some(ip_address)) = (hostname, ip) {
            out.push(ExtraHost { hostname, ip_address });
        }
    }
    out
}

pub(crate) fn dns_servers(ctx: &mut Ctx, obj: &Object, path: &str) -> Vec<String> {
    let list = ctx.opt_string_list(obj, path, "dnsServers").unwrap_or_default();
    let dp = child_key(path, "dnsServers");
    list.into_iter().enumerate().filter(|(i, ip)| ip_ok(ctx, &format!("{dp}[{i}]"), ip)).map(|(_, ip)| ip).collect()
}

fn ip_ok(ctx: &mut Ctx, path: &str, ip: &str) -> bool {
    let ok = ip.parse::<IpAddr>().is_ok();
    if !ok {
        ctx.error_hint(path, format!("`{ip}` is not an IP address"), "write an IPv4 or IPv6 address, e.g. 10.0.0.2");
    }
    ok
}

pub(crate) fn ulimits(ctx: &mut Ctx, obj: &Object, path: &str) -> Vec<Ulimit> {
    let keys = ["name", "softLimit", "hardLimit"];
    let mut out = Vec::new();
    for (p, u) in ctx.object_list(obj, path, "ulimits", "a ulimit", &keys, |_| None) {
        let name = ctx.req_string(u, &p, "name", "the ulimit");
        let soft = required_int(ctx, u, &p, "softLimit");
        let hard = required_int(ctx, u, &p, "hardLimit");
        let name = name.filter(|n| {
            let known = ULIMIT_NAMES.contains(&n.as_str());
            if !known {
                let hint = format!("use one of {}", ULIMIT_NAMES.join(", "));
                ctx.error_hint(&child_key(&p, "name"), format!("`{n}` is not a ulimit Docker knows"), hint);
            }
            known
        });
        if let (Some(s), Some(h)) = (soft, hard)
            && s > h
        {
            let message = format!("ulimit softLimit {s} is above hardLimit {h}");
            ctx.error_hint(&child_key(&p, "softLimit"), message, "make softLimit at most hardLimit");
            continue;
        }
        if let (Some(name), Some(soft_limit), Some(hard_limit)) = (name, soft, hard) {
            out.push(Ulimit { name, soft_limit, hard_limit });
        }
    }
    out
}

fn required_int(ctx: &mut Ctx, obj: &Object, path: &str, key: &str) -> Option<i64> {
    if field(obj, key).is_none() {
        ctx.error_hint(
            path,
            format!("the ulimit has no `{key}`"),
            format!("add \"{key}\": a number (-1 for unlimited)"),
        );
        return None;
    }
    ctx.opt_int(obj, path, key)
}

pub(crate) fn log_configuration(ctx: &mut Ctx, obj: &Object, path: &str) -> Option<LogConfiguration> {
    let v = field(obj, "logConfiguration")?;
    let lp = child_key(path, "logConfiguration");
    let lc = ctx.object(v, &lp, "logConfiguration")?;
    ctx.unknown_keys(lc, &lp, "`logConfiguration`", &["logDriver", "options"]);
    let driver = match field(lc, "logDriver") {
        None => {
            ctx.error_hint(
                &lp,
                "`logConfiguration` has no `logDriver`",
                "add \"logDriver\": \"json-file\" (or fluentd, syslog, ...)",
            );
            None
        }
        Some(_) => ctx.opt_string(lc, &lp, "logDriver"),
    };
    let options = ctx.opt_string_map(lc, &lp, "options").unwrap_or_default();
    Some(LogConfiguration { log_driver: driver?, options: options.into_iter().collect() })
}

pub(crate) fn health_check(ctx: &mut Ctx, obj: &Object, path: &str) -> Option<HealthCheck> {
    let v = field(obj, "healthCheck")?;
    let hp = child_key(path, "healthCheck");
    let hc = ctx.object(v, &hp, "healthCheck")?;
    let keys = ["command", "interval", "timeout", "retries", "startPeriod"];
    ctx.unknown_keys(hc, &hp, "`healthCheck`", &keys);
    let seconds = |ctx: &mut Ctx, key| ctx.opt_uint(hc, &hp, key, u64::from(u32::MAX), " of seconds").map(|n| n as u32);
    let interval = seconds(ctx, "interval");
    let timeout = seconds(ctx, "timeout");
    let start_period = seconds(ctx, "startPeriod");
    let retries = ctx.opt_uint(hc, &hp, "retries", u64::from(u32::MAX), "").map(|n| n as u32);
    if field(hc, "command").is_none() {
        ctx.error_hint(
            &hp,
            "`healthCheck` has no `command`",
            "add \"command\": [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]",
        );
        return None;
    }
    let command = ctx.opt_string_list(hc, &hp, "command")?;
    let cp = child_key(&hp, "command");
    let ok = match command.first().map(String::as_str) {
        Some("NONE") => true,
        Some("CMD" | "CMD-SHELL") => command.len() > 1,
        _ => false,
    };
    if !ok {
        ctx.error_hint(
            &cp,
            "healthCheck command must start with CMD, CMD-SHELL or NONE, followed by the command",
            "write [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"] or [\"CMD\", \"/bin/check\", \"arg\"]",
        );
        return None;
    }
    Some(HealthCheck { command, interval, timeout, retries, start_period })
}
