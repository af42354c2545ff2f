//! The fault suite (`scripts/faults`, issue 19): each fault against the example under steady
//! traffic, one after another on one rig, and one table: fault, failed requests, seconds to
//! recover from the fault's end, events emitted, duplicate instances afterwards, state
//! afterwards; then, as the last line, one JSON object. Ignored by `cargo test` (it takes minutes
//! and measures); the faults themselves are asserted by the tests in faults.rs and
//! engine_restart.rs.
//!
//! The rig: a network namespace with a Docker engine of its own (live-restore), the Sprout server
//! with its data directory on a small tmpfs, and `sprout proxy` in front (so a server killed
//! mid-deploy drops no request), all on the namespace's address; traffic from the host through
//! the proxy every 10 ms.

#![allow(clippy::disallowed_methods)] // end-to-end: real Docker in real time

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::disk::{SmallDisk, fill};
use common::netns::{Dockerd, Netns, NsCli, NsProcess};
use common::*;

const IMAGES: [&str; 4] = [
    "sprout-example/adserver:latest",
    "sprout-example/nginx:latest",
    "sprout-example/logship:latest",
    "sprout-example/monitor:latest",
];

struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(addr: String, host: String) -> Traffic {
        let (stop, sent, failed) =
            (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let handle = {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if http_get(&addr, &host, "/ad?slot=banner").map(|r| r.0).unwrap_or(0) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Traffic { stop, sent, failed, handle: Some(handle) }
    }

    fn counts(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Fields drop in this order: the server, then the engine, then the namespace.
struct Rig {
    server: Option<NsProcess>,
    dockerd: Dockerd,
    netns: Netns,
    data_dir: PathBuf,
    cli: NsCli,
    work: PathBuf,
}

impl Rig {
    fn start_server(&mut self) {
        let (api, http) = (self.cli.api.clone(), format!("{}:8080", self.netns.inside));
        let socket = self.dockerd.socket();
        // The API listens on the namespace's own private address, a network the test alone owns.
        let args =
            ["server", "--data-dir", self.data_dir.to_str().unwrap(), "--api", &api, "--http", &http, "--insecure-api"];
        let log = self.work.join("server.log");
        self.server = Some(self.netns.spawn(env!("CARGO_BIN_EXE_sprout"), &args, &[("DOCKER_HOST", &socket)], &log));
        eventually("the server answers", 30, || http_get(&api, "localhost", "/healthz").is_ok_and(|r| r.0 == 200));
    }

    fn events(&self, env: &str) -> usize {
        self.cli
            .output(&["events", env, "--limit", "1000"])
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    }

    /// Instances the engine runs that no environment shows (after a settling wait).
    fn duplicates(&self, envs: &[&str]) -> usize {
        let count = || {
            let on_engine: std::collections::BTreeSet<String> = self
                .dockerd
                .docker(&[
                    "ps",
                    "-a",
                    "--filter",
                    &format!("label=sprout.app={}", self.cli.app),
                    "--format",
                    "{{.Label \"sprout.instance\"}}",
                ])
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect();
            let shown: std::collections::BTreeSet<String> =
                envs.iter().flat_map(|e| instance_ids(&self.cli.status(e))).collect();
            on_engine.difference(&shown).count()
        };
        // Retired instances take their stop timeout to go.
        let deadline = Instant::now() + Duration::from_secs(30);
        while count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
        }
        count()
    }

    fn state(&self, env: &str) -> String {
        let s = self.cli.status(env);
        format!(
            "{} {} {}/{}",
            s["status"].as_str().unwrap_or("?"),
            s["health"].as_str().unwrap_or("?"),
            s["in_service"],
            s["desired_instances"]
        )
    }

    fn serving(&self, env: &str, version: &str) -> bool {
        let s = self.cli.status(env);
        s["status"] == "Ready"
            && s["health"] == "Green"
            && s["version"] == version
            && s["in_service"] == s["desired_instances"]
    }
}

struct Row {
    name: &'static str,
    failed: u64,
    recover_s: Option<f64>,
    events: usize,
    duplicates: usize,
    state: String,
    exempt: bool,
}

/// Runs one fault: `fault` does it and returns when it ended; then waits (at most 120 s) for
/// `recovered`.
fn measure(
    rig: &mut Rig,
    traffic: &Traffic,
    name: &'static str,
    env: &str,
    exempt: bool,
    fault: impl FnOnce(&mut Rig) -> Instant,
    recovered: impl Fn(&Rig) -> bool,
) -> Row {
    eprintln!("fault: {name}");
    let (_, failed_before) = traffic.counts();
    let events_before = rig.events(env);
    let ended = fault(rig);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut recover_s = None;
    while Instant::now() < deadline {
        if recovered(rig) {
            recover_s = Some(ended.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(1));
    let duplicates = rig.duplicates(&["web", env]);
    Row {
        name,
        failed: traffic.counts().1 - failed_before,
        recover_s,
        events: rig.events(env).saturating_sub(events_before),
        duplicates,
        state: rig.state(env),
        exempt,
    }
}

fn bundle_copy(tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(example_bundle()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join("release.txt"), tag).unwrap();
    dir
}

#[test]
#[ignore = "the fault suite: run it with scripts/faults"]
fn fault_suite() {
    require_example_images();
    let netns = Netns::create("fs").expect("the fault suite needs root (a network namespace, a tmpfs, a dockerd)");
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    let _disk = SmallDisk::mount(data_dir.clone(), 256).expect("mount a tmpfs for the data directory");
    let mut dockerd = Dockerd::new(work.path().join("engine"), &netns);
    dockerd.start(&netns);
    dockerd.load(&IMAGES);
    let app = unique_app("faults");
    let cli = NsCli { api: format!("{}:4680", netns.inside), data_dir: data_dir.clone(), app: app.clone() };
    let mut rig = Rig { server: None, dockerd, netns, data_dir, cli, work: work.path().to_path_buf() };
    rig.start_server();
    let proxy_addr = format!("{}:8081", rig.netns.inside);
    let token = std::fs::read_to_string(rig.data_dir.join("admin.token")).unwrap();
    let url = format!("http://{}", rig.cli.api);
    let _proxy = rig.netns.spawn(
        env!("CARGO_BIN_EXE_sprout"),
        &["proxy", "--listen", &proxy_addr, "--poll-ms", "200"],
        &[("SPROUT_URL", &url), ("SPROUT_TOKEN", token.trim()), ("SPROUT_APP", &app)],
        &work.path().join("proxy.log"),
    );
    let one = bundle_copy("one");
    rig.cli.ok(&["create", "web", "--bundle", one.path().to_str().unwrap(), "--label", "one", "--instances", "2"]);
    eventually("the proxy serves web", 30, || {
        http_get(&proxy_addr, &format!("web.{app}.localhost"), "/ad?slot=banner").is_ok_and(|r| r.0 == 200)
    });
    let traffic = Traffic::start(proxy_addr, format!("web.{app}.localhost"));
    std::thread::sleep(Duration::from_secs(2));
    let mut rows = Vec::new();

    let before = instance_ids(&rig.cli.status("web"));
    rows.push(measure(
        &mut rig,
        &traffic,
        "container-killed",
        "web",
        false,
        |rig| {
            let filter = format!("label=sprout.instance={}", before[0]);
            let id = rig
                .dockerd
                .docker(&["ps", "-q", "--filter", &filter, "--filter", "label=sprout.container=app"])
                .unwrap();
            rig.dockerd.docker(&["kill", id.trim()]).expect("kill the instance's app container");
            Instant::now()
        },
        |rig| rig.serving("web", "one") && !instance_ids(&rig.cli.status("web")).contains(&before[0]),
    ));

    rig.cli.ok(&["setenv", "web", "IGNORE_SIGTERM=1"]);
    rows.push(measure(
        &mut rig,
        &traffic,
        "ignores-sigterm",
        "web",
        false,
        |rig| {
            // The instances running now ignore SIGTERM: replacing them waits out the stop timeout.
            let started = Instant::now();
            rig.cli.ok(&["setenv", "web", "IGNORE_SIGTERM=0"]);
            started
        },
        |rig| rig.serving("web", "one") && rig.duplicates(&["web"]) == 0,
    ));

    let two = bundle_copy("two");
    rows.push(measure(
        &mut rig,
        &traffic,
        "server-sigkill-mid-deploy",
        "web",
        false,
        |rig| {
            rig.cli.ok(&["deploy", "web", "--bundle", two.path().to_str().unwrap(), "--label", "two", "--no-wait"]);
            std::thread::sleep(Duration::from_millis(1500));
            rig.server.as_mut().unwrap().stop(true);
            std::thread::sleep(Duration::from_secs(1));
            rig.start_server();
            Instant::now()
        },
        |rig| rig.serving("web", "two"),
    ));

    let before = instance_ids(&rig.cli.status("web"));
    rows.push(measure(
        &mut rig,
        &traffic,
        "engine-restart",
        "web",
        false,
        |rig| {
            rig.dockerd.stop();
            std::thread::sleep(Duration::from_secs(5));
            rig.dockerd.start(&rig.netns);
            Instant::now()
        },
        |rig| rig.serving("web", "two") && instance_ids(&rig.cli.status("web")) == before,
    ));

    rows.push(measure(
        &mut rig,
        &traffic,
        "database-locked",
        "web",
        false,
        |rig| {
            let db = rig.data_dir.join("sprout.db");
            let script = "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\ntime.sleep(8)\n";
            let mut locker = std::process::Command::new("python3").args(["-c", script]).arg(&db).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            let refused = rig.cli.output(&["policy", "reset", &rig.cli.app.clone()]);
            let said = text(&refused.stderr);
            assert!(!refused.status.success() && said.contains("busy"), "a write while locked: {said}");
            let _ = locker.wait();
            Instant::now()
        },
        |rig| rig.cli.output(&["policy", "reset", &rig.cli.app.clone()]).status.success() && rig.serving("web", "two"),
    ));

    let three = bundle_copy("three");
    rows.push(measure(
        &mut rig,
        &traffic,
        "full-disk",
        "web",
        false,
        |rig| {
            let filler = rig.data_dir.join("filler");
            fill(&filler);
            let refused =
                rig.cli.output(&["deploy", "web", "--bundle", three.path().to_str().unwrap(), "--label", "three"]);
            let said = text(&refused.stderr);
            assert!(!refused.status.success() && said.contains("is full"), "a deploy onto a full disk: {said}");
            std::thread::sleep(Duration::from_secs(3));
            std::fs::remove_file(&filler).unwrap();
            Instant::now()
        },
        |rig| {
            let out =
                rig.cli.output(&["deploy", "web", "--bundle", three.path().to_str().unwrap(), "--label", "three"]);
            out.status.success() && rig.serving("web", "three")
        },
    ));

    let hog = hog_bundle(Some(3));
    let fixed = hog_bundle(None);
    rig.cli.ok(&["create", "hog", "--bundle", hog.path().to_str().unwrap(), "--label", "hog", "--instances", "1"]);
    rows.push(measure(
        &mut rig,
        &traffic,
        "oom-crash-loop",
        "hog",
        true,
        |rig| {
            eventually("the crash loop seen (Degraded)", 180, || {
                rig.cli.ok(&["health", "hog", "--output", "json"]).contains("\"Degraded\"")
            });
            rig.cli.ok(&["deploy", "hog", "--bundle", fixed.path().to_str().unwrap(), "--label", "fixed", "--no-wait"]);
            Instant::now()
        },
        |rig| rig.serving("hog", "fixed"),
    ));

    let (sent, failed) = traffic.counts();
    drop(traffic);
    println!(
        "\n{:<28} {:>7} {:>10} {:>7} {:>11}  state afterwards",
        "fault", "failed", "recover_s", "events", "duplicates"
    );
    for r in &rows {
        let recover = r.recover_s.map_or("never".to_string(), |s| format!("{s:.1}"));
        let exempt = if r.exempt { " (exempt)" } else { "" };
        println!(
            "{:<28} {:>7} {:>10} {:>7} {:>11}  {}{exempt}",
            r.name, r.failed, recover, r.events, r.duplicates, r.state
        );
    }
    println!("{sent} requests through the proxy, {failed} failed");
    let faults: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "name": r.name, "failed_requests": r.failed, "recover_s": r.recover_s,
                "duplicates": r.duplicates, "events": r.events, "state": r.state,
            });
            if r.exempt {
                v["exempt"] = serde_json::json!(true);
            }
            v
        })
        .collect();
    println!("{}", serde_json::json!({"requests": sent, "failed": failed, "faults": faults}));
}
