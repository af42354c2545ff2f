//! Options as YAML: the document `sprout config edit` opens (every option, one per line, and the
//! environment properties), and the `options:` mapping that a saved configuration or a bundle's
//! `sprout.yaml` holds. Reading one checks every key and value against the registry and reports
//! every problem at once with its line, column and a hint, as `sprout validate` does for
//! Dockerrun files.
//!
//! Keys are the dotted keys (`health.path: /health`), or nested (`health: {path: /health}`), or
//! Elastic Beanstalk's form (`aws:elasticbeanstalk:command:` holding `DeploymentPolicy: Rolling`,
//! as `.ebextensions` option_settings are written).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{DEFINITIONS, lookup, unknown_key_hint};
use crate::options::EnvOptions;
use crate::{Diagnostic, Severity};

/// What an edited document says: every option (None: back to the default) and the properties.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edited {
    pub options: BTreeMap<&'static str, Option<String>>,
    pub variables: BTreeMap<String, String>,
}

/// The document `sprout config edit` opens for `what` (e.g. `environment production of shop`).
pub fn render_edit(what: &str, options: &EnvOptions, variables: &BTreeMap<String, String>) -> String {
    render_values(what, |d| (d.get)(options), variables)
}

/// `render_edit` from each option's value as text (as `GET .../config` gives them).
pub fn render_values(
    what: &str,
    value_of: impl Fn(&super::OptionDef) -> Option<String>,
    variables: &BTreeMap<String, String>,
) -> String {
    let mut out = format!(
        "# Configuration of {what}.\n\
         # Save and close to apply it as one change; leave it unchanged (or empty) to cancel.\n\
         # An option left empty (or removed) goes back to its default. docs/options.md lists them all.\n\
         # Options replace no instance; a change to `variables` replaces instances under the\n\
         # deployment policy.\n\
         options:\n"
    );
    for def in DEFINITIONS {
        let value = value_of(def).map(|v| yaml_scalar(&v)).unwrap_or_default();
        let default = def.default_note.map(String::from).or_else(|| def.default_value()).unwrap_or_default();
        let line = format!("  {}: {value}", def.key);
        out.push_str(&format!("{line:<48} # {}; default: {default}\n", def.kind.describe()));
    }
    out.push_str("variables:\n");
    if variables.is_empty() {
        out.push_str("  # NAME: value\n");
    }
    for (k, v) in variables {
        out.push_str(&format!("  {}: {}\n", yaml_scalar(k), yaml_scalar(v)));
    }
    out
}

/// A value as a YAML scalar that reads back as the same string.
pub fn yaml_scalar(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        && !matches!(v.to_ascii_lowercase().as_str(), "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~");
    if plain { v.to_string() } else { serde_json::to_string(v).unwrap_or_default() }
}

/// Read an edited document (`file` is the name shown in diagnostics).
pub fn parse_edit(file: &str, source: &str) -> Result<Edited, Vec<Diagnostic>> {
    let root: Value = if source.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_saphyr::from_str(source).map_err(|e| vec![crate::sprout_yaml::syntax_error(file, &e.to_string())])?
    };
    let mut diags = Vec::new();
    let Value::Object(map) = &root else {
        return Err(vec![diag(file, source, "", "the document must be a mapping", Some("start with `options:`"))]);
    };
    let mut edited = Edited::default();
    for (key, value) in map {
        match key.as_str() {
            "options" => {
                let (values, found) = read_options(file, source, "options", value);
                diags.extend(found);
                edited.options = values;
            }
            "variables" => match value {
                Value::Null => {}
                Value::Object(vars) => {
                    for (k, v) in vars {
                        match scalar_text(v) {
                            Some(Some(t)) => drop(edited.variables.insert(k.clone(), t)),
                            Some(None) => drop(edited.variables.insert(k.clone(), String::new())),
                            None => diags.push(diag(
                                file,
                                source,
                                k,
                                &format!("variables.{k}: expected a single value"),
                                Some("write `NAME: value`"),
                            )),
                        }
                    }
                }
                _ => diags.push(diag(file, source, "variables", "variables: expected a mapping of NAME: value", None)),
            },
            other => diags.push(diag(
                file,
                source,
                other,
                &format!("unknown section `{other}`"),
                Some("the document has two sections: `options:` and `variables:`"),
            )),
        }
    }
    // Every option the document leaves out goes back to its default.
    for def in DEFINITIONS {
        edited.options.entry(def.key).or_insert(None);
    }
    if diags.is_empty() { Ok(edited) } else { Err(diags) }
}

/// Read an `options:` mapping (of an edited document, a saved configuration or a bundle's
/// `sprout.yaml`; `section` is its path, `source` the whole file's text for positions): each
/// option's canonical value (None: empty, i.e. the default) and every problem found.
pub fn read_options(
    file: &str,
    source: &str,
    section: &str,
    value: &Value,
) -> (BTreeMap<&'static str, Option<String>>, Vec<Diagnostic>) {
    let mut out = BTreeMap::new();
    let mut diags = Vec::new();
    let mut flat = Vec::new();
    match value {
        Value::Null => return (out, diags),
        Value::Object(map) => flatten("", map, &mut flat),
        _ => {
            let hint = Some("write one option a line, e.g. `health.path: /health`");
            diags.push(diag(file, source, section, &format!("{section}: expected a mapping of options"), hint));
            return (out, diags);
        }
    }
    for (name, leaf, value) in flat {
        let Some((def, _)) = lookup(&name) else {
            let message = format!("{section}.{name}: unknown option");
            diags.push(diag(file, source, &leaf, &message, Some(&unknown_key_hint(&name))));
            continue;
        };
        let text = match scalar_text(value) {
            Some(t) => t,
            None => {
                let message = format!("{section}.{name}: expected a single value");
                diags.push(diag(file, source, &leaf, &message, Some(&format!("allowed: {}", def.kind.describe()))));
                continue;
            }
        };
        let checked = match text {
            None => Ok(None),
            Some(t) => super::resolve(&name, &t).map(|(_, v)| Some(v)),
        };
        match checked {
            Ok(v) => {
                if out.insert(def.key, v).is_some() {
                    let message = format!("{section}.{name}: `{}` is given twice (key or alias)", def.key);
                    diags.push(diag(file, source, &leaf, &message, Some("keep one of them")));
                }
            }
            Err(why) => {
                let message = format!("{section}.{name}: {}", why.trim_start_matches(&format!("{}: ", def.key)));
                diags.push(diag(file, source, &leaf, &message, Some(&format!("allowed: {}", def.kind.describe()))));
            }
        }
    }
    (out, diags)
}

/// Nested mappings to (full name, the key as written, value): `health: {path: x}` is
/// `health.path`; under an `aws:` namespace the option name joins with `:`.
fn flatten<'v>(prefix: &str, map: &'v serde_json::Map<String, Value>, out: &mut Vec<(String, String, &'v Value)>) {
    for (k, v) in map {
        let name = match prefix {
            "" => k.clone(),
            p if p.starts_with("aws:") => format!("{p}:{k}"),
            p => format!("{p}.{k}"),
        };
        match v {
            Value::Object(inner) if lookup(&name).is_none() => flatten(&name, inner, out),
            _ => out.push((name, k.clone(), v)),
        }
    }
}

/// A scalar as text: Some(None) for an empty value, None for a list or mapping.
fn scalar_text(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::Bool(b) => Some(Some(b.to_string())),
        _ => None,
    }
}

/// An error at the first line that holds `key` as a mapping key (its column is the key's).
fn diag(file: &str, source: &str, key: &str, message: &str, hint: Option<&str>) -> Diagnostic {
    let (line, column) = locate_key(source, key).unzip();
    Diagnostic {
        severity: Severity::Error,
        file: file.to_string(),
        path: None,
        line,
        column,
        message: crate::load::clip(message, crate::load::MAX_TEXT_CHARS),
        hint: hint.map(|h| crate::load::clip(h, crate::load::MAX_TEXT_CHARS)),
    }
}

/// Where `key` is written as a mapping key (plain or quoted), 1-based; None if not found.
pub fn locate_key(source: &str, key: &str) -> Option<(usize, usize)> {
    if key.is_empty() {
        return None;
    }
    source.lines().enumerate().find_map(|(i, line)| {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let body = body.strip_prefix("- ").unwrap_or(body);
        let rest = [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
            .into_iter()
            .find_map(|k| body.strip_prefix(k.as_str()).map(str::to_string))?;
        rest.trim_start().starts_with(':').then(|| (i + 1, line[..indent].chars().count() + 1))
    })
}
