//! The bundle's `sprout.yaml`: Sprout's own settings that travel with a version, in a file at the
//! bundle's root beside `Dockerrun.aws.json` (`.sprout/` is the CLI's local directory and is
//! never uploaded). Each top-level key is a section with its own module and owner:
//! `options:` (environment options applied with the version), `release:` (the release task),
//! `hooks:` (lifecycle hooks per container definition). Schema: docs/bundle.md.
//!
//! Loading is the same shape as `load_dockerrun`: every problem at once, each with its path and,
//! where known, its line, so `sprout validate` and the server's upload show the same report. A
//! section's checker gets the section's value and the definition it belongs with (hooks and
//! release tasks name its containers).

pub mod options;

use serde::{Deserialize, Serialize};

use crate::{Diagnostic, Dockerrun, Severity};

pub mod hooks;
pub mod release;

/// The file's name at the bundle's root.
pub const SPROUT_YAML: &str = "sprout.yaml";

/// The most bytes the file may hold: settings, not data.
pub const MAX_BYTES: usize = 256 * 1024;

/// Every section a `sprout.yaml` may hold (in the order the docs list them).
pub const SECTIONS: &[&str] = &[options::SECTION, release::SECTION, hooks::SECTION];

/// A loaded `sprout.yaml`. A bundle without the file has the default (every section empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SproutYaml {
    /// `options:`: environment options applied with the version (`options.rs`).
    #[serde(default)]
    pub options: options::BundleOptions,
    /// The release task each deploy of the version runs before its first batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<release::ReleaseTask>,
    /// Lifecycle hooks per container definition (`hooks:`).
    #[serde(default)]
    pub hooks: hooks::Hooks,
}

/// What the checks of one file found: diagnostics in the order found, errors fail the load.
pub struct Found {
    file: String,
    pub diags: Vec<Diagnostic>,
}

impl Found {
    pub fn new(file: &str) -> Self {
        Found { file: file.to_string(), diags: Vec::new() }
    }
    pub fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        self.push(Severity::Error, path, message.into(), hint);
    }
    pub fn warning(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        self.push(Severity::Warning, path, message.into(), hint);
    }
    fn push(&mut self, severity: Severity, path: &str, message: String, hint: Option<&str>) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.clone(),
            path: Some(path.to_string()),
            line: None,
            column: None,
            message,
            hint: hint.map(String::from),
        });
    }
    fn failed(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Parse and check `source` (the text of `file`) against `dockerrun`, the definition of the same
/// bundle. On success, the file and its warnings; otherwise every diagnostic.
pub fn load_sprout_yaml(
    file: &str,
    source: &str,
    dockerrun: &Dockerrun,
) -> Result<(SproutYaml, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut found = Found::new(file);
    if source.len() > MAX_BYTES {
        found.error("", format!("the file holds {} bytes, more than {MAX_BYTES}", source.len()), None);
        return Err(found.diags);
    }
    let root: serde_json::Value = if source.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        match serde_saphyr::from_str(source) {
            Ok(v) => v,
            Err(e) => return Err(vec![syntax_error(file, &e.to_string())]),
        }
    };
    let serde_json::Value::Object(map) = &root else {
        found.error("", "the file must be a mapping of sections", Some("start with a section name such as `options:`"));
        return Err(found.diags);
    };
    let mut loaded = SproutYaml::default();
    if let Some(v) = map.get(options::SECTION) {
        loaded.options = options::load(file, source, v, &mut found);
    }
    if let Some(v) = map.get(release::SECTION) {
        loaded.release = release::check_release(v, dockerrun, &mut found);
    }
    if let Some(v) = map.get(hooks::SECTION) {
        loaded.hooks = hooks::check(v, dockerrun, &mut found);
    }
    for key in map.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            let known = if SECTIONS.is_empty() { "none yet".to_string() } else { SECTIONS.join(", ") };
            found.error(key, format!("unknown section `{key}`"), Some(&format!("the sections are: {known}")));
        }
    }
    if found.failed() { Err(found.diags) } else { Ok((loaded, found.diags)) }
}

/// serde-saphyr's message carries the position as text ("at line L, column C"); keep it whole.
pub fn syntax_error(file: &str, message: &str) -> Diagnostic {
    let (line, column) = position_in(message).unzip();
    Diagnostic {
        severity: Severity::Error,
        file: file.to_string(),
        path: None,
        line,
        column,
        message: crate::load::clip(&format!("invalid YAML: {message}"), crate::load::MAX_TEXT_CHARS),
        hint: Some("fix the YAML syntax here (indentation and a missing `:` are the usual causes)".into()),
    }
}

fn position_in(message: &str) -> Option<(usize, usize)> {
    let at = message.find("line ")?;
    let rest = &message[at + 5..];
    let line: usize = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    let col_at = rest.find("column ")?;
    let column: usize = rest[col_at + 7..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((line, column))
}

#[cfg(test)]
mod tests;
