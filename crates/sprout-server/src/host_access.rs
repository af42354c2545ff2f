//! Enforcing the host access policy (`sprout_model::policy`): when a version is uploaded, when
//! it is deployed (the policy may have changed since) and again at each launch. Paths are
//! resolved on this host before they are compared: symlinks followed as far as the path exists,
//! so `/var/run/docker.sock` and `/run/docker.sock` are the same socket, and a link cannot
//! smuggle a forbidden path past an allowed one.

use std::path::PathBuf;

use sprout_model::Dockerrun;
use sprout_model::policy::{HostAccessViolation, check_host_access, normalize};
use sprout_store::{Store, StoreError};

/// Where `path` (absolute, normalised) really is on this host: its longest existing prefix with
/// symlinks resolved, then the rest as written.
pub fn resolve(path: &str) -> String {
    let path = PathBuf::from(normalize(path));
    let mut existing = path.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return normalize(&out.to_string_lossy());
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return normalize(&path.to_string_lossy()),
        }
    }
}

/// What `def` asks of this host that `app`'s policy does not allow.
pub async fn violations(store: &dyn Store, app: &str, def: &Dockerrun) -> Result<Vec<HostAccessViolation>, StoreError> {
    let policy = store.get_host_access(app).await?;
    Ok(check_host_access(def, &policy, app, &resolve))
}

/// The violations as one message, every one of them named.
pub fn describe(violations: &[HostAccessViolation]) -> String {
    let lines: Vec<String> = violations.iter().map(|v| format!("{}: {}", v.field, v.message)).collect();
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_resolved_as_far_as_the_path_exists() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("run")).unwrap();
        std::os::unix::fs::symlink(real.join("run"), real.join("varrun")).unwrap();
        let via_link = format!("{}/varrun/docker.sock", real.display());
        assert_eq!(resolve(&via_link), format!("{}/run/docker.sock", real.display()));
        assert_eq!(resolve("/"), "/");
    }
}
