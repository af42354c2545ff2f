//! Where an option's value came from, so `sprout config get` can say why a value is what it
//! is: the default, a saved configuration, a bundle's `sprout.yaml`, a hand (`config set`,
//! `scale`, `deploy --policy`...) or a scheduled action.

use serde::{Deserialize, Serialize};

use super::OptionDef;
use crate::options::EnvOptions;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Default,
    /// `sprout config set`, `edit`, `scale`, and every older flag.
    Hand,
    /// A saved configuration applied by `create --cfg` or `config put`.
    Saved {
        name: String,
    },
    /// The `options:` section of the `sprout.yaml` of this version.
    Bundle {
        version: String,
    },
    /// A scheduled action set the band.
    Schedule {
        name: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::Hand => write!(f, "set by hand"),
            Source::Saved { name } => write!(f, "saved configuration {name}"),
            Source::Bundle { version } => write!(f, "sprout.yaml of version {version}"),
            Source::Schedule { name } => write!(f, "schedule {name}"),
        }
    }
}

/// Where `def`'s value in `options` came from. A value with no record came from a route that
/// keeps none (an older flag) when it differs from the default, else it is the default.
pub fn source_of(options: &EnvOptions, def: &OptionDef) -> Source {
    if let Some(s) = options.sources.get(def.key) {
        return s.clone();
    }
    if (def.get)(options) == def.default_value() { Source::Default } else { Source::Hand }
}
