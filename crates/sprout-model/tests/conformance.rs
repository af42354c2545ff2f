//! Folder-driven conformance: every file under `valid/` must load and every file under
//! `invalid/` must be rejected, for the shared corpus of real-world Dockerrun files and for this
//! crate's own fixtures. An invalid `NAME.json` may have a sibling `NAME.expect` listing
//! substrings (one per line, `#` for comments) that must each appear in some diagnostic.
//! New files join by being dropped into a folder; no code changes.

use std::path::{Path, PathBuf};

use sprout_model::{Diagnostic, Severity, load_dockerrun};

/// The shared corpus lives beside the repository (`../shared/conformance/dockerrun`); a copy is
/// kept in `tests/corpus` (with its SOURCES.tsv) for clones that have no `shared` beside them.
/// `SPROUT_CONFORMANCE_DIR` points elsewhere. The live folder wins, so files dropped there join
/// without code changes.
fn corpus() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("SPROUT_CONFORMANCE_DIR").map(PathBuf::from),
        Some(manifest.join("../../../shared/conformance/dockerrun")),
        Some(PathBuf::from("/work/shared/conformance/dockerrun")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("valid").is_dir()).unwrap_or_else(|| manifest.join("tests/corpus"))
}

fn roots() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![corpus(), manifest.join("tests/corpus"), manifest.join("tests/fixtures")]
}

/// The definition files of one folder, sorted (`.expect` files and dotfiles are not definitions).
fn definitions(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_none_or(|x| x != "expect"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Result<sprout_model::Loaded, Vec<Diagnostic>> {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    load_dockerrun(&path.file_name().unwrap().to_string_lossy(), &source)
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("  {d}\n")).collect()
}

#[test]
fn valid_files_load() {
    let mut count = 0;
    let mut failures = String::new();
    for root in roots() {
        for path in definitions(&root.join("valid")) {
            count += 1;
            if let Err(diags) = load(&path) {
                failures.push_str(&format!("{} was rejected:\n{}", path.display(), render(&diags)));
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
    assert!(count >= 10, "expected the corpus and the fixtures, found {count} valid files");
}

#[test]
fn invalid_files_are_rejected_with_the_expected_diagnostics() {
    let mut count = 0;
    let mut failures = String::new();
    for root in roots() {
        for path in definitions(&root.join("invalid")) {
            count += 1;
            let diags = match load(&path) {
                Ok(_) => {
                    failures.push_str(&format!("{} loaded but should not\n", path.display()));
                    continue;
                }
                Err(diags) => diags,
            };
            if !diags.iter().any(|d| d.severity == Severity::Error) {
                failures.push_str(&format!("{} was rejected without an error\n", path.display()));
            }
            let shown = render(&diags);
            let Ok(expect) = std::fs::read_to_string(path.with_extension("expect")) else {
                continue;
            };
            for wanted in expect.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                if !shown.contains(wanted) {
                    failures.push_str(&format!("{}: no diagnostic contains {wanted:?}\n", path.display()));
                }
            }
            if !failures.is_empty() && !failures.ends_with("---\n") {
                failures.push_str(&format!("diagnostics were:\n{shown}---\n"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
    assert!(count >= 10, "expected the corpus and the fixtures, found {count} invalid files");
}

/// docker-compose keys pasted into a Dockerrun file: every offending field is named.
#[test]
fn omigost_names_every_offending_field() {
    let root = &roots()[1];
    let diags = load(&root.join("invalid/Omigost__Omigost__deployment-Dockerrun.json")).unwrap_err();
    let errors: Vec<String> = diags.iter().filter(|d| d.severity == Severity::Error).map(ToString::to_string).collect();
    let has = |path: &str, text: &str| errors.iter().any(|e| e.contains(&format!("{path}: ")) && e.contains(text));
    for i in 0..7 {
        let c = format!("containerDefinitions[{i}]");
        assert!(has(&format!("{c}.container_name"), "docker-compose"), "{c}.container_name\n{errors:#?}");
        assert!(has(&format!("{c}.restart"), "docker-compose"), "{c}.restart\n{errors:#?}");
        assert!(has(&c, "neither `memory` nor `memoryReservation`"), "{c} memory\n{errors:#?}");
    }
    assert!(has("containerDefinitions[4].build", "build and push the image"));
    assert!(has("containerDefinitions[4]", "has no `image`"));
    assert!(has("containerDefinitions[4].ports", r#"{"hostPort": 80, "containerPort": 8080}"#));
    for i in [1, 2, 3, 5] {
        assert!(has(&format!("containerDefinitions[{i}].environment[0]"), r#"{"name": "#), "env {i}\n{errors:#?}");
    }
    assert!(has("containerDefinitions[6].environment", r#"{"name": "POSTGRES_DB", "value": "docker_dev"}"#));
    // `family` is not a Dockerrun key, but unknown top-level keys only warn.
    let family = diags.iter().find(|d| d.path.as_deref() == Some("family")).expect("family warning");
    assert_eq!(family.severity, Severity::Warning);
    // Every diagnostic of this one-line file is positioned.
    assert!(diags.iter().all(|d| d.line == Some(1) && d.column.is_some()), "{diags:#?}");
}
