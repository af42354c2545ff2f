//! Helpers for end-to-end tests: a real `sprout server` process on free loopback ports with
//! its own data directory, the CLI run as a process, raw HTTP through the load balancer, and
//! Docker inspected with the `docker` command. Everything is bounded in time.

#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

pub mod disk;
pub mod netns;
pub mod swarm;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sprout");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn example_bundle() -> PathBuf {
    repo_root().join("examples/adserver")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A unique, valid application name for one test.
pub fn unique_app(prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{:x}", (n ^ std::process::id() as u128) & 0xffffff)
}

/// The example's images must have been built (scripts/build-images; scripts/test does it).
pub fn require_example_images() {
    for img in [
        "sprout-example/adserver:latest",
        "sprout-example/nginx:latest",
        "sprout-example/logship:latest",
        "sprout-example/monitor:latest",
    ] {
        let ok = Command::new("docker")
            .args(["image", "inspect", img])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "image {img} is missing: run scripts/build-images first (scripts/test does)");
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub data_dir: PathBuf,
    pub api: String,
    pub http: String,
    pub app: String,
    /// More `sprout server` flags, for the next `spawn` (registry mirrors or back-off, say).
    pub extra_args: Vec<String>,
    /// Environment variables of the server process (`SPROUT_CA_FILE`, say), for the next `spawn`.
    pub extra_env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(app: &str) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_in(app, tmp.path().join("data"));
        s._tmp = Some(tmp);
        s
    }

    /// A server whose data directory is `data_dir` (a small disk of the test's own, say).
    pub fn start_in(app: &str, data_dir: PathBuf) -> Server {
        Server::start_in_with(app, data_dir, &[])
    }

    /// A server started with more `sprout server` flags (registry back-off, say).
    pub fn start_with(app: &str, extra_args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_in_with(app, tmp.path().join("data"), extra_args);
        s._tmp = Some(tmp);
        s
    }

    fn start_in_with(app: &str, data_dir: PathBuf, extra_args: &[&str]) -> Server {
        Server::start_in_with_env(app, data_dir, extra_args, &[])
    }

    /// A server started with more flags and environment variables.
    pub fn start_with_env(app: &str, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_in_with_env(app, tmp.path().join("data"), extra_args, env);
        s._tmp = Some(tmp);
        s
    }

    fn start_in_with_env(app: &str, data_dir: PathBuf, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        // A free port is free when looked at; another test's server may take it before this one
        // binds it. Then this server exits at once saying so, and gets other ports.
        for _ in 0..3 {
            let mut s = Server {
                child: None,
                data_dir: data_dir.clone(),
                api: format!("127.0.0.1:{}", free_port()),
                http: format!("127.0.0.1:{}", free_port()),
                app: app.to_string(),
                extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
                extra_env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                _tmp: None,
            };
            if s.try_spawn() {
                return s;
            }
            if !s.log().contains("Address already in use") {
                panic!("server did not answer /healthz; log:\n{}", s.log());
            }
        }
        panic!("no free ports for the server after 3 tries");
    }

    /// Start the server process (again) on the same data directory and addresses.
    pub fn spawn(&mut self) {
        assert!(self.try_spawn(), "server did not answer /healthz; log:\n{}", self.log());
    }

    /// Starts the server process; false when it exited or did not answer within 30 s.
    fn try_spawn(&mut self) -> bool {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.data_dir.with_extension("log")).unwrap();
        let child = Command::new(BIN)
            .args(["server", "--data-dir"])
            .arg(&self.data_dir)
            .args(["--api", &self.api, "--http", &self.http])
            .args(&self.extra_args)
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sprout server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(&self.api, "localhost", "/healthz").map(|r| r.0 == 200).unwrap_or(false) {
                return true;
            }
            if self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some()) {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap().trim().to_string()
    }

    /// Stop the server process: SIGTERM (graceful) or SIGKILL.
    pub fn stop(&mut self, kill: bool) {
        if let Some(mut c) = self.child.take() {
            let sig = if kill { "-KILL" } else { "-TERM" };
            let _ = Command::new("kill").args([sig, &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run the CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("SPROUT_URL", format!("http://{}", self.api))
            .env("SPROUT_TOKEN", self.token())
            .env("SPROUT_APP", &self.app)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run sprout")
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "sprout {args:?} failed:\nstdout: {}\nstderr: {}\nserver log tail:\n{}",
            text(&out.stdout),
            text(&out.stderr),
            tail(&self.log(), 40)
        );
        text(&out.stdout)
    }

    pub fn status(&self, env: &str) -> serde_json::Value {
        serde_json::from_str(&self.cli_ok(&["status", env, "--output", "json"])).unwrap()
    }

    /// GET through the load balancer with the environment's host name.
    pub fn get(&self, env: &str, path: &str) -> std::io::Result<(u16, String)> {
        http_get(&self.http, &format!("{env}.{}.localhost", self.app), path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(false);
        // Leave nothing behind, whatever the test did.
        remove_labelled(&self.app);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
pub fn http_get(addr: &str, host: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let t = text(&buf);
    let status = t.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = t.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    text(&out.stdout)
}

/// Ids of containers carrying `sprout.app=<app>`, running or not.
pub fn containers_of(app: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label=sprout.app={app}")]).lines().map(String::from).collect()
}

pub fn networks_of(app: &str) -> Vec<String> {
    docker(&["network", "ls", "-q", "--filter", &format!("label=sprout.app={app}")]).lines().map(String::from).collect()
}

pub fn remove_labelled(app: &str) {
    let ids = containers_of(app);
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        docker(&args);
    }
    for n in networks_of(app) {
        docker(&["network", "rm", &n]);
    }
}

/// Poll `cond` every 250 ms for at most `secs`.
pub fn eventually(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("gave up after {secs}s waiting for: {what}");
}

/// Instance ids of an environment from `sprout status --output json`.
pub fn instance_ids(status: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = status["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

/// A one-container bundle of the example's ad server behind host port 80, under a 16 MiB memory
/// limit; with `hog_after_s` it eats memory past that limit that many seconds after every start
/// (an OOM kill, again and again: a crash loop).
pub fn hog_bundle(hog_after_s: Option<u64>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let hog = hog_after_s.map(|s| format!(r#",{{"name":"HOG_AFTER_S","value":"{s}"}}"#)).unwrap_or_default();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        format!(
            r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{{"name":"hog","image":"sprout-example/adserver:latest",
                "essential":true,"memory":16,"portMappings":[{{"hostPort":80,"containerPort":8080}}],
                "environment":[{{"name":"PORT","value":"8080"}}{hog}]}}]}}"#
        ),
    )
    .unwrap();
    dir
}

/// The image of a shell and a web server, built offline from the host's static busybox (Debian's
/// `busybox-static`, which scripts/ensure-deps installs): `sh`, `httpd` serving `/www` (an
/// `index.html`), `echo`, `cat`, `sleep`. Built once per machine; serialized between tests.
/// A one-container bundle: busybox's httpd on port 8080 behind host port 80; `mark` makes
/// versions differ.
pub fn busybox_web_bundle(mark: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        format!(
            r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{{"name":"web","image":"{BUSYBOX_IMAGE}",
                "essential":true,"memory":32,"command":["httpd","-f","-p","8080","-h","/www"],
                "portMappings":[{{"hostPort":80,"containerPort":8080}}],
                "environment":[{{"name":"MARK","value":"{mark}"}}]}}]}}"#
        ),
    )
    .unwrap();
    dir
}

pub const BUSYBOX_IMAGE: &str = "sprout-test/busybox-shell:1";

pub fn require_busybox_image() {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if Command::new("docker").args(["image", "inspect", BUSYBOX_IMAGE]).output().is_ok_and(|o| o.status.success()) {
        return;
    }
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "/bin/busybox is missing: run scripts/ensure-deps (apt-get install busybox-static)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::copy(busybox, dir.path().join("bin/busybox")).unwrap();
    for applet in ["sh", "httpd", "echo", "cat", "sleep", "wc", "tr", "true", "false", "env"] {
        std::os::unix::fs::symlink("busybox", dir.path().join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.path().join("www/index.html"), "ok\n").unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY bin /bin\nCOPY www /www\nENV PATH=/bin\nCMD [\"sh\"]\n",
    )
    .unwrap();
    let out = Command::new("docker").args(["build", "-q", "-t", BUSYBOX_IMAGE]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "docker build of {BUSYBOX_IMAGE} failed: {}", text(&out.stderr));
}
