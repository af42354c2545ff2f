//! Target `dockerrun`: the Dockerrun v2 loader on any text, as `sprout validate` and an upload
//! run it, and the promises its answer makes about size (`sprout_model::load::limits`).

use sprout_model::load::{MAX_DIAGNOSTICS, MAX_TEXT_CHARS};
use sprout_model::{Diagnostic, load_dockerrun};

/// Loads `data` as a `Dockerrun.aws.json` (invalid UTF-8 replaced, as the server reads a
/// bundle's definition) and renders every diagnostic.
pub fn dockerrun(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let diags = match load_dockerrun("Dockerrun.aws.json", &source) {
        Ok(loaded) => loaded.warnings,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused file comes with at least one error");
            errors
        }
    };
    // One more than the bound: the diagnostic that counts the rest.
    assert!(diags.len() <= MAX_DIAGNOSTICS + 1, "{} diagnostics", diags.len());
    let lines = source.matches('\n').count() + 1;
    for d in &diags {
        check_bounded(d, lines);
        // What `sprout validate --format text` and the API's error body show.
        let _ = d.to_string();
    }
}

/// Every text a diagnostic quotes is clipped, and its line is in the file.
fn check_bounded(d: &Diagnostic, lines: usize) {
    let texts = [Some(&d.message), d.hint.as_ref(), d.path.as_ref()];
    for text in texts.into_iter().flatten() {
        assert!(text.chars().count() <= MAX_TEXT_CHARS, "unclipped text in {d:?}");
    }
    if let Some(line) = d.line {
        assert!((1..=lines).contains(&line), "line {line} of a {lines}-line file in {d:?}");
    }
}
