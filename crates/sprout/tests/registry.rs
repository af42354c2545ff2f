//! Private registries end to end (issue 12), against Debian's `docker-registry` (the CNCF
//! Distribution registry) with htpasswd (bcrypt) authentication, started here on a loopback port
//! with a configuration of the test's own (Docker pulls plain HTTP from 127.0.0.0/8). The
//! example's images are pushed into it under registry names, and those names are removed from
//! the engine, so every deploy must pull.
//!
//! - a private image fails clearly without `sprout registry login` and runs after it; six
//!   instances scaled out at once pull each image once; with the registry stopped, a scale-out
//!   of the deployed version still succeeds;
//! - the seed's outage replayed: the password changes while three instances serve; a scale-out
//!   to eight (done without the registry: the version's images are pinned) and a deploy follow;
//!   the registry's own log shows at most one refused login per back-off window, the running
//!   instances keep serving (no failed request), and after `registry login` with the new
//!   password the deploy completes on all eight without a restart;
//! - a mirror (`--registry-mirror ORIGIN=MIRROR`) serves the images of a registry that is down.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

const IMAGES: [&str; 4] = ["adserver", "nginx", "logship", "monitor"];

/// A Distribution registry of the test's own.
struct Registry {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start(password: &str) -> Registry {
        assert!(
            Command::new("docker-registry").arg("--version").output().is_ok(),
            "docker-registry is not installed: run scripts/ensure-deps (Debian's docker-registry and apache2-utils)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: sprout-test\n    path: {htpasswd}\n",
            root = dir.path().join("data").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut r = Registry { child: None, dir, port };
        r.set_password(password);
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        self.child = Some(child);
        eventually("the registry answers", 20, || {
            http_get(&self.host(), "localhost", "/v2/").is_ok_and(|r| r.0 == 401)
        });
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry re-reads its htpasswd file when it changes.
    fn set_password(&self, password: &str) {
        let file = self.dir.path().join("htpasswd");
        let out = Command::new("htpasswd").arg("-Bbc").arg(&file).args(["ci", password]).output().unwrap();
        assert!(out.status.success(), "htpasswd: {}", text(&out.stderr));
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.path().join("registry.log")).unwrap_or_default()).into_owned()
    }

    /// Pushes the example's images as HOST/shop/NAME:TAG with a Docker client configuration of
    /// the test's own, then removes those names from the engine (the example's own names stay).
    fn push_example(&self, tag: &str, password: &str) {
        let config = self.dir.path().join("docker-client");
        std::fs::create_dir_all(&config).unwrap();
        let docker_with = |args: &[&str], input: Option<&str>| {
            let mut child = Command::new("docker")
                .env("DOCKER_CONFIG", &config)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if let Some(input) = input {
                child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            }
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "docker {args:?}: {}", text(&out.stderr));
        };
        docker_with(&["login", &self.host(), "-u", "ci", "--password-stdin"], Some(password));
        for name in IMAGES {
            let target = format!("{}/shop/{name}:{tag}", self.host());
            docker_with(&["tag", &format!("sprout-example/{name}:latest"), &target], None);
            docker_with(&["push", "-q", &target], None);
            docker_with(&["rmi", &target], None);
        }
    }

    /// Refused logins, in the registry's own words, with their times.
    fn auth_failures(&self) -> Vec<chrono::DateTime<chrono::Utc>> {
        self.log()
            .lines()
            .filter(|l| l.contains("error authenticating user"))
            .filter_map(|l| l.split("time=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect()
    }

    /// Manifest resolutions of shop/NAME by tag: one per pull (and one per digest look-up). A
    /// pull whose layers are on the engine already fetches nothing more.
    fn pulls(&self, name: &str) -> usize {
        let needle = format!("\"HEAD /v2/shop/{name}/manifests/");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The example bundle with its images renamed into the registry under `tag`.
fn bundle_in(registry: &Registry, tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(example_bundle()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    let p = dir.path().join("Dockerrun.aws.json");
    let mut text = std::fs::read_to_string(&p).unwrap();
    for name in IMAGES {
        text =
            text.replace(&format!("sprout-example/{name}:latest"), &format!("{}/shop/{name}:{tag}", registry.host()));
    }
    std::fs::write(&p, text).unwrap();
    dir
}

fn login(server: &Server, host: &str, password: &str) {
    let mut child = Command::new(BIN)
        .args(["registry", "login", host, "--username", "ci", "--password-stdin"])
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", server.token())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "registry login: {}", text(&out.stderr));
}

/// (instances in service of `version`, instances of other versions) in `sprout status`.
fn serving(server: &Server, env: &str, version: &str) -> (usize, usize) {
    let status = server.status(env);
    let all = status["instances"].as_array().cloned().unwrap_or_default();
    let of = all.iter().filter(|i| i["version"] == version && i["in_service"] == true).count();
    (of, all.iter().filter(|i| i["version"] != version).count())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn private_images_fail_clearly_without_login_pull_once_and_outlive_their_registry() {
    require_example_images();
    let registry = Registry::start("first-pw");
    registry.push_example("t1", "first-pw");
    let app = unique_app("rpriv");
    let server = Server::start_with(&app, &["--instance-network-pool", "100.96.0.0/16"]);
    let bundle = bundle_in(&registry, "t1");

    // Without a login: refused at once, naming the registry and the command that fixes it.
    let out = server.cli(&["create", "web", "--bundle", path(bundle.path()), "--instances", "0", "--label", "v1"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&registry.host()) && err.contains("sprout registry login"), "{err}");

    login(&server, &registry.host(), "first-pw");
    let list = server.cli_ok(&["registry", "list", "--output", "json"]);
    assert!(list.contains("\"ci\"") && !list.contains("first-pw"), "{list}");
    let stored = std::fs::read(server.data_dir.join("sprout.db")).unwrap();
    assert!(!stored.windows(8).any(|w| w == b"first-pw"), "the password is not in the database in the clear");

    // At zero instances nothing is pulled; six launched at once pull each image once.
    server.cli_ok(&["create", "web", "--bundle", path(bundle.path()), "--instances", "0", "--label", "v1"]);
    // (The create's digest look-up fetches the manifest too: counted from here.)
    let before: Vec<usize> = IMAGES.iter().map(|name| registry.pulls(name)).collect();
    server.cli_ok(&["scale", "web", "6"]);
    eventually("6 instances in service", 240, || serving(&server, "web", "v1").0 == 6);
    for (name, before) in IMAGES.iter().zip(before) {
        let log: Vec<String> =
            registry.log().lines().filter(|l| l.starts_with("127.0.0.1")).map(String::from).collect();
        assert_eq!(registry.pulls(name) - before, 1, "{name} pulled once for six instances:\n{}", log.join("\n"));
    }
    let versions = server.cli_ok(&["versions"]);
    assert!(
        versions.contains("sha256:") && versions.contains(&format!("{}/shop/adserver:t1", registry.host())),
        "{versions}"
    );

    // The registry goes away: the deployed version still scales out (its images are pinned).
    let mut registry = registry;
    registry.stop();
    server.cli_ok(&["scale", "web", "7"]);
    eventually("7 instances in service", 120, || serving(&server, "web", "v1").0 == 7);
}

#[test]
fn the_seeds_outage_replayed_one_refusal_per_window_and_login_completes_the_deploy() {
    require_example_images();
    let registry = Registry::start("old-pw");
    for tag in ["t1", "t2"] {
        registry.push_example(tag, "old-pw");
    }
    let app = unique_app("rout");
    // Each test's server has a pool of its own: the two run side by side, and a server refuses a
    // pool the other's instance networks are routed in.
    let server = Server::start_with(
        &app,
        &["--registry-backoff", "4", "--registry-backoff-max", "8", "--instance-network-pool", "100.97.0.0/16"],
    );
    login(&server, &registry.host(), "old-pw");
    let (b1, b2) = (bundle_in(&registry, "t1"), bundle_in(&registry, "t2"));
    server.cli_ok(&["create", "web", "--bundle", path(b1.path()), "--instances", "3", "--label", "v1"]);
    assert_eq!(serving(&server, "web", "v1").0, 3);

    // Steady traffic to the running instances, throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let traffic = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let (http, host) = (server.http.clone(), format!("web.{app}.localhost"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match http_get(&http, &host, "/") {
                    Ok((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // The password is changed at the registry; a scale-out to eight and a deploy follow (Sprout
    // refuses a scale while a deploy runs, so the scale comes first). The scale-out of the
    // running version needs no registry: its images are pinned and present.
    registry.set_password("new-pw");
    let since = chrono::Utc::now();
    server.cli_ok(&["scale", "web", "8"]);
    eventually("8 instances of v1 in service", 240, || serving(&server, "web", "v1").0 == 8);
    assert!(registry.auth_failures().iter().all(|t| *t < since), "the scale-out asked the registry nothing");
    server.cli_ok(&["deploy", "web", "--bundle", path(b2.path()), "--label", "v2", "--no-wait"]);
    let watched = Instant::now();
    std::thread::sleep(Duration::from_secs(14));
    let failures: Vec<_> = registry.auth_failures().into_iter().filter(|t| *t >= since).collect();
    let window = watched.elapsed().as_secs_f64();
    // One refused attempt is one burst in the registry's log: Docker's daemon asks for the
    // manifest with HEAD, then again with GET, both refused within milliseconds.
    let mut attempts: Vec<Vec<chrono::DateTime<chrono::Utc>>> = Vec::new();
    for t in &failures {
        match attempts.last_mut() {
            Some(burst) if (*t - burst[0]).num_milliseconds() < 1000 => burst.push(*t),
            _ => attempts.push(vec![*t]),
        }
    }
    eprintln!("refused logins in the registry's log over {window:.0} s: {failures:?}");
    // Windows of 4 s then 8 s: attempts at about 0, 4 and 12 s; never two in one window.
    assert!(!attempts.is_empty() && attempts.len() <= 3, "{} attempts in {window:.0} s: {failures:?}", attempts.len());
    assert!(attempts.iter().all(|b| b.len() <= 2), "one attempt, one HEAD and one GET: {failures:?}");
    for pair in attempts.windows(2) {
        let gap = (pair[1][0] - pair[0][0]).num_milliseconds();
        assert!(gap >= 3500, "two attempts {gap} ms apart: {failures:?}");
    }
    assert_eq!(serving(&server, "web", "v2"), (0, 8), "the running instances are untouched");
    assert_eq!(serving(&server, "web", "v1").0, 8);
    let health = server.cli_ok(&["health", "web"]);
    assert!(health.contains("refused the credential of user ci"), "{health}");
    let events = server.cli_ok(&["events", "web", "--limit", "200"]);
    assert_eq!(events.matches("refused the credential of user ci").count(), 1, "{events}");

    // Log in with the new password: no restart, the deploy completes on all eight.
    login(&server, &registry.host(), "new-pw");
    eventually("8 instances of v2 in service", 300, || serving(&server, "web", "v2") == (8, 0));
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("traffic during the outage and the deploy: {ok} answered, {failed} failed");
    assert!(ok > 100, "{ok} requests answered");
    assert_eq!(failed, 0, "no request to the running instances failed");
}

/// `--registry-mirror ORIGIN=MIRROR`: the bundle names images of a registry that is down; the
/// mirror (with its own login) has them, and the environment comes up from it alone.
#[test]
fn a_mirror_serves_the_images_of_a_registry_that_is_down() {
    require_example_images();
    let mut origin = Registry::start("origin-pw");
    let mirror = Registry::start("mirror-pw");
    mirror.push_example("t1", "mirror-pw");
    let bundle = bundle_in(&origin, "t1");
    origin.stop();
    let app = unique_app("rmirror");
    let mapping = format!("{}={}", origin.host(), mirror.host());
    let server = Server::start_with(&app, &["--registry-mirror", &mapping, "--instance-network-pool", "100.98.0.0/16"]);
    login(&server, &mirror.host(), "mirror-pw");
    server.cli_ok(&["create", "web", "--bundle", path(bundle.path()), "--instances", "2", "--label", "v1"]);
    eventually("2 instances in service", 240, || serving(&server, "web", "v1").0 == 2);
    for name in IMAGES {
        assert!(mirror.pulls(name) >= 1, "{name} came from the mirror:\n{}", mirror.log());
    }
    let host = format!("web.{app}.localhost");
    assert_eq!(http_get(&server.http, &host, "/").map(|r| r.0).unwrap_or(0), 200);
}
