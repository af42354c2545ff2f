//! Target `bundle`: the server's bundle unpacker (`sprout_server::bundle::store_bundle`) on any
//! bytes, tar or zip as its magic bytes say, in a scratch directory made and removed per input.
//!
//! Besides not panicking, it holds the unpacker to its promises: nothing is written outside the
//! bundles directory, a refused upload leaves nothing behind, an accepted one is stored under its
//! digest with its definition.

use std::path::{Path, PathBuf};

use sprout_server::bundle::{DEFINITION_FILE, store_bundle};

/// The server's limit is a command-line setting in MiB; 1 MiB keeps each input fast while still
/// letting a small archive inflate past it.
const LIMIT_BYTES: u64 = 1024 * 1024;

pub fn bundle(data: &[u8]) {
    let root = scratch_dir();
    // Left over from an input that crashed the process: start clean.
    let _ = std::fs::remove_dir_all(&root);
    let bundles = root.join("bundles");
    std::fs::create_dir_all(&bundles).expect("the scratch directory can be created");
    let result = store_bundle(&bundles, data, LIMIT_BYTES);
    assert_eq!(names(&root), ["bundles"], "the unpacker wrote outside its directory");
    let left = names(&bundles);
    match result {
        Ok(stored) => {
            let hex = stored.digest.strip_prefix("sha256:").expect("digest is sha256:<hex>");
            assert_eq!(stored.dir, bundles.join(hex));
            assert_eq!(left, [hex], "only the stored bundle is left");
            assert!(stored.dir.join(DEFINITION_FILE).is_file(), "stored without its definition");
        }
        Err(_) => assert!(left.is_empty(), "a refused bundle left {left:?} behind"),
    }
    std::fs::remove_dir_all(&root).expect("the scratch directory can be removed");
}

/// One directory per process (the fuzzer runs one input at a time per process, the corpus test
/// one per thread), under `TMPDIR`, which `scripts/fuzz` points at memory.
fn scratch_dir() -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!("sprout-fuzz-bundle-{}-{thread}", std::process::id()))
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the scratch directory is readable")
        .map(|e| e.expect("the scratch directory is readable").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
