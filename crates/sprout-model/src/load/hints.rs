//! Hints for the mistakes people actually make in Dockerrun files: docker-compose keys pasted
//! into `containerDefinitions`, and near-miss spellings (`portmappings`, `memory_reservation`).
//!
//! Only words: which keys are allowed is decided by the walker that calls these.

use serde_json::Value;

use super::limits::{MAX_CANDIDATES, MAX_COMPARED_CHARS, clip};

/// The closest allowed key to `key`: the same word in another case or with `_`/`-`, or within a
/// small edit distance. `None` when nothing is close enough to be a useful guess.
/// Keys and names longer than `MAX_COMPARED_CHARS` are never guessed at: the edit distance of
/// two megabyte-long names would take hours.
pub(crate) fn near_miss<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    if key.len() > MAX_COMPARED_CHARS * 4 || key.chars().count() > MAX_COMPARED_CHARS {
        return None;
    }
    let wanted = norm(key);
    let allowed = allowed.iter().filter(|k| k.chars().count() <= MAX_COMPARED_CHARS);
    let allowed: Vec<(&'k str, String)> = allowed.map(|k| (*k, norm(k))).collect();
    if let Some((k, _)) = allowed.iter().find(|(_, n)| *n == wanted) {
        return Some(k);
    }
    let wanted_chars = wanted.chars().count();
    let limit = if wanted_chars >= 6 { 2 } else { 1 };
    allowed
        .iter()
        // The distance is at least the difference in length; skip the ones that cannot be close.
        .filter(|(_, n)| n.chars().count().abs_diff(wanted_chars) <= limit)
        .map(|(k, n)| (edit_distance(&wanted, n), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn norm(s: &str) -> String {
    s.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_lowercase()
}

/// Names for a hint: all of them, quoted, when there are at most `MAX_CANDIDATES`; otherwise
/// the ones closest to `wanted` and how many more ("`web`, `db`, `app` and 29 more"), so that
/// a hint never grows with the file.
pub(crate) fn candidates(wanted: &str, names: &[&str]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    let quote = |n: &str| format!("`{}`", clip(n, 40));
    if names.len() <= MAX_CANDIDATES {
        return names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ");
    }
    // Compared on their starts: enough to rank, and bounded whatever the names' length.
    let head = |s: &str| norm(&s.chars().take(64).collect::<String>());
    let wanted = head(wanted);
    let mut ranked: Vec<(usize, usize, &str)> =
        names.iter().enumerate().map(|(i, n)| (edit_distance(&wanted, &head(n)), i, *n)).collect();
    ranked.sort_unstable();
    let shown: Vec<String> = ranked.iter().take(MAX_CANDIDATES).map(|(_, _, n)| quote(n)).collect();
    format!("{} and {} more", shown.join(", "), names.len() - MAX_CANDIDATES)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// What to write instead of a docker-compose service key found in a container definition.
/// `value` is the key's value, used to spell the replacement out where that is possible.
pub(crate) fn compose_key_hint(key: &str, value: &Value) -> Option<String> {
    let text = match key {
        "ports" => return Some(ports_hint(value)),
        "container_name" => "the container's name is `name`; remove `container_name`",
        "restart" => "Sprout replaces an instance whose essential container exits; remove `restart`",
        "build" => "Dockerrun runs prebuilt images: build and push the image, then name it in `image`",
        "depends_on" => return Some(depends_on_hint(value)),
        "volumes" => {
            "a container mounts volumes with `mountPoints` [{\"sourceVolume\": \"data\", \"containerPath\": \"/data\"}] \
             naming a top-level `volumes` entry"
        }
        "env_file" => {
            "Dockerrun has no env files: list variables in `environment` [{\"name\": \"K\", \"value\": \"V\"}] or set them as environment variables of the Sprout environment"
        }
        "expose" => {
            "containers on one instance reach each other on any port; use `portMappings` only to publish a host port"
        }
        "networks" => "each instance has its own network that all its containers join; remove `networks`",
        "mem_limit" => "use `memory` (hard limit, in MiB, as a number)",
        "mem_reservation" => "use `memoryReservation` (soft limit, in MiB, as a number)",
        "cpus" | "cpu_shares" => "use `cpu` (CPU shares, 1024 = one core)",
        "working_dir" => "use `workingDirectory`",
        "labels" => "use `dockerLabels` {\"key\": \"value\"}",
        "extra_hosts" => "use `extraHosts` [{\"hostname\": \"h\", \"ipAddress\": \"10.0.0.1\"}]",
        "dns" => "use `dnsServers` [\"10.0.0.2\"]",
        "logging" => "use `logConfiguration` {\"logDriver\": \"json-file\", \"options\": {}}",
        "healthcheck" => {
            "use `healthCheck` {\"command\": [\"CMD-SHELL\", \"curl -f http://localhost/\"], \"interval\": 30}"
        }
        "read_only" => "use `readonlyRootFilesystem`",
        "volumes_from" => "use `volumesFrom` [{\"sourceContainer\": \"data\"}]",
        "deploy" | "scale" => "Sprout scales whole instances through the environment's scaling settings; remove it",
        "image_name" | "img" => "use `image`",
        _ => return None,
    };
    Some(text.to_string())
}

/// `"depends_on": ["db"]` (or the map form) becomes the `dependsOn` that says the same thing.
fn depends_on_hint(value: &Value) -> String {
    let names: Vec<&str> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::Object(map) => map.keys().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let names = if names.is_empty() { vec!["db"] } else { names };
    let items: Vec<String> = names
        .iter()
        .take(MAX_CANDIDATES)
        .map(|n| format!("{{\"containerName\": {}, \"condition\": \"START\"}}", Value::from(clip(n, 40))))
        .collect();
    let more = if names.len() > MAX_CANDIDATES { ", ..." } else { "" };
    format!("use `dependsOn`: [{}{more}]", items.join(", "))
}

/// `"ports": ["80:8080"]` becomes the `portMappings` that says the same thing.
fn ports_hint(value: &Value) -> String {
    let mappings: Vec<String> =
        value.as_array().map(|items| items.iter().filter_map(compose_port).collect()).unwrap_or_default();
    if mappings.is_empty() {
        "Dockerrun uses `portMappings`: [{\"hostPort\": 80, \"containerPort\": 8080}]".to_string()
    } else {
        let more = if mappings.len() > MAX_CANDIDATES { ", ..." } else { "" };
        let shown = &mappings[..mappings.len().min(MAX_CANDIDATES)];
        format!("Dockerrun uses `portMappings`: [{}{more}]", shown.join(", "))
    }
}

/// One compose port (`"8080"`, `"80:8080"`, `"127.0.0.1:80:8080/udp"`, or a number) as a
/// `portMappings` entry.
pub(crate) fn compose_port(v: &Value) -> Option<String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let (ports, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let container: u16 = parts.first()?.parse().ok()?;
    let host: Option<u16> = match parts.get(1) {
        Some(h) => Some(h.parse().ok()?),
        None => None,
    };
    let mut out = String::from("{");
    if let Some(h) = host {
        out.push_str(&format!("\"hostPort\": {h}, "));
    }
    out.push_str(&format!("\"containerPort\": {container}"));
    if protocol != "tcp" {
        out.push_str(&format!(", \"protocol\": \"{protocol}\""));
    }
    out.push('}');
    Some(out)
}

/// `environment` written the compose way (a map, or `"K=V"` strings) spelled the Dockerrun way.
pub(crate) fn environment_hint(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .take(3)
        .map(|(k, v)| format!("{{\"name\": {}, \"value\": {}}}", Value::from(clip(k, 40)), Value::from(clip(v, 40))))
        .collect();
    let more = if pairs.len() > 3 { ", ..." } else { "" };
    format!("use [{}{more}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn near_misses() {
        let allowed = ["portMappings", "memoryReservation", "links", "name"];
        assert_eq!(near_miss("portmappings", &allowed), Some("portMappings"));
        assert_eq!(near_miss("memory_reservation", &allowed), Some("memoryReservation"));
        assert_eq!(near_miss("portMapping", &allowed), Some("portMappings"));
        assert_eq!(near_miss("lnks", &allowed), Some("links"));
        assert_eq!(near_miss("restart", &allowed), None);
        assert_eq!(near_miss("nam", &allowed), Some("name"));
    }

    #[test]
    fn candidates_are_few_and_closest_first() {
        assert_eq!(candidates("x", &[]), "(none)");
        assert_eq!(candidates("x", &["web", "db"]), "`web`, `db`");
        let names = ["nginx", "app", "worker", "db", "cache"];
        assert_eq!(candidates("wroker", &names), "`worker`, `cache`, `nginx` and 2 more");
        let long = "y".repeat(100_000);
        let hint = candidates(&long, &[&long, &long, &long, &long]);
        assert!(hint.len() < 200 && hint.ends_with("and 1 more"), "{hint}");
        assert_eq!(near_miss(&long, &[&long]), None);
    }

    #[test]
    fn ports_are_spelled_out() {
        let hint = compose_key_hint("ports", &json!(["80:8080", "127.0.0.1:53:53/udp", 9000])).unwrap();
        assert!(hint.contains("{\"hostPort\": 80, \"containerPort\": 8080}"), "{hint}");
        assert!(hint.contains("{\"hostPort\": 53, \"containerPort\": 53, \"protocol\": \"udp\"}"), "{hint}");
        assert!(hint.contains("{\"containerPort\": 9000}"), "{hint}");
        let fallback = compose_key_hint("ports", &json!("junk")).unwrap();
        assert!(fallback.contains("\"hostPort\": 80"));
    }

    #[test]
    fn depends_on_is_spelled_out() {
        let hint = compose_key_hint("depends_on", &json!(["db", "cache"])).unwrap();
        assert!(
            hint.contains(r#"[{"containerName": "db", "condition": "START"}, {"containerName": "cache""#),
            "{hint}"
        );
        let map = compose_key_hint("depends_on", &json!({"db": {"condition": "service_healthy"}})).unwrap();
        assert!(map.contains(r#""containerName": "db""#), "{map}");
    }

    #[test]
    fn environment_hint_quotes_values() {
        let pairs = vec![("A".to_string(), "x\"y".to_string())];
        assert_eq!(environment_hint(&pairs), r#"use [{"name": "A", "value": "x\"y"}]"#);
    }
}
