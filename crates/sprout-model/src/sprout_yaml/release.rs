//! The `release:` section of `sprout.yaml`: the release task a deploy runs once, before its first
//! batch (a database migration, say), and the same task given on the command line
//! (`sprout deploy --release "CONTAINER: COMMAND"`).
//!
//! ```yaml
//! release:
//!   container: app            # a container definition of the bundle's Dockerrun
//!   command: [bundle, exec, rake, db:migrate]   # argv; a string is split like a shell would
//!   timeout: 600              # seconds, default 600
//! ```
//!
//! Pure: checks the section against the definition it belongs with. Not here: running it (the
//! server) or deciding what its outcome means for the deploy (`sprout_plan::release`).

use serde::{Deserialize, Serialize};

use super::Found;
use crate::Dockerrun;

/// The section's name in the file.
pub const SECTION: &str = "release";
/// Seconds a release task may run when the file does not say.
pub const DEFAULT_TIMEOUT_S: u64 = 600;
/// The longest a release task may be given, in seconds (6 hours).
pub const MAX_TIMEOUT_S: u64 = 6 * 3600;

/// A release task: which container definition it runs as, its argv, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseTask {
    pub container: String,
    pub command: Vec<String>,
    pub timeout_s: u64,
}

/// Checks the section's value (`value`, at path `release`) against `def`; the task when valid.
pub fn check_release(value: &serde_json::Value, def: &Dockerrun, found: &mut Found) -> Option<ReleaseTask> {
    let serde_json::Value::Object(map) = value else {
        found.error(SECTION, "`release` must be a mapping with `container`, `command` and `timeout`", None);
        return None;
    };
    for key in map.keys() {
        if !["container", "command", "timeout"].contains(&key.as_str()) {
            found.error(
                &format!("{SECTION}.{key}"),
                format!("unknown key `{key}`"),
                Some("a release task has `container`, `command` and `timeout`"),
            );
        }
    }
    let container = match map.get("container") {
        Some(serde_json::Value::String(c)) => check_container(c, def, &format!("{SECTION}.container"), found),
        Some(_) => {
            found.error(&format!("{SECTION}.container"), "`container` must be a container definition's name", None);
            None
        }
        None => {
            found.error(SECTION, "`container` is missing: which container definition runs the task", None);
            None
        }
    };
    let path = format!("{SECTION}.command");
    let command = match map.get("command") {
        Some(serde_json::Value::String(s)) => match split_words(s) {
            Ok(words) if !words.is_empty() => Some(words),
            Ok(_) => {
                found.error(&path, "`command` is empty", None);
                None
            }
            Err(e) => {
                found.error(&path, e, None);
                None
            }
        },
        Some(serde_json::Value::Array(items)) if !items.is_empty() => {
            let words: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(String::from)).collect();
            if words.is_none() {
                found.error(&path, "every item of `command` must be a string", None);
            }
            words
        }
        Some(_) => {
            found.error(&path, "`command` must be a list of strings or a string", Some("e.g. [rake, db:migrate]"));
            None
        }
        None => {
            found.error(SECTION, "`command` is missing: what the task runs", None);
            None
        }
    };
    let timeout_s = match map.get("timeout") {
        None => Some(DEFAULT_TIMEOUT_S),
        Some(v) => match v.as_u64().filter(|t| (1..=MAX_TIMEOUT_S).contains(t)) {
            Some(t) => Some(t),
            None => {
                found.error(
                    &format!("{SECTION}.timeout"),
                    format!("`timeout` must be a whole number of seconds from 1 to {MAX_TIMEOUT_S}, not {v}"),
                    None,
                );
                None
            }
        },
    };
    Some(ReleaseTask { container: container?, command: command?, timeout_s: timeout_s? })
}

/// Checks that `name` is a container definition of `def`; the name when it is.
fn check_container(name: &str, def: &Dockerrun, path: &str, found: &mut Found) -> Option<String> {
    if def.container(name).is_some() {
        return Some(name.to_string());
    }
    let names: Vec<&str> = def.container_definitions.iter().map(|c| c.name.as_str()).collect();
    found.error(
        path,
        format!("no container definition is named `{name}`"),
        Some(&format!("the definitions are: {}", names.join(", "))),
    );
    None
}

/// Parses `sprout deploy --release "CONTAINER: COMMAND"`: the container's name, a colon, and the
/// command split like a shell would (quotes group words, nothing is expanded).
pub fn parse_release_flag(flag: &str) -> Result<(String, Vec<String>), String> {
    let Some((container, command)) = flag.split_once(':') else {
        return Err(format!("--release {flag:?}: give it as \"CONTAINER: COMMAND\", e.g. \"app: rake db:migrate\""));
    };
    let container = container.trim();
    if container.is_empty() || container.contains(char::is_whitespace) {
        return Err(format!("--release {flag:?}: the part before ':' must be one container definition's name"));
    }
    let words = split_words(command).map_err(|e| format!("--release {flag:?}: {e}"))?;
    if words.is_empty() {
        return Err(format!("--release {flag:?}: the command after ':' is empty"));
    }
    Ok((container.to_string(), words))
}

/// Checks a task given on the command line against the version's definition, as the file's is.
pub fn check_release_task(task: &ReleaseTask, def: &Dockerrun) -> Result<(), String> {
    let mut found = Found::new("--release");
    check_container(&task.container, def, "container", &mut found);
    if task.command.is_empty() {
        found.error("command", "the command is empty", None);
    }
    if !(1..=MAX_TIMEOUT_S).contains(&task.timeout_s) {
        found.error("timeout", format!("the timeout must be from 1 to {MAX_TIMEOUT_S} seconds"), None);
    }
    match found.diags.first() {
        None => Ok(()),
        Some(d) => Err(match &d.hint {
            Some(h) => format!("release task: {} ({h})", d.message),
            None => format!("release task: {}", d.message),
        }),
    }
}

/// Splits `text` into words as a POSIX shell would without expanding anything: blanks separate
/// words, single quotes keep everything, double quotes keep everything but `\"` and `\\`, and a
/// backslash outside quotes keeps the next character.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("the text ends with a lone backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprout_yaml::{SPROUT_YAML, load_sprout_yaml};

    fn dockerrun() -> Dockerrun {
        let text = r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[
            {"name":"app","image":"rails","essential":true,"memory":128},
            {"name":"web","image":"nginx","essential":true,"memory":64,"links":["app"],"portMappings":[{"hostPort":80,"containerPort":80}]}]}"#;
        crate::load_dockerrun("Dockerrun.aws.json", text).unwrap().dockerrun
    }

    #[test]
    fn a_task_loads_with_a_list_or_a_string_and_a_default_timeout() {
        let (y, _) =
            load_sprout_yaml(SPROUT_YAML, "release:\n  container: app\n  command: [rake, db:migrate]\n", &dockerrun())
                .unwrap();
        let task = y.release.unwrap();
        assert_eq!((task.container.as_str(), task.timeout_s), ("app", DEFAULT_TIMEOUT_S));
        assert_eq!(task.command, vec!["rake", "db:migrate"]);
        let text = "release:\n  container: app\n  command: \"sh -c 'echo a b'\"\n  timeout: 30\n";
        let (y, _) = load_sprout_yaml(SPROUT_YAML, text, &dockerrun()).unwrap();
        assert_eq!(
            y.release.unwrap(),
            ReleaseTask {
                container: "app".into(),
                command: vec!["sh".into(), "-c".into(), "echo a b".into()],
                timeout_s: 30
            }
        );
    }

    #[test]
    fn every_problem_is_named_at_its_path() {
        let text = "release:\n  container: db\n  command: 7\n  timeout: 0\n  image: x\n";
        let err = load_sprout_yaml(SPROUT_YAML, text, &dockerrun()).unwrap_err();
        let at: Vec<(&str, &str)> = err.iter().map(|d| (d.path.as_deref().unwrap_or(""), d.message.as_str())).collect();
        assert_eq!(at.len(), 4, "{at:?}");
        assert!(at.iter().any(|(p, m)| *p == "release.image" && m.contains("unknown key")), "{at:?}");
        assert!(at.iter().any(|(p, m)| *p == "release.container" && m.contains("`db`")), "{at:?}");
        assert!(err.iter().any(|d| d.hint.as_deref().is_some_and(|h| h.contains("app, web"))), "{err:?}");
        assert!(at.iter().any(|(p, _)| *p == "release.command"), "{at:?}");
        assert!(at.iter().any(|(p, m)| *p == "release.timeout" && m.contains("not 0")), "{at:?}");
        let err = load_sprout_yaml(SPROUT_YAML, "release:\n  command: [a]\n", &dockerrun()).unwrap_err();
        assert!(err[0].message.contains("`container` is missing"), "{}", err[0]);
    }

    #[test]
    fn the_flag_names_a_container_and_a_command() {
        assert_eq!(
            parse_release_flag("app: rake db:migrate").unwrap(),
            ("app".to_string(), vec!["rake".to_string(), "db:migrate".to_string()])
        );
        assert!(parse_release_flag("rake db:migrate").unwrap_err().contains("one container definition"));
        assert!(parse_release_flag("app:  ").unwrap_err().contains("empty"));
        assert!(parse_release_flag("no colon").unwrap_err().contains("CONTAINER: COMMAND"));
        let task = ReleaseTask { container: "db".into(), command: vec!["x".into()], timeout_s: 10 };
        assert!(check_release_task(&task, &dockerrun()).unwrap_err().contains("app, web"));
    }

    #[test]
    fn words_split_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("a  b\tc", &["a", "b", "c"]),
            (r#"sh -c "echo \"hi\" there""#, &["sh", "-c", r#"echo "hi" there"#]),
            ("'it''s' x", &["its", "x"]),
            (r"a\ b", &["a b"]),
            ("''", &[""]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(split_words(text).unwrap(), *want, "{text}");
        }
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
    }
}
