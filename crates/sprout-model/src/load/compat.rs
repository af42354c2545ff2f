//! Compatibility with what Elastic Beanstalk accepts: ECS container fields Sprout does not act on
//! load with a warning when they ask for nothing (null or their default) and are refused, saying
//! what they ask for, when they ask for something; the top-level `executionRoleArn` and
//! `taskRoleArn` are ignored with a note; a file without `containerDefinitions` that is laid out
//! like version 1 (`Image`, `Ports`) or misspells the key gets one error at that key.

use serde_json::Value;

/// A field's name, whether a value asks for nothing, and what a value that does asks for.
pub(crate) type IgnoredField = (&'static str, fn(&Value) -> bool, &'static str);

/// ECS container fields Sprout does not act on, each with whether a value asks for nothing,
/// and what a value that does asks for.
pub(crate) const IGNORED_CONTAINER_FIELDS: &[IgnoredField] = &[
    ("disableNetworking", is_false, "a container without networking"),
    ("dnsSearchDomains", is_empty, "DNS search domains"),
    ("dockerSecurityOptions", is_empty, "Docker security options (SELinux, AppArmor, seccomp labels)"),
    (
        "linuxParameters",
        linux_parameters_default,
        "Linux parameters (capabilities, devices, tmpfs, init process, shared memory)",
    ),
    ("interactive", is_false, "an interactive container (use `sprout run`)"),
    ("pseudoTerminal", is_false, "a terminal for the container (use `sprout run -t`)"),
    ("systemControls", is_empty, "kernel parameters (sysctls)"),
    ("resourceRequirements", is_empty, "GPUs or inference accelerators"),
];

fn is_false(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `linuxParameters` asks for nothing when every field is null, empty, false or absent.
fn linux_parameters_default(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.values().all(|f| is_false(f) || is_empty(f)),
        other => is_empty(other),
    }
}

/// What to say about `key` of a container definition: None when Sprout does not know it
/// (another check reports it); Some(Ok(warning)) when it is ignored; Some(Err(error)).
pub(crate) fn ignored_container_field(key: &str, value: &Value) -> Option<Result<String, String>> {
    let (_, asks_nothing, what) = IGNORED_CONTAINER_FIELDS.iter().find(|(k, _, _)| *k == key)?;
    Some(if asks_nothing(value) {
        Ok(format!("`{key}` is an ECS field Sprout does not act on; its value asks for nothing, so it is ignored"))
    } else {
        Err(format!("`{key}` asks for {what}, which Sprout cannot give a container"))
    })
}

/// Top-level keys Elastic Beanstalk passes to ECS and Sprout ignores, with why.
pub(crate) fn ignored_top_level(key: &str) -> Option<&'static str> {
    match key {
        "executionRoleArn" | "taskRoleArn" => Some(
            "IAM roles are AWS's: Sprout pulls with `sprout registry login` credentials and gives containers secrets with `sprout secrets`",
        ),
        _ => None,
    }
}

/// For a file without `containerDefinitions`: the key that explains why, and the error to give
/// there (a version 1 layout, or a misspelling).
pub(crate) fn missing_definitions_cause(obj: &serde_json::Map<String, Value>) -> Option<(String, String, String)> {
    if let Some(key) = ["Image", "Ports", "Volumes", "Logging"].iter().find(|k| obj.contains_key(**k)) {
        return Some((
            key.to_string(),
            format!("`{key}` belongs to Elastic Beanstalk's version 1 (single-container) layout; Sprout reads version 2"),
            "rewrite the file as version 2: the container goes in `containerDefinitions` with `name`, `image`, `memory` and `portMappings`".into(),
        ));
    }
    let key = obj.keys().find(|k| {
        let lower = k.to_ascii_lowercase();
        lower != "containerdefinitions" && super::hints::near_miss(k, &["containerDefinitions"]).is_some()
            || (lower.starts_with("container") && lower.contains("def") && *k != "containerDefinitions")
    })?;
    Some((
        key.clone(),
        format!("`{key}` is not `containerDefinitions`, so the file defines no container"),
        "spell it `containerDefinitions`".into(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::load_dockerrun;

    type Said = Vec<(Severity, String, String)>;

    fn load(containers_extra: &str, top_extra: &str) -> Result<Said, Said> {
        let text = format!(
            r#"{{"AWSEBDockerrunVersion":2{top_extra},"containerDefinitions":[{{"name":"web","image":"nginx","memory":64,
                "portMappings":[{{"hostPort":80,"containerPort":80}}]{containers_extra}}}]}}"#
        );
        let brief = |d: &crate::Diagnostic| (d.severity, d.path.clone().unwrap_or_default(), d.message.clone());
        match load_dockerrun("Dockerrun.aws.json", &text) {
            Ok(l) => Ok(l.warnings.iter().map(brief).collect()),
            Err(diags) => Err(diags.iter().map(brief).collect()),
        }
    }

    #[test]
    fn ecs_fields_that_ask_for_nothing_warn_and_others_are_refused() {
        let extra = r#","disableNetworking":false,"dnsSearchDomains":null,"dockerSecurityOptions":[],"linuxParameters":{"initProcessEnabled":false,"devices":[]}"#;
        let warnings = load(extra, "").unwrap();
        assert_eq!(warnings.iter().filter(|w| w.2.contains("does not act on")).count(), 4, "{warnings:?}");
        let errors = load(r#","disableNetworking":true,"linuxParameters":{"capabilities":{"add":["NET_ADMIN"]}}"#, "")
            .unwrap_err();
        assert!(
            errors.iter().any(|e| e.1.ends_with("disableNetworking") && e.2.contains("without networking")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.1.ends_with("linuxParameters") && e.2.contains("capabilities")), "{errors:?}");
    }

    #[test]
    fn an_execution_role_is_ignored_with_a_note() {
        let warnings = load("", r#","executionRoleArn":"arn:aws:iam::1:role/x""#).unwrap();
        assert!(warnings.iter().any(|w| w.1 == "executionRoleArn" && w.2.contains("IAM roles")), "{warnings:?}");
    }

    #[test]
    fn a_version_1_layout_or_a_typo_is_one_error_at_its_key() {
        for (text, key) in [
            (r#"{"AWSEBDockerrunVersion":2,"Image":{"Name":"nginx"},"Ports":[{"ContainerPort":80}]}"#, "Image"),
            (r#"{"AWSEBDockerrunVersion":2,"containerDefintions":[{"name":"web"}]}"#, "containerDefintions"),
        ] {
            let errors: Vec<_> = load_dockerrun("Dockerrun.aws.json", text)
                .unwrap_err()
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path.as_deref(), Some(key), "{errors:?}");
        }
    }
}
