//! Following every file under the logs root, like `tail -F` on `<root>/<source>/<file>`:
//! new files are found on each poll, truncated files are read again from the start, and a
//! replaced file (new inode, as after rotation) is followed from its beginning.
//!
//! Not here: printing or counting (see `main`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A line longer than this is shipped in pieces rather than held in memory.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
struct Followed {
    inode: u64,
    offset: u64,
    /// Bytes after the last newline, waiting for the rest of their line.
    partial: Vec<u8>,
}

/// Every file followed, by path.
#[derive(Debug)]
pub struct Tailer {
    root: PathBuf,
    files: BTreeMap<PathBuf, Followed>,
}

impl Tailer {
    pub fn new(root: impl Into<PathBuf>) -> Tailer {
        Tailer { root: root.into(), files: BTreeMap::new() }
    }

    /// Read what was appended since the last poll: `(source, line)` pairs where the source is
    /// the path under the root (`app/access.log`). Unreadable files are skipped this time and
    /// tried again on the next poll.
    pub fn poll(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for path in discover(&self.root) {
            let source = path.strip_prefix(&self.root).unwrap_or(&path).display().to_string();
            if let Ok(lines) = self.read_new(&path) {
                out.extend(lines.into_iter().map(|l| (source.clone(), l)));
            }
        }
        out
    }

    fn read_new(&mut self, path: &Path) -> io::Result<Vec<String>> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let f = self.files.entry(path.to_path_buf()).or_insert(Followed {
            inode: meta.ino(),
            offset: 0,
            partial: Vec::new(),
        });
        if f.inode != meta.ino() || meta.len() < f.offset {
            *f = Followed { inode: meta.ino(), offset: 0, partial: Vec::new() };
        }
        if meta.len() == f.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(f.offset))?;
        let mut new = Vec::new();
        file.take(meta.len() - f.offset).read_to_end(&mut new)?;
        f.offset += new.len() as u64;
        Ok(split_lines(&mut f.partial, &new))
    }
}

/// Regular files one level below each directory of `root`, sorted for a stable order.
fn discover(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(sources) = fs::read_dir(root) else { return found };
    for source in sources.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let Ok(files) = fs::read_dir(source.path()) else { continue };
        found.extend(files.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_file())).map(|e| e.path()));
    }
    found.sort();
    found
}

/// Append `new` to `partial` and take out every complete line (without `\n` or `\r\n`).
pub fn split_lines(partial: &mut Vec<u8>, new: &[u8]) -> Vec<String> {
    partial.extend_from_slice(new);
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(nl) = partial[start..].iter().position(|&b| b == b'\n') {
        let line = &partial[start..start + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        lines.push(String::from_utf8_lossy(line).into_owned());
        start += nl + 1;
    }
    partial.drain(..start);
    if partial.len() > MAX_LINE {
        lines.push(String::from_utf8_lossy(partial).into_owned());
        partial.clear();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_split_across_reads() {
        let mut p = Vec::new();
        assert_eq!(split_lines(&mut p, b"one\ntw"), ["one"]);
        assert_eq!(split_lines(&mut p, b"o\r\nthree\n"), ["two", "three"]);
        assert!(p.is_empty());
    }

    #[test]
    fn follows_appends_truncation_and_new_files() {
        let root = std::env::temp_dir().join(format!("logship-test-{}", std::process::id()));
        fs::create_dir_all(root.join("app")).unwrap();
        let path = root.join("app/access.log");
        fs::write(&path, "a\nb\n").unwrap();
        let mut t = Tailer::new(&root);
        let src = |v: &[&str]| v.iter().map(|l| ("app/access.log".to_string(), l.to_string())).collect::<Vec<_>>();
        assert_eq!(t.poll(), src(&["a", "b"]));
        assert_eq!(t.poll(), src(&[]));
        fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"c\n").unwrap();
        assert_eq!(t.poll(), src(&["c"]));
        fs::write(&path, "d\n").unwrap();
        assert_eq!(t.poll(), src(&["d"]), "truncated file is read from the start");
        fs::create_dir_all(root.join("nginx")).unwrap();
        fs::write(root.join("nginx/error.log"), "e\n").unwrap();
        assert_eq!(t.poll(), [("nginx/error.log".to_string(), "e".to_string())]);
        fs::remove_dir_all(root).unwrap();
    }
}
