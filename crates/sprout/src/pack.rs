//! Packing a bundle for upload: a directory (or a lone definition file) into a tar archive, a
//! `.zip` bundle passed through as it is, and the default version label.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Directories never shipped in a bundle: version control and Sprout's own client state.
const SKIP: &[&str] = &[".git", ".sprout", ".hg", ".svn"];

/// A tar archive of the bundle at `path`: a directory (which must hold `Dockerrun.aws.json`)
/// or a single definition file (shipped as `Dockerrun.aws.json`).
pub fn pack(path: &Path) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(true);
    if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        // A zip bundle, as Elastic Beanstalk takes it: uploaded as is, the server unpacks it.
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    if path.is_file() {
        let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        append(&mut b, "Dockerrun.aws.json", &data)?;
    } else if path.is_dir() {
        if !path.join("Dockerrun.aws.json").is_file() {
            bail!(
                "bundle directory {} has no Dockerrun.aws.json: add one at its root, or point --bundle at the directory that holds it",
                path.display()
            );
        }
        add_dir(&mut b, path, "")?;
    } else {
        bail!(
            "bundle {} does not exist: give a directory holding Dockerrun.aws.json, or the file itself",
            path.display()
        );
    }
    Ok(b.into_inner()?)
}

fn add_dir(b: &mut tar::Builder<Vec<u8>>, dir: &Path, prefix: &str) -> Result<()> {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if SKIP.contains(&name.as_str()) {
            continue;
        }
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let p = e.path();
        if p.is_dir() {
            add_dir(b, &p, &rel)?;
        } else if p.is_file() {
            let data = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            append(b, &rel, &data)?;
        }
    }
    Ok(())
}

fn append(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, data)?;
    Ok(())
}

/// `<git describe --always --abbrev=12 [--dirty]>-<yymmdd_HHMMSSffffff>` when the bundle is in
/// a git work tree, else `v-<timestamp>`. The timestamp makes a label unique even when two
/// builds share a commit; the server still refuses a reused label with other content.
pub fn default_label(bundle: &Path, now: chrono::DateTime<chrono::Utc>) -> String {
    let stamp = now.format("%y%m%d_%H%M%S%6f");
    let dir = if bundle.is_dir() { bundle } else { bundle.parent().unwrap_or(Path::new(".")) };
    let described = Command::new("git")
        .args(["describe", "--always", "--abbrev=12", "--dirty"])
        .current_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace));
    match described {
        Some(d) => format!("{d}-{stamp}"),
        None => format!("v-{stamp}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_a_directory_without_vcs_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerrun.aws.json"), "{}").unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "x").unwrap();
        std::fs::create_dir_all(d.path().join("conf")).unwrap();
        std::fs::write(d.path().join("conf/nginx.conf"), "y").unwrap();
        let tar = pack(d.path()).unwrap();
        let mut ar = tar::Archive::new(&tar[..]);
        let names: Vec<String> =
            ar.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, vec!["Dockerrun.aws.json", "conf/nginx.conf"]);
    }

    #[test]
    fn a_zip_bundle_is_uploaded_as_it_is() {
        let d = tempfile::tempdir().unwrap();
        let zip = d.path().join("app.ZIP");
        std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
        assert_eq!(pack(&zip).unwrap(), b"PK\x03\x04rest");
    }

    #[test]
    fn refuses_a_directory_without_definition() {
        let d = tempfile::tempdir().unwrap();
        let e = pack(d.path()).unwrap_err().to_string();
        assert!(e.contains("has no Dockerrun.aws.json"), "{e}");
    }

    #[test]
    fn label_outside_git_is_timestamped() {
        let d = tempfile::tempdir().unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T08:00:00.123456Z").unwrap().to_utc();
        assert_eq!(default_label(d.path(), now), "v-261126_080000123456");
    }
}
