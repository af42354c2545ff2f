//! Docker client configuration files, as Elastic Beanstalk reads them from S3 for a Dockerrun's
//! `authentication`: `config.json` (`{"auths": {HOST: {"auth": base64(USER:PASSWORD)}}}`) or the
//! older `.dockercfg` (`{HOST: {"auth": ..., "email": ...}}`). Entries may give `username` and
//! `password` instead of `auth`.
//!
//! Pure. Not here: storing what is read (the API seals each password).

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::Value;
use sprout_model::image::{check_registry_host, normalize_registry_host};

/// One registry's credential from a config file.
#[derive(Debug)]
pub struct ConfigEntry {
    pub host: String,
    pub username: String,
    pub password: SecretString,
}

/// Every registry credential of a Docker config file, or every problem with it at once. Errors
/// never quote a secret.
pub fn parse_docker_config(config: &Value) -> Result<Vec<ConfigEntry>, Vec<String>> {
    let Some(top) = config.as_object() else {
        return Err(vec!["the config is not a JSON object: give a Docker config.json or .dockercfg".into()]);
    };
    let mut problems = Vec::new();
    if top.contains_key("credsStore") || top.contains_key("credHelpers") {
        problems.push(
            "credsStore and credHelpers keep the secrets outside the file, where Sprout cannot read them: log in with `docker login` on a machine without a credential helper, or use `sprout registry login`".to_string(),
        );
    }
    // config.json nests the entries under `auths`; .dockercfg is the map itself.
    let auths = match top.get("auths") {
        Some(Value::Object(auths)) => auths,
        Some(_) => return Err(vec!["`auths` must be an object of registry hosts".into()]),
        None => top,
    };
    let mut entries = Vec::new();
    for (key, entry) in auths {
        if matches!(key.as_str(), "credsStore" | "credHelpers" | "HttpHeaders" | "psFormat" | "detachKeys") {
            continue;
        }
        let host = normalize_registry_host(key);
        if let Err(e) = check_registry_host(&host) {
            problems.push(format!("auths.{key}: {e}"));
            continue;
        }
        match entry_credential(entry) {
            Ok((username, password)) => entries.push(ConfigEntry { host, username, password }),
            Err(e) => problems.push(format!("auths.{key}: {e}")),
        }
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push("the config holds no registry credential (`auths` is empty)".into());
    }
    if problems.is_empty() { Ok(entries) } else { Err(problems) }
}

fn entry_credential(entry: &Value) -> Result<(String, SecretString), String> {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    if let (Some(user), Some(password)) = (text("username"), text("password")) {
        return Ok((user.to_string(), SecretString::from(password.to_string())));
    }
    if let Some(auth) = text("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| "`auth` is not base64 of USER:PASSWORD".to_string())?;
        let decoded = String::from_utf8(decoded).map_err(|_| "`auth` is not base64 of USER:PASSWORD".to_string())?;
        return match decoded.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok((user.to_string(), SecretString::from(password.to_string())))
            }
            _ => Err("`auth` is not base64 of USER:PASSWORD".into()),
        };
    }
    if text("identitytoken").is_some() || text("registrytoken").is_some() {
        return Err("identity and registry tokens are not supported: give `auth` (base64 of USER:PASSWORD)".into());
    }
    Err("no credential: give `auth` (base64 of USER:PASSWORD), or `username` and `password`".into())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn config_json_and_dockercfg_both_read() {
        let config = json!({"auths": {
            "https://index.docker.io/v1/": {"auth": b64("robot:hub-secret")},
            "127.0.0.1:5000": {"username": "ci", "password": "pw:with:colons"},
        }});
        let entries = parse_docker_config(&config).unwrap();
        let mut got: Vec<(&str, &str, &str)> =
            entries.iter().map(|e| (e.host.as_str(), e.username.as_str(), e.password.expose_secret())).collect();
        // serde_json's map is ordered by key, or by insertion when another crate of the
        // workspace turns on its `preserve_order` feature (as the whole workspace's build does).
        got.sort();
        assert_eq!(got, [("127.0.0.1:5000", "ci", "pw:with:colons"), ("docker.io", "robot", "hub-secret")]);
        let old = json!({"quay.io": {"auth": b64("team+bot:tok"), "email": "x@y"}});
        let entries = parse_docker_config(&old).unwrap();
        assert_eq!((entries[0].host.as_str(), entries[0].username.as_str()), ("quay.io", "team+bot"));
    }

    #[test]
    fn every_problem_is_said_and_no_secret_is_quoted() {
        let config = json!({"credsStore": "desktop", "auths": {
            "quay.io": {"auth": "bm90LWJhc2U2NA-broken"},
            "ghcr.io": {"identitytoken": "tok-secret"},
            "bad host/x": {"auth": b64("a:b")},
        }});
        let problems = parse_docker_config(&config).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        let all = problems.join("\n");
        assert!(all.contains("credsStore") && all.contains("auths.quay.io") && all.contains("identity"), "{all}");
        assert!(!all.contains("tok-secret") && !all.contains("bm90"), "{all}");
        assert!(parse_docker_config(&json!({"auths": {}})).is_err());
        assert!(parse_docker_config(&json!([1])).is_err());
    }
}
