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
pub use sprout_model::sprout_yaml::SPROUT_YAML;
pub use sprout_plan::cron::CRON_YAML;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not a readable tar or zip archive: {0}")]
    Archive(String),
    #[error("bundle entry {0:?} escapes the bundle (absolute path or '..')")]
    UnsafePath(String),
    #[error("bundle is larger than this server's limit of {limit_mb} MiB (sprout server --max-bundle-mb)")]
    TooLarge { limit_mb: u64 },
    #[error("bundle holds more than {limit} files, the most Sprout accepts in one bundle")]
    TooManyEntries { limit: usize },
    #[error("bundle has no {DEFINITION_FILE} at its root: add one, or point --bundle at the directory that holds it")]
    NoDefinition,
    #[error("cannot write bundle to {path}: {message}")]
    Io { path: String, message: String },
    #[error("the disk holding {path} is full: the bundle was not stored; free space in the data directory and retry")]
    Full { path: String },
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT)) || e.kind() == std::io::ErrorKind::StorageFull
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

/// The most files a bundle may hold. A definition and the files it mounts are a handful; tens of
/// thousands of entries are an attack on the unpacker, not a deploy.
pub const MAX_ENTRIES: usize = 10_000;

/// A bundle unpacked into a temporary directory of its own, not yet in place: checked by the
/// caller, then `commit`ted under its digest. Dropped uncommitted, it is removed.
pub struct Unpacked {
    tmp: PathBuf,
    bundles_dir: PathBuf,
    hex: String,
    /// Text of `Dockerrun.aws.json`.
    pub definition: String,
    /// Text of `sprout.yaml`, when the bundle has one at its root.
    pub sprout_yaml: Option<String>,
    /// Text of `cron.yaml`, when the bundle has one at its root.
    pub cron_yaml: Option<String>,
}

impl Unpacked {
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    /// Moves the bundle into place under its digest (atomically: a rename), unless the same
    /// content is there already.
    pub fn commit(self) -> Result<StoredBundle, BundleError> {
        let dir = self.bundles_dir.join(&self.hex);
        if !dir.join(DEFINITION_FILE).exists() {
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(e) = std::fs::rename(&self.tmp, &dir) {
                // Another upload of the same content may have won the race: that is success.
                if !dir.join(DEFINITION_FILE).exists() {
                    return Err(io_error(&dir, e));
                }
            }
        }
        Ok(StoredBundle { digest: self.digest(), dir, definition: self.definition.clone() })
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Removes a temporary directory unless told it was handed on.
struct TmpDir(Option<PathBuf>);

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// A name no other upload running at the same time can have.
pub fn unique_name(prefix: &str) -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source is available");
    format!("{prefix}-{}", hex::encode(b))
}

/// Read a tar or zip archive from memory, check it, and store it under its digest.
pub fn store_bundle(bundles_dir: &Path, archive: &[u8], limit_bytes: u64) -> Result<StoredBundle, BundleError> {
    std::fs::create_dir_all(bundles_dir).map_err(|e| io_error(bundles_dir, e))?;
    let path = bundles_dir.join(unique_name(".archive"));
    std::fs::write(&path, archive).map_err(|e| io_error(&path, e))?;
    let result = unpack(bundles_dir, &path, limit_bytes).and_then(Unpacked::commit);
    let _ = std::fs::remove_file(&path);
    result
}

fn io_error(p: &Path, e: std::io::Error) -> BundleError {
    if is_disk_full(&e) {
        return BundleError::Full { path: p.display().to_string() };
    }
    BundleError::Io { path: p.display().to_string(), message: e.to_string() }
}

/// Unpacks the archive file at `archive` (tar or zip, told apart by magic bytes) entry by entry
/// into a temporary directory of its own under `bundles_dir`, never holding more than a buffer of
/// it in memory, and hashes what it wrote. Refused, with nothing left behind: an entry that
/// escapes, more than `MAX_ENTRIES` files, more than `limit_bytes` in all (however well it
/// compresses), no definition.
pub fn unpack(bundles_dir: &Path, archive: &Path, limit_bytes: u64) -> Result<Unpacked, BundleError> {
    let size = std::fs::metadata(archive).map_err(|e| io_error(archive, e))?.len();
    if size > limit_bytes {
        return Err(BundleError::TooLarge { limit_mb: limit_bytes / (1024 * 1024) });
    }
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(archive).map_err(|e| io_error(archive, e))?;
    let is_zip = file.read_exact(&mut magic).is_ok() && magic == *ZIP_MAGIC;
    let file = std::fs::File::open(archive).map_err(|e| io_error(archive, e))?;
    let tmp = bundles_dir.join(unique_name(".unpack"));
    let mut guard = TmpDir(Some(tmp.clone()));
    std::fs::create_dir_all(&tmp).map_err(|e| io_error(&tmp, e))?;
    let mut writer = Writer { root: &tmp, total: 0, entries: 0, limit_bytes };
    if is_zip {
        read_zip_entries(file, &mut writer)?
    } else {
        read_entries(file, &mut writer)?
    };

    let mut paths = Vec::new();
    list_files(&tmp, "", &mut paths).map_err(|e| io_error(&tmp, e))?;
    paths.sort();
    if !paths.iter().any(|p| p == DEFINITION_FILE) {
        return Err(BundleError::NoDefinition);
    }
    // The digest covers paths and contents only, sorted, length-prefixed.
    let mut h = Sha256::new();
    for p in &paths {
        let full = tmp.join(p);
        let len = std::fs::metadata(&full).map_err(|e| io_error(&full, e))?.len();
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
        h.update(len.to_le_bytes());
        let mut f = std::fs::File::open(&full).map_err(|e| io_error(&full, e))?;
        std::io::copy(&mut f, &mut HashWriter(&mut h)).map_err(|e| io_error(&full, e))?;
    }
    let definition_path = tmp.join(DEFINITION_FILE);
    let definition =
        String::from_utf8_lossy(&std::fs::read(&definition_path).map_err(|e| io_error(&definition_path, e))?)
            .into_owned();
    let root_file = |name: &str| -> Result<Option<String>, BundleError> {
        if !paths.iter().any(|p| p == name) {
            return Ok(None);
        }
        let path = tmp.join(name);
        Ok(Some(String::from_utf8_lossy(&std::fs::read(&path).map_err(|e| io_error(&path, e))?).into_owned()))
    };
    let sprout_yaml = root_file(SPROUT_YAML)?;
    let cron_yaml = root_file(CRON_YAML)?;
    guard.0 = None;
    Ok(Unpacked {
        tmp,
        bundles_dir: bundles_dir.to_path_buf(),
        hex: hex::encode(h.finalize()),
        definition,
        sprout_yaml,
        cron_yaml,
    })
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every regular file below `dir`, as `/`-separated paths relative to the bundle root.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(String::from) else { continue };
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(&entry.path(), &rel, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// Writes entries under `root`, counting files and bytes against the limits.
struct Writer<'a> {
    root: &'a Path,
    total: u64,
    entries: usize,
    limit_bytes: u64,
}

impl Writer<'_> {
    fn write(&mut self, path: &str, data: &mut dyn Read) -> Result<(), BundleError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(BundleError::TooManyEntries { limit: MAX_ENTRIES });
        }
        let p = self.root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        let mut out = std::fs::File::create(&p).map_err(|e| io_error(&p, e))?;
        // The declared size can lie; `take` bounds what is actually read (a zip bomb stops at
        // the limit instead of filling the disk).
        let room = self.limit_bytes.saturating_sub(self.total);
        // A failed copy is the archive's fault unless the disk filled up.
        let written = std::io::copy(&mut data.take(room + 1), &mut out)
            .map_err(|e| if is_disk_full(&e) { io_error(&p, e) } else { BundleError::Archive(e.to_string()) })?;
        self.total += written;
        if self.total > self.limit_bytes {
            return Err(BundleError::TooLarge { limit_mb: self.limit_bytes / (1024 * 1024) });
        }
        Ok(())
    }
}

fn read_entries(archive: std::fs::File, writer: &mut Writer) -> Result<(), BundleError> {
    let mut ar = tar::Archive::new(std::io::BufReader::new(archive));
    let bad = |e: std::io::Error| BundleError::Archive(e.to_string());
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = entry.path().map_err(bad)?.into_owned();
        let path = safe_relative(&raw).ok_or_else(|| BundleError::UnsafePath(raw.display().to_string()))?;
        writer.write(&path, &mut entry)?;
    }
    Ok(())
}

/// Local file header signature: every zip that holds a file starts with it.
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

fn read_zip_entries(archive: std::fs::File, writer: &mut Writer) -> Result<(), BundleError> {
    let bad = |e: zip::result::ZipError| BundleError::Archive(e.to_string());
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(archive)).map_err(bad)?;
    if zip.len() > MAX_ENTRIES {
        return Err(BundleError::TooManyEntries { limit: MAX_ENTRIES });
    }
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(bad)?;
        if !file.is_file() {
            continue;
        }
        let raw = file.name().map_err(bad)?.into_owned();
        let path = safe_relative(Path::new(&raw)).ok_or_else(|| BundleError::UnsafePath(raw.clone()))?;
        writer.write(&path, &mut file)?;
    }
    Ok(())
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

/// The `sprout.yaml` of a stored bundle, loaded against its definition; the default when the
/// bundle has none. The file was checked at upload, so an error here means the rules changed
/// since: it is reported, not ignored.
pub fn read_sprout_yaml(
    bundle_dir: &Path,
    dockerrun: &sprout_model::Dockerrun,
) -> Result<sprout_model::sprout_yaml::SproutYaml, String> {
    let path = bundle_dir.join(SPROUT_YAML);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    sprout_model::sprout_yaml::load_sprout_yaml(SPROUT_YAML, &text, dockerrun)
        .map(|(y, _)| y)
        .map_err(|diags| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))
}

/// The `cron.yaml` of a stored bundle; None when the bundle has none. Checked at upload, so an
/// error here means the rules changed since: it is reported, not ignored.
pub fn read_cron_yaml(
    bundle_dir: &Path,
    has_web_container: bool,
) -> Result<Option<sprout_plan::cron::CronFile>, String> {
    let path = bundle_dir.join(CRON_YAML);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    sprout_plan::cron::load_cron_yaml(&text, has_web_container)
        .map(|(f, _)| Some(f))
        .map_err(|diags| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))
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

    /// Nothing but stored bundles is left in the directory.
    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn refused_uploads_leave_nothing_behind_and_too_many_entries_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let many: Vec<(String, &str)> = (0..=MAX_ENTRIES).map(|i| (format!("f/{i}"), "x")).collect();
        let mut files: Vec<(&str, &str)> = many.iter().map(|(p, d)| (p.as_str(), *d)).collect();
        files.push(("Dockerrun.aws.json", "{}"));
        let err = store_bundle(d.path(), &zip_of(&files), 1 << 30).unwrap_err();
        assert!(matches!(err, BundleError::TooManyEntries { limit: MAX_ENTRIES }), "{err}");
        let err = store_bundle(d.path(), &tar_of(&files), 1 << 30).unwrap_err();
        assert!(matches!(err, BundleError::TooManyEntries { .. }), "{err}");
        let _ = store_bundle(d.path(), &tar_of(&[("a.txt", "x")]), 1 << 20).unwrap_err();
        let _ = store_bundle(d.path(), &zip_of(&[("Dockerrun.aws.json", &"x".repeat(64 * 1024))]), 4096).unwrap_err();
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn concurrent_uploads_of_the_same_content_each_unpack_apart_and_store_it_once() {
        let d = tempfile::tempdir().unwrap();
        let files: Vec<(String, String)> = (0..300).map(|i| (format!("data/{i}.txt"), format!("{i}"))).collect();
        let mut all: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
        all.push(("Dockerrun.aws.json", "{}"));
        let archive = zip_of(&all);
        let digests: Vec<String> = std::thread::scope(|s| {
            let jobs: Vec<_> = (0..4).map(|_| s.spawn(|| store_bundle(d.path(), &archive, 1 << 30).unwrap())).collect();
            jobs.into_iter().map(|j| j.join().unwrap().digest).collect()
        });
        assert!(digests.windows(2).all(|w| w[0] == w[1]));
        let stored = d.path().join(digests[0].trim_start_matches("sha256:"));
        let mut count = 0;
        let mut stack = vec![stored];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() { stack.push(e.path()) } else { count += 1 }
            }
        }
        assert_eq!(count, 301, "every file once, no mixture of uploads");
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
    }
}
