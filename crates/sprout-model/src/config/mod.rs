//! The options registry: every environment option Sprout has, by one dotted key
//! (`health.path`, `deployment.policy`, `scaling.trigger.upper_threshold`), with its type,
//! allowed range, default, description and the Elastic Beanstalk names it also answers to
//! (`aws:elasticbeanstalk:application:Application Healthcheck URL`).
//!
//! One table serves the server's validation, `sprout config get|set|unset|edit`, saved
//! configurations, the `options:` section of a bundle's `sprout.yaml` and docs/options.md
//! (generated from it, see `docs::markdown`). Values travel as text (`"15"`, `"/health"`), the
//! way a user types them; each definition parses its own. Pure: it reads and writes
//! `EnvOptions`, nothing else. Not here: environment properties and scheduled actions (they have
//! commands of their own), and deciding when a change reaches instances (the controllers do).

pub mod docs;
pub mod document;
mod kinds;
mod registry;
pub mod saved;
mod source;

pub use kinds::Kind;
pub use registry::{DEFINITIONS, MAX_INSTANCES};
pub use saved::{SavedConfiguration, SavedConfigurations};
pub use source::{Source, source_of};

use std::collections::BTreeMap;

use crate::options::EnvOptions;

/// One option: its key, what it holds and how it reads and writes `EnvOptions`.
#[derive(Debug)]
pub struct OptionDef {
    /// The dotted key (`health.interval`).
    pub key: &'static str,
    pub kind: Kind,
    pub description: &'static str,
    /// What the default is, in words, when it is not a plain value (None: the value itself).
    pub default_note: Option<&'static str>,
    /// Elastic Beanstalk's `namespace:OptionName` names for the same setting, with the factor
    /// that turns their unit into Sprout's (60 where Elastic Beanstalk counts minutes).
    pub aliases: &'static [(&'static str, u32)],
    /// The value in `o`, as text; None when unset (an option with no value by default).
    pub get: fn(&EnvOptions) -> Option<String>,
    /// Write an already checked value (None: clear it).
    pub put: fn(&mut EnvOptions, Option<&str>),
}

impl OptionDef {
    /// The default value as text (None: unset by default).
    pub fn default_value(&self) -> Option<String> {
        (self.get)(&EnvOptions::default())
    }

    /// Check `text` against the option's type and range, giving the canonical text.
    pub fn check(&self, text: &str) -> Result<String, String> {
        self.kind.check(text).map_err(|why| format!("{}: {why}", self.key))
    }
}

/// The definition a key or an Elastic Beanstalk alias names, with the alias's unit factor
/// (1 for Sprout's own key). Aliases match case-insensitively, as Elastic Beanstalk's do.
pub fn lookup(name: &str) -> Option<(&'static OptionDef, u32)> {
    let name = name.trim();
    if let Some(d) = DEFINITIONS.iter().find(|d| d.key == name) {
        return Some((d, 1));
    }
    DEFINITIONS
        .iter()
        .find_map(|d| d.aliases.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|(_, factor)| (d, *factor)))
}

/// An unknown key's message hint: the keys a typo or two away, or where the list is.
pub fn unknown_key_hint(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let near: Vec<&str> = DEFINITIONS.iter().map(|d| d.key).filter(|k| edits(k, &lower) <= 2).take(3).collect();
    if near.is_empty() {
        "`sprout config get ENV` lists every key; docs/options.md describes them".to_string()
    } else {
        format!("did you mean {}? (docs/options.md lists every key)", near.join(", "))
    }
}

/// Levenshtein distance, for typo hints.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// Resolve `name` (key or alias) and check `text`: the definition and the value in Sprout's
/// units, or a message naming the key and the allowed range.
pub fn resolve(name: &str, text: &str) -> Result<(&'static OptionDef, String), String> {
    let Some((def, factor)) = lookup(name) else {
        return Err(format!("unknown option `{name}`; {}", unknown_key_hint(name)));
    };
    let text = if factor == 1 { text.trim().to_string() } else { kinds::scale(text, factor) };
    def.check(&text).map(|v| (def, v))
}

/// A set of changes: key to new value (None: back to the default).
pub type Changes = BTreeMap<&'static str, Option<String>>;

/// Apply `changes` to `options` as `source`, then check what only the whole can tell
/// (min at most max, timeout within interval...). On error `options` is unchanged.
pub fn apply(options: &mut EnvOptions, changes: &Changes, source: &Source) -> Result<(), String> {
    let mut next = options.clone();
    let defaults = EnvOptions::default();
    for (key, value) in changes {
        let def = DEFINITIONS.iter().find(|d| d.key == *key).ok_or_else(|| format!("unknown option `{key}`"))?;
        match value {
            Some(v) => {
                (def.put)(&mut next, Some(v));
                next.sources.insert(key.to_string(), source.clone());
            }
            None => {
                (def.put)(&mut next, (def.get)(&defaults).as_deref());
                next.sources.remove(*key);
            }
        }
    }
    registry::drop_default_trigger(&mut next);
    registry::check_whole(&next)?;
    *options = next;
    Ok(())
}

/// Every option whose value differs from the default, as text: what a saved configuration
/// keeps (applied to defaults, it gives the same options back).
pub fn non_default(options: &EnvOptions) -> BTreeMap<String, String> {
    DEFINITIONS
        .iter()
        .filter_map(|d| {
            let v = (d.get)(options);
            (v != d.default_value()).then(|| (d.key.to_string(), v.unwrap_or_default()))
        })
        .collect()
}

/// Options from defaults plus `values` (key to text, as `non_default` gives), marked `source`.
/// Every value is checked; every error is returned at once.
pub fn from_values(values: &BTreeMap<String, String>, source: &Source) -> Result<EnvOptions, Vec<String>> {
    let mut changes = Changes::new();
    let mut errors = Vec::new();
    for (k, v) in values {
        match resolve(k, v) {
            Ok((def, v)) => {
                changes.insert(def.key, Some(v));
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut options = EnvOptions::default();
    apply(&mut options, &changes, source).map_err(|e| vec![e])?;
    Ok(options)
}

#[cfg(test)]
mod tests;
