//! Loading a Dockerrun v2 file from text: parse, check every field, return every problem at once,
//! each with its field path, line and column, and a hint.
//!
//! The walk is by hand over `serde_json::Value` rather than `#[derive(Deserialize)]`, because
//! serde stops at the first error and a file pasted from docker-compose has ten. Not file
//! reading: callers pass the text and the name to show.

mod checks;
mod compat;
mod container;
mod ctx;
mod hints;
mod limits;
pub mod locate;
mod runtime;
mod secrets;
mod walk;
mod wiring;

pub use container::MIN_MEMORY_MIB;
pub use limits::{MAX_CANDIDATES, MAX_CONTAINERS, MAX_DIAGNOSTICS, MAX_TEXT_CHARS, clip};

use crate::{Diagnostic, Dockerrun, Severity};

/// A file that loaded: the definition and any warnings (unknown top-level keys, no container on
/// host port 80, ...).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub dockerrun: Dockerrun,
    pub warnings: Vec<Diagnostic>,
}

/// Parse and validate `source` (the text of `file`). On failure, the errors and warnings in file
/// order (diagnostics without a position last): at most `MAX_DIAGNOSTICS`, then one that counts
/// the rest. Every message, hint and path is at most `MAX_TEXT_CHARS` long, so the whole answer
/// stays small whatever the file holds.
///
/// A file that loads may still not be deployable: the server also requires a web container
/// (`Dockerrun::web_container()`), which `load` only warns about, since a definition without
/// one is still useful to `sprout local`.
pub fn load_dockerrun(file: &str, source: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let root: serde_json::Value = match serde_json::from_str(source) {
        Ok(v) => v,
        Err(e) => return Err(vec![syntax_error(file, source, &e)]),
    };
    let mut ctx = ctx::Ctx::new(file, source);
    let walked = walk::walk(&mut ctx, &root);
    if let Some((dockerrun, shared)) = &walked {
        checks::check_file(&mut ctx, &root, dockerrun, shared);
    }
    // In file order; diagnostics at one spot keep the order the walk found them in.
    let failed = ctx.failed();
    let diags = ctx.finish();
    match walked {
        Some((dockerrun, _)) if !failed => Ok(Loaded { dockerrun, warnings: diags }),
        _ => Err(diags),
    }
}

fn syntax_error(file: &str, source: &str, e: &serde_json::Error) -> Diagnostic {
    let line = e.line().max(1);
    let column = locate::char_column(source, line, e.column());
    // serde_json's message ends with " at line L column C"; the position has its own fields.
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let hint = match e.classify() {
        serde_json::error::Category::Eof => "the file ends early: close every `{` and `[`",
        _ => "fix the JSON syntax here (a missing comma, a trailing comma and unquoted keys are the usual causes)",
    };
    Diagnostic {
        severity: Severity::Error,
        file: file.to_string(),
        path: None,
        line: Some(line),
        column: Some(column),
        message: clip(&format!("invalid JSON: {message}"), limits::MAX_TEXT_CHARS),
        hint: Some(hint.to_string()),
    }
}
