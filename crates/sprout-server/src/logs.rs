//! An environment's logs as files in the data directory, per instance under
//! `instances/APP/ENV/INSTANCE/`: `logs/<container>/...` (the `awseb-logs-<container>`
//! volumes, written by the containers), `docker-logs/<container>.log` (the engine's log,
//! saved when the instance is retired) and `hooks/<container>.log` (what its lifecycle hooks
//! printed). All outlive the instance.
//!
//! Not here: the engine's live logs of running containers (the API asks the engine), HTTP.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Under an instance directory: engine logs saved at retirement.
pub const DOCKER_LOGS_DIR: &str = "docker-logs";
/// Under an instance directory: the `awseb-logs-*` volumes, one directory per container.
pub const FILE_LOGS_DIR: &str = "logs";
/// The most of any one file read for a request: a tail never needs more, and a runaway log
/// must not become a runaway response.
const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;
/// How deep log directories are walked below `logs/<container>/`.
const MAX_DEPTH: usize = 8;
/// The most files read for one instance per request (containers write what they like there).
const MAX_FILES: usize = 200;

/// Some lines of one log of one container of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogChunk {
    pub instance: String,
    pub container: String,
    /// `docker` for the engine's log, else the file's path under the instance directory
    /// (e.g. `logs/web/access.log`).
    pub source: String,
    /// True when the instance still runs.
    pub live: bool,
    pub text: String,
}

/// Writes `chunks` as a tar (`eb logs --all`'s bundle; `sprout logs --bundle` and the console's
/// download): each as `ENV/INSTANCE/<source>`, engine logs as `ENV/INSTANCE/docker-logs/<container>.log`,
/// stamped `mtime` (seconds since the epoch). Returns how many files it wrote.
pub fn write_bundle<W: std::io::Write>(out: W, env: &str, chunks: &[LogChunk], mtime: u64) -> std::io::Result<usize> {
    let mut tar = tar::Builder::new(out);
    for ch in chunks {
        let rel =
            if ch.source == "docker" { format!("{DOCKER_LOGS_DIR}/{}.log", ch.container) } else { ch.source.clone() };
        let mut h = tar::Header::new_gnu();
        h.set_size(ch.text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_cksum();
        tar.append_data(&mut h, format!("{env}/{}/{rel}", ch.instance), ch.text.as_bytes())?;
    }
    tar.into_inner()?;
    Ok(chunks.len())
}

/// Which logs a request wants.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub instance: Option<String>,
    pub container: Option<String>,
    pub tail: usize,
}

impl LogFilter {
    pub fn wants(&self, instance: &str, container: &str) -> bool {
        self.instance.as_deref().is_none_or(|i| i == instance)
            && self.container.as_deref().is_none_or(|c| c == container)
    }
}

/// The last `n` lines of `text` (all of it when it has fewer).
pub fn tail_lines(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(n - 1) {
        Some((i, _)) => &text[i + 1..],
        None => text,
    }
}

/// Instance ids that have a directory under `env_dir`, sorted.
pub fn instance_dirs(env_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(env_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

/// The file logs of one instance: every file under `logs/<container>/` and, when
/// `with_saved_engine_logs`, the `docker-logs/<container>.log` files. Sorted by path.
pub fn read_instance_files(
    instance_dir: &Path,
    instance: &str,
    live: bool,
    with_saved_engine_logs: bool,
    filter: &LogFilter,
) -> Vec<LogChunk> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    for container_dir in sorted_children(&instance_dir.join(FILE_LOGS_DIR)) {
        let Some(container) = file_name(&container_dir) else { continue };
        if filter.wants(instance, &container) && is_real_dir(&container_dir) {
            walk(&container_dir, 0, &mut |p| {
                if files.len() < MAX_FILES {
                    files.push((container.clone(), p));
                }
            });
        }
    }
    for (container, path) in files {
        let source = path.strip_prefix(instance_dir).unwrap_or(&path).to_string_lossy().into_owned();
        out.push(LogChunk {
            instance: instance.to_string(),
            container,
            source,
            live,
            text: read_tail(&path, filter.tail),
        });
    }
    // What lifecycle hooks printed (`hooks/<container>.log`), while the instance runs and after.
    for path in sorted_children(&instance_dir.join(crate::instance::hooks::HOOKS_LOGS_DIR)) {
        let Some(name) = file_name(&path) else { continue };
        let Some(container) = name.strip_suffix(".log") else { continue };
        if filter.wants(instance, container) {
            out.push(LogChunk {
                instance: instance.to_string(),
                container: container.to_string(),
                source: format!("{}/{name}", crate::instance::hooks::HOOKS_LOGS_DIR),
                live,
                text: read_tail(&path, filter.tail),
            });
        }
    }
    if with_saved_engine_logs {
        for path in sorted_children(&instance_dir.join(DOCKER_LOGS_DIR)) {
            let Some(name) = file_name(&path) else { continue };
            let Some(container) = name.strip_suffix(".log") else { continue };
            if filter.wants(instance, container) {
                out.push(LogChunk {
                    instance: instance.to_string(),
                    container: container.to_string(),
                    source: "docker".into(),
                    live,
                    text: read_tail(&path, filter.tail),
                });
            }
        }
    }
    out
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name()?.to_str().map(String::from)
}

fn sorted_children(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    v.sort();
    v
}

/// A directory itself, not a link to one.
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Every regular file below `dir`, never following a symbolic link (a container could point
/// one at a host file, or at a parent to loop), at most `MAX_DEPTH` levels down.
fn walk(dir: &Path, depth: usize, f: &mut dyn FnMut(PathBuf)) {
    for p in sorted_children(dir) {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() && depth < MAX_DEPTH {
            walk(&p, depth + 1, f);
        } else if meta.is_file() {
            f(p);
        }
    }
}

/// Opens `path` only if it is a regular file and still the one looked at (a link swapped in
/// between the look and the open is refused).
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let seen = std::fs::symlink_metadata(path)?;
    let refuse = || std::io::Error::other("not a regular file");
    if !seen.is_file() {
        return Err(refuse());
    }
    let f = std::fs::File::open(path)?;
    let opened = f.metadata()?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return Err(refuse());
    }
    Ok(f)
}

/// The last `n` lines of a file, reading at most `MAX_READ_BYTES` from its end. An unreadable
/// file reads as a line saying why, so one bad file does not hide the others.
fn read_tail(path: &Path, n: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = open_regular(path)?;
        let len = f.metadata()?.len();
        let start = len.saturating_sub(MAX_READ_BYTES);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        f.take(MAX_READ_BYTES).read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        // Starting mid-file means the first line is partial: drop it.
        let text =
            if start > 0 { text.split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default() } else { text };
        Ok(tail_lines(&text, n).to_string())
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})\n", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_lines_counts_from_the_end() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(tail_lines("a\nb\n", 5), "a\nb\n");
        assert_eq!(tail_lines("a\nb\n", 0), "");
        assert_eq!(tail_lines("", 3), "");
    }

    #[test]
    fn reads_volume_files_and_saved_engine_logs_with_filters() {
        let d = tempfile::tempdir().unwrap();
        let inst = d.path().join("i-1");
        std::fs::create_dir_all(inst.join("logs/web/nested")).unwrap();
        std::fs::create_dir_all(inst.join("docker-logs")).unwrap();
        std::fs::write(inst.join("logs/web/access.log"), "GET /1\nGET /2\nGET /3\n").unwrap();
        std::fs::write(inst.join("logs/web/nested/error.log"), "oops\n").unwrap();
        std::fs::write(inst.join("docker-logs/app.log"), "started\nstopping\n").unwrap();
        std::fs::write(inst.join("docker-logs/web.log"), "nginx up\n").unwrap();

        let all = LogFilter { tail: 2, ..Default::default() };
        let got = read_instance_files(&inst, "i-1", false, true, &all);
        let summary: Vec<(String, String, String)> =
            got.iter().map(|c| (c.container.clone(), c.source.clone(), c.text.clone())).collect();
        assert_eq!(
            summary,
            vec![
                ("web".into(), "logs/web/access.log".into(), "GET /2\nGET /3\n".into()),
                ("web".into(), "logs/web/nested/error.log".into(), "oops\n".into()),
                ("app".into(), "docker".into(), "started\nstopping\n".into()),
                ("web".into(), "docker".into(), "nginx up\n".into()),
            ]
        );
        let app_only = LogFilter { container: Some("app".into()), tail: 10, ..Default::default() };
        let got = read_instance_files(&inst, "i-1", false, true, &app_only);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].container, "app");
        assert!(read_instance_files(&inst, "i-1", true, false, &app_only).is_empty(), "no saved engine logs asked for");
        let other = LogFilter { instance: Some("i-2".into()), tail: 10, ..Default::default() };
        assert!(read_instance_files(&inst, "i-1", false, true, &other).is_empty());
        assert_eq!(instance_dirs(d.path()), ["i-1"]);
    }

    #[test]
    fn links_are_never_followed_and_loops_end() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("host-secret");
        std::fs::write(&secret, "root:x:0:0\n").unwrap();
        let inst = d.path().join("i-1");
        let web = inst.join("logs/web");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::write(web.join("access.log"), "GET /\n").unwrap();
        std::os::unix::fs::symlink(&secret, web.join("passwd.log")).unwrap();
        std::os::unix::fs::symlink(&web, web.join("loop")).unwrap();
        std::os::unix::fs::symlink(d.path(), web.join("up")).unwrap();
        // A link in place of a whole container directory.
        std::os::unix::fs::symlink(d.path(), inst.join("logs/evil")).unwrap();

        let got = read_instance_files(&inst, "i-1", false, true, &LogFilter { tail: 10, ..Default::default() });
        let sources: Vec<&str> = got.iter().map(|c| c.source.as_str()).collect();
        assert_eq!(sources, ["logs/web/access.log"]);
        assert!(got.iter().all(|c| !c.text.contains("root:x")));
        assert!(read_tail(&web.join("passwd.log"), 10).starts_with("(cannot read"), "a link is not opened");
    }
}
