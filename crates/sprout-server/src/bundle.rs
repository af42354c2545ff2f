//! Source bundles: unpacking an uploaded tar or zip (as Elastic Beanstalk accepts; told apart
//! by their magic bytes) into the data directory, content-addressed.
//!
//! The digest covers file paths and contents only (sorted, length-prefixed), never tar metadata
//! such as modification times, so the same directory uploaded twice has the same digest, tar
//! or zip alike.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// The definition file a bundle must hold at its root.
pub const DEFINITION_FILE: &str = "Dockerrun.aws.json";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not a readable tar or zip archive: {0}")]
    Archive(String),
    #[error("bundle entry {0:?} escapes the bundle (absolute path or '..')")]
    UnsafePath(String),
    #[error("bundle is larger than this server's limit of {limit_mb} MiB (sprout server --max-bundle-mb)")]
    TooLarge { limit_mb: u64 },
    #[error("bundle has no {DEFINITION_FILE} at its root: add one, or point --bundle at the directory that holds it")]
    NoDefinition,
    #[error("cannot write bundle to {path}: {message}")]
    Io { path: String, message: String },
}

/// An unpacked, content-addressed bundle.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// `sha256:<hex>`.
    pub digest: String,
    pub dir: PathBuf,
    /// Text of `Dockerrun.aws.json`.
    pub definition: String,
}

struct Entry {
    path: String,
    data: Vec<u8>,
}

/// Read a tar archive, check it, and store it under `bundles_dir/<hex digest>/`.
pub fn store_bundle(bundles_dir: &Path, archive: &[u8], limit_bytes: u64) -> Result<StoredBundle, BundleError> {
    if archive.len() as u64 > limit_bytes {
        return Err(BundleError::TooLarge { limit_mb: limit_bytes / (1024 * 1024) });
    }
    let mut entries = if archive.starts_with(ZIP_MAGIC) {
        read_zip_entries(archive, limit_bytes)?
    } else {
        read_entries(archive, limit_bytes)?
    };
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let definition = entries
        .iter()
        .find(|e| e.path == DEFINITION_FILE)
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .ok_or(BundleError::NoDefinition)?;

    let mut h = Sha256::new();
    for e in &entries {
        h.update((e.path.len() as u64).to_le_bytes());
        h.update(e.path.as_bytes());
        h.update((e.data.len() as u64).to_le_bytes());
        h.update(&e.data);
    }
    let hex = hex::encode(h.finalize());
    let dir = bundles_dir.join(&hex);
    let io = |p: &Path, e: std::io::Error| BundleError::Io { path: p.display().to_string(), message: e.to_string() };
    if !dir.join(DEFINITION_FILE).exists() {
        // Write beside, then rename: a crash never leaves a half bundle under its digest.
        let tmp = bundles_dir.join(format!(".tmp-{hex}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        for e in &entries {
            let p = tmp.join(&e.path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|err| io(parent, err))?;
            }
            std::fs::write(&p, &e.data).map_err(|err| io(&p, err))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|err| io(&tmp, err))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|err| io(&dir, err))?;
    }
    Ok(StoredBundle { digest: format!("sha256:{hex}"), dir, definition })
}

fn read_entries(archive: &[u8], limit_bytes: u64) -> Result<Vec<Entry>, BundleError> {
    let mut ar = tar::Archive::new(archive);
    let mut out = Vec::new();
    let mut total = 0u64;
    let bad = |e: std::io::Error| BundleError::Archive(e.to_string());
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = entry.path().map_err(bad)?.into_owned();
        let path = safe_relative(&raw).ok_or_else(|| BundleError::UnsafePath(raw.display().to_string()))?;
        total += entry.header().size().unwrap_or(0);
        if total > limit_bytes {
            return Err(BundleError::TooLarge { limit_mb: limit_bytes / (1024 * 1024) });
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(bad)?;
        out.push(Entry { path, data });
    }
    Ok(out)
}

/// Local file header signature: every zip that holds a file starts with it.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

fn read_zip_entries(archive: &[u8], limit_bytes: u64) -> Result<Vec<Entry>, BundleError> {
    let bad = |e: zip::result::ZipError| BundleError::Archive(e.to_string());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(bad)?;
    let mut out = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(bad)?;
        if !file.is_file() {
            continue;
        }
        let raw = file.name().map_err(bad)?.into_owned();
        let path = safe_relative(Path::new(&raw)).ok_or_else(|| BundleError::UnsafePath(raw.clone()))?;
        // The declared size can lie; `take` bounds what is actually inflated (a zip bomb stops
        // at the limit instead of filling memory).
        let room = limit_bytes.saturating_sub(total);
        let mut data = Vec::new();
        (&mut file).take(room + 1).read_to_end(&mut data).map_err(|e| BundleError::Archive(e.to_string()))?;
        total += data.len() as u64;
        if total > limit_bytes {
            return Err(BundleError::TooLarge { limit_mb: limit_bytes / (1024 * 1024) });
        }
        out.push(Entry { path, data });
    }
    Ok(out)
}

/// A normalised relative path with `/` separators, or None if it would escape the bundle.
fn safe_relative(p: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(rand_mtime(path));
            h.set_cksum();
            b.append_data(&mut h, path, data.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }
    fn rand_mtime(p: &str) -> u64 {
        p.len() as u64 * 1000
    }

    #[test]
    fn same_content_same_digest_and_stored_once() {
        let d = tempfile::tempdir().unwrap();
        let a = store_bundle(d.path(), &tar_of(&[("Dockerrun.aws.json", "{}"), ("nginx.conf", "x")]), 1 << 20).unwrap();
        let b =
            store_bundle(d.path(), &tar_of(&[("./nginx.conf", "x"), ("Dockerrun.aws.json", "{}")]), 1 << 20).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(std::fs::read_to_string(a.dir.join("nginx.conf")).unwrap(), "x");
        let c = store_bundle(d.path(), &tar_of(&[("Dockerrun.aws.json", "{}"), ("nginx.conf", "y")]), 1 << 20).unwrap();
        assert_ne!(a.digest, c.digest);
    }

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (path, data) in files {
            w.start_file(*path, opts).unwrap();
            w.write_all(data.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_and_tar_of_the_same_files_are_the_same_bundle() {
        let d = tempfile::tempdir().unwrap();
        let files = [("Dockerrun.aws.json", "{}"), ("conf/nginx.conf", "x")];
        let t = store_bundle(d.path(), &tar_of(&files), 1 << 20).unwrap();
        let z = store_bundle(d.path(), &zip_of(&files), 1 << 20).unwrap();
        assert_eq!(t.digest, z.digest);
        assert_eq!(std::fs::read_to_string(z.dir.join("conf/nginx.conf")).unwrap(), "x");
        assert!(matches!(
            store_bundle(d.path(), &zip_of(&[("../x", "1"), ("Dockerrun.aws.json", "{}")]), 1 << 20),
            Err(BundleError::UnsafePath(_))
        ));
        assert!(matches!(store_bundle(d.path(), &zip_of(&[("a.txt", "1")]), 1 << 20), Err(BundleError::NoDefinition)));
        // Compresses far below the limit, inflates above it.
        let big = "x".repeat(64 * 1024);
        let bomb = zip_of(&[("Dockerrun.aws.json", &big)]);
        assert!(bomb.len() < 4096);
        let err = store_bundle(d.path(), &bomb, 4096).unwrap_err();
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("--max-bundle-mb"), "{err}");
        assert!(matches!(store_bundle(d.path(), b"PK\x03\x04 not really", 1 << 20), Err(BundleError::Archive(_))));
    }

    #[test]
    fn refuses_escapes_missing_definition_and_oversize() {
        let d = tempfile::tempdir().unwrap();
        // tar::Builder refuses to write '..' itself, so forge the header bytes.
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../evil.t");
        h.set_size(1);
        h.set_cksum();
        let mut raw = h.as_bytes().to_vec();
        raw.extend_from_slice(&[b'x'; 512]);
        raw.extend_from_slice(&[0; 1024]);
        assert!(matches!(store_bundle(d.path(), &raw, 1 << 20), Err(BundleError::UnsafePath(_))));
        assert!(matches!(store_bundle(d.path(), &tar_of(&[("a.txt", "x")]), 1 << 20), Err(BundleError::NoDefinition)));
        let big = "x".repeat(4096);
        assert!(matches!(
            store_bundle(d.path(), &tar_of(&[("Dockerrun.aws.json", &big)]), 1024),
            Err(BundleError::TooLarge { .. })
        ));
    }
}
