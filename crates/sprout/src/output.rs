//! Output: human text by default, `--output json` for scripts (one JSON document on stdout);
//! `sprout config` also prints YAML (`--output yaml`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// What `--output` accepts: `yaml` only where a command says so (`sprout config`); every other
/// command refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    Text,
    Json,
    Yaml,
}

impl Choice {
    /// The format for commands that print text or JSON (YAML reads as JSON data).
    pub fn format(self) -> Format {
        match self {
            Choice::Text => Format::Text,
            Choice::Json | Choice::Yaml => Format::Json,
        }
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into()));
}
