//! Replays the committed fuzz corpus and every past crash through the fuzz targets: how CI runs
//! the fuzzer's findings as a test without AFL++ (see `scripts/fuzz` for the fuzzer itself).
//!
//! `fuzz/corpus/<target>/` is what the fuzzer kept (minimised); `fuzz/regressions/<target>/`
//! holds every input that once crashed or hung a target. A missing or empty directory fails the
//! test, so a moved corpus cannot turn it into one that checks nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file in `dir`, sorted; panics when there is none.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    files
}

fn replay(kind: &str, target: &str) {
    let (_, run) = sprout_fuzz::TARGETS.iter().find(|(name, _)| *name == target).expect("a known target");
    let dir = repo_root().join("fuzz").join(kind).join(target);
    let files = inputs(&dir);
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Named before it runs, so a panic's output says which input it was.
        eprintln!("{}", file.display());
        run(&data);
    }
    // Straight to stderr, past the test harness's capture, so every run shows the count.
    let _ = writeln!(std::io::stderr(), "fuzz/{kind}/{target}: ran {} inputs", files.len());
}

#[test]
fn dockerrun_corpus() {
    replay("corpus", "dockerrun");
}

#[test]
fn dockerrun_regressions() {
    replay("regressions", "dockerrun");
}

#[test]
fn bundle_corpus() {
    replay("corpus", "bundle");
}

#[test]
fn bundle_regressions() {
    replay("regressions", "bundle");
}

#[test]
fn request_head_corpus() {
    replay("corpus", "request_head");
}

#[test]
fn request_head_regressions() {
    replay("regressions", "request_head");
}
