//! A small disk of a test's own (a tmpfs), to fill up.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A tmpfs mounted for the test, unmounted when dropped (lazily: containers may still hold bind
/// mounts into it for a moment).
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    /// None when this process may not mount (not root).
    pub fn mount(at: PathBuf, mib: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(&at)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the disk refuses; returns the bytes written.
pub fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.sync_all();
    written
}
