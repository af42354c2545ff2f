//! Fuzz targets: one function per hostile-input path of Sprout, each taking raw bytes and running
//! the real code on them.
//!
//! The afl.rs binaries in `fuzz/` (outside the workspace, since CI does not install AFL++) call
//! these, and `tests/corpus.rs` replays the committed corpus and every past crash through them, so
//! CI runs the corpus as a test. A target never panics by itself: a panic is a bug in Sprout,
//! either a panic in its code or a broken promise that a target checks (a diagnostic longer than
//! the stated bound, a bundle file written outside its directory, a connection left open).

mod bundle;
mod dockerrun;
mod request_head;

pub use bundle::bundle;
pub use dockerrun::dockerrun;
pub use request_head::request_head;

/// A fuzz target: any bytes in, a panic only for a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/` name them.
pub const TARGETS: [(&str, Target); 3] = [("dockerrun", dockerrun), ("bundle", bundle), ("request_head", request_head)];
