//! The Docker engine restarting under traffic (issue 19). The test runs a Docker engine of its own
//! with `live-restore`, and a Sprout server beside it, in a network namespace of their own (the
//! machine's engine is never stopped; see ../shared/notes/multi-node-swarm.md). It stops that
//! engine while requests flow, starts it again, and checks: no request failed, the engine's
//! absence was said once, and the same instances serve afterwards (none replaced, none doubled).

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A network namespace joined to the host by a veth pair: the host is .1, the namespace .2.
struct Netns {
    name: String,
    host_veth: String,
    inside: String,
}

impl Netns {
    fn create() -> Option<Netns> {
        let n = std::process::id() % 200 + 20;
        let (name, host_veth, peer) = (format!("sprout-er{n}"), format!("spe{n}h"), format!("spe{n}n"));
        let (host, inside) = (format!("10.233.{n}.1"), format!("10.233.{n}.2"));
        let ns = Netns { name: name.clone(), host_veth: host_veth.clone(), inside: inside.clone() };
        let steps: [&[&str]; 8] = [
            &["netns", "add", &name],
            &["link", "add", &host_veth, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &name],
            &["addr", "add", &format!("{host}/24"), "dev", &host_veth],
            &["link", "set", &host_veth, "up"],
            &["-n", &name, "addr", "add", &format!("{inside}/24"), "dev", &peer],
            &["-n", &name, "link", "set", &peer, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        steps.iter().all(|args| run("ip", args)).then_some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        run("ip", &["link", "del", &self.host_veth]);
        run("ip", &["netns", "del", &self.name]);
    }
}

/// A dockerd of the test's own inside the namespace, with live-restore.
struct Dockerd {
    dir: PathBuf,
    netns: String,
    child: Option<Child>,
}

impl Dockerd {
    fn socket(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    fn start(&mut self) {
        std::fs::write(self.dir.join("daemon.json"), r#"{"live-restore": true}"#).unwrap();
        let d = |name: &str| self.dir.join(name).display().to_string();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.netns))
            .args(["dockerd", "--config-file", &d("daemon.json"), "--data-root", &d("root"), "--exec-root"])
            .args([&d("exec"), "--pidfile", &d("pid"), "-H", &self.socket(), "--containerd-namespace", "sprouter"])
            .args(["--containerd-plugins-namespace", "sprouterp", "--cgroup-parent", "sprouter"])
            .args(["--storage-driver", "fuse-overlayfs"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        self.child = Some(child);
        eventually("the test's dockerd answers", 60, || self.docker(&["info"]).is_some());
    }

    /// Stops the engine as `systemctl restart docker` would: SIGTERM, then wait for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            run("kill", &["-TERM", &child.id().to_string()]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn docker(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("docker").args(args).env("DOCKER_HOST", self.socket()).output().ok()?;
        out.status.success().then(|| text(&out.stdout))
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if self.child.is_some()
            && let Some(ids) = self.docker(&["ps", "-aq"])
        {
            for id in ids.lines() {
                self.docker(&["rm", "-f", id]);
            }
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Sprout server inside the namespace, on the namespace's address.
struct NsServer {
    child: Child,
    api: String,
    http: String,
    data_dir: PathBuf,
    app: String,
}

impl NsServer {
    fn cli(&self, args: &[&str]) -> String {
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sprout"))
            .args(args)
            .env("SPROUT_URL", format!("http://{}", self.api))
            .env("SPROUT_TOKEN", token.trim())
            .env("SPROUT_APP", &self.app)
            .output()
            .unwrap();
        assert!(out.status.success(), "sprout {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.cli(&["status", "web", "--output", "json"])).unwrap()
    }
}

impl Drop for NsServer {
    fn drop(&mut self) {
        run("kill", &["-TERM", &self.child.id().to_string()]);
        let _ = self.child.wait();
    }
}

fn bundle(dir: &Path) {
    std::fs::write(
        dir.join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"app","image":"sprout-example/adserver:latest",
            "essential":true,"memory":32,"portMappings":[{"hostPort":80,"containerPort":8080}],
            "environment":[{"name":"PORT","value":"8080"}]}]}"#,
    )
    .unwrap();
}

#[test]
fn an_engine_restart_under_traffic_fails_no_request_and_replaces_nothing() {
    require_example_images();
    let Some(netns) = Netns::create() else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must be able to create a network namespace");
        eprintln!("skipped: cannot create a network namespace here (not root)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut dockerd = Dockerd { dir: work.path().join("engine"), netns: netns.name.clone(), child: None };
    std::fs::create_dir_all(&dockerd.dir).unwrap();
    dockerd.start();
    let saved = work.path().join("adserver.tar");
    assert!(run("docker", &["save", "-o", saved.to_str().unwrap(), "sprout-example/adserver:latest"]));
    assert!(dockerd.docker(&["load", "-i", saved.to_str().unwrap()]).is_some(), "image loaded into the test's engine");

    let app = unique_app("engine");
    let data_dir = work.path().join("data");
    let (api, http) = (format!("{}:4680", netns.inside), format!("{}:8080", netns.inside));
    let log = std::fs::File::create(work.path().join("server.log")).unwrap();
    let child = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{}", netns.name))
        .arg(env!("CARGO_BIN_EXE_sprout"))
        .args(["server", "--data-dir", data_dir.to_str().unwrap(), "--api", &api, "--http", &http])
        .env("DOCKER_HOST", dockerd.socket())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = NsServer { child, api: api.clone(), http: http.clone(), data_dir, app: app.clone() };
    eventually("the server answers", 30, || http_get(&api, "localhost", "/healthz").is_ok_and(|r| r.0 == 200));
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path());
    server.cli(&["create", "web", "--bundle", dir.path().to_str().unwrap(), "--label", "one", "--instances", "2"]);
    let before = instance_ids(&server.status());
    assert_eq!(before.len(), 2);

    // Steady traffic through the load balancer for the whole test.
    let (stop, sent, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let traffic = {
        let (stop, sent, failed, http) = (stop.clone(), sent.clone(), failed.clone(), server.http.clone());
        let host = format!("web.{app}.localhost");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                if http_get(&http, &host, "/health").map(|r| r.0).unwrap_or(0) != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));

    dockerd.stop();
    let stopped_at = Instant::now();
    let mut shown = serde_json::Value::Null;
    eventually("the engine's absence said in status", 30, || {
        shown = server.status();
        shown["causes"].to_string().contains("container engine unavailable")
    });
    std::thread::sleep(Duration::from_secs(3));
    let during = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));

    dockerd.start();
    let restarted_at = Instant::now();
    eventually("both instances in service and Green again", 60, || {
        shown = server.status();
        shown["in_service"] == 2 && shown["health"] == "Green"
    });
    let recovered_s = restarted_at.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();

    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let events = server.cli(&["events", "web", "--limit", "200"]);
    let containers = dockerd.docker(&["ps", "-aq", "--filter", &format!("label=sprout.app={app}")]).unwrap();
    println!(
        "engine down for {:.1} s: {} requests ({} while down), {failed} failed; Green {recovered_s:.1} s after the engine returned",
        restarted_at.duration_since(stopped_at).as_secs_f64(),
        sent,
        during.0
    );
    assert_eq!(failed, 0, "requests failed across the engine restart; events:\n{events}");
    assert_eq!(instance_ids(&shown), before, "the same instances serve: none replaced");
    assert_eq!(containers.lines().count(), 2, "no duplicate container: {containers}");
    assert_eq!(events.matches("Container engine unavailable").count(), 1, "said once:\n{events}");
    assert!(!events.contains("is unhealthy"), "no instance judged for the engine's absence:\n{events}");
}
