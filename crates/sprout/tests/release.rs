//! Release tasks end to end (issue 16): a real server, real Docker, the CLI. A task that
//! succeeds runs once, before any instance of the new version is launched, and its output is
//! printed by `sprout deploy` and kept in the logs; one that fails leaves every old instance
//! serving and the environment on its old version; a server killed while the task runs and
//! started again waits for that task instead of running a second.
//!
//! Each task appends a line to a file on a host directory the test allows
//! (`sprout policy set --allow-host-path`), so the runs are counted outside Sprout.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use serde_json::Value;

/// A bundle of the busybox web server on host port 80 (env VERSION=`version`), with the marker
/// directory mounted at /marker when given, and `sprout_yaml` beside it when given.
fn bundle(version: &str, marker: Option<&Path>, sprout_yaml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (volumes, mounts) = match marker {
        Some(m) => (
            format!(r#""volumes":[{{"name":"marker","host":{{"sourcePath":"{}"}}}}],"#, m.display()),
            r#","mountPoints":[{"sourceVolume":"marker","containerPath":"/marker"}]"#.to_string(),
        ),
        None => (String::new(), String::new()),
    };
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        format!(
            r#"{{"AWSEBDockerrunVersion":2,{volumes}"containerDefinitions":[{{"name":"web","image":"{BUSYBOX_IMAGE}",
                "essential":true,"memory":32,"command":["httpd","-f","-p","8080","-h","/www"],
                "portMappings":[{{"hostPort":80,"containerPort":8080}}],
                "environment":[{{"name":"VERSION","value":"{version}"}}]{mounts}}}]}}"#
        ),
    )
    .unwrap();
    if let Some(y) = sprout_yaml {
        std::fs::write(dir.path().join("sprout.yaml"), y).unwrap();
    }
    dir
}

fn events(server: &Server, env: &str) -> Vec<Value> {
    serde_json::from_str(&server.cli_ok(&["events", env, "--limit", "500", "--output", "json"])).unwrap()
}

fn kinds(events: &[Value], kind: &str) -> Vec<Value> {
    events.iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// Lines of the marker file `name` (the task's runs).
fn runs(marker: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(marker.join(name)).unwrap_or_default().lines().map(String::from).collect()
}

fn release_containers(app: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label=sprout.app={app}"), "--filter", "label=sprout.role=release"])
        .lines()
        .map(String::from)
        .collect()
}

/// Creates `prod` with `instances` of v1 (no release task, no host path), then lets the app
/// mount the marker directory.
fn start(prefix: &str, instances: &str) -> (Server, tempfile::TempDir) {
    require_busybox_image();
    let server = Server::start(&unique_app(prefix));
    let marker = tempfile::tempdir().unwrap();
    let b1 = bundle("v1", None, None);
    let b1_path = b1.path().to_str().unwrap();
    server.cli_ok(&[
        "create",
        "prod",
        "--bundle",
        b1_path,
        "--label",
        "v1",
        "--instances",
        instances,
        "--timeout",
        "120",
    ]);
    server.cli_ok(&["policy", "set", &server.app, "--allow-host-path", marker.path().to_str().unwrap()]);
    (server, marker)
}

const MIGRATE: &str = "release:\n  container: web\n  command: [sh, -c, 'echo migrating $VERSION; echo $VERSION >> /marker/runs']\n  timeout: 60\n";

#[test]
fn a_release_task_runs_once_before_the_batches_and_a_failed_one_leaves_the_old_version_serving() {
    let (server, marker) = start("rel", "2");

    // v2 with the bundle's release task: it runs once, before any v2 instance exists.
    let b2 = bundle("v2", Some(marker.path()), Some(MIGRATE));
    let out =
        server.cli(&["deploy", "prod", "--bundle", b2.path().to_str().unwrap(), "--label", "v2", "--timeout", "120"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "deploy failed:\n{stdout}\n{stderr}\n{}", tail(&server.log(), 30));
    assert!(stderr.contains("release | migrating v2"), "the task's output is shown as it runs:\n{stderr}");
    assert_eq!(runs(marker.path(), "runs"), vec!["v2"], "run exactly once");
    let all = events(&server, "prod");
    let position = |pred: &dyn Fn(&Value) -> bool| all.iter().position(pred);
    let succeeded = position(&|e| e["kind"] == "ReleaseTaskSucceeded").expect("a success event");
    let first_v2 =
        position(&|e| e["kind"] == "InstanceLaunched" && e["message"].as_str().unwrap().ends_with("version v2"))
            .expect("v2 instances were launched");
    let first_batch = position(&|e| e["kind"] == "DeployBatchStarted").expect("batches");
    assert!(succeeded < first_v2 && succeeded < first_batch, "the task ends before the first batch: {all:#?}");
    assert_eq!(kinds(&all, "ReleaseTaskStarted").len(), 1);
    // Its instance is removed, and its output kept in the logs.
    eventually("the release instance is removed", 30, || release_containers(&server.app).is_empty());
    let env_dir = server.data_dir.join("instances").join(&server.app).join("prod");
    let saved: Vec<String> = std::fs::read_dir(&env_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("r-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("docker-logs/web.log")).ok())
        .collect();
    assert!(saved.iter().any(|s| s.contains("migrating v2")), "saved logs: {saved:?}");
    let v2_instances = instance_ids(&server.status("prod"));
    assert_eq!(v2_instances.len(), 2);

    // v3 with a failing task given on the command line: nothing is replaced, v2 keeps serving.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let (http, host) = (server.http.clone(), format!("prod.{}.localhost", server.app));
        std::thread::spawn(move || {
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match http_get(&http, &host, "/") {
                    Ok((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let b3 = bundle("v3", Some(marker.path()), Some(MIGRATE));
    let out = server.cli(&[
        "deploy",
        "prod",
        "--bundle",
        b3.path().to_str().unwrap(),
        "--label",
        "v3",
        "--timeout",
        "120",
        "--release",
        "web: sh -c 'echo boom; echo doomed >&2; exit 3'",
    ]);
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a failed release task fails the deploy:\n{stderr}");
    assert!(stderr.contains("release task failed: exit code 3"), "{stderr}");
    assert!(stderr.contains("release | boom"), "{stderr}");
    let status = server.status("prod");
    assert_eq!(status["version"], "v2", "{status:#}");
    assert_eq!(status["status"], "Ready", "{status:#}");
    assert_eq!(instance_ids(&status), v2_instances, "no instance was replaced");
    assert_eq!(runs(marker.path(), "runs"), vec!["v2"], "the flag's task ran in place of the file's");
    let all = events(&server, "prod");
    let failure = kinds(&all, "ReleaseTaskFailed");
    assert_eq!(failure.len(), 1, "{all:#?}");
    let message = failure[0]["message"].as_str().unwrap();
    assert!(message.contains("exit code 3") && message.contains("boom") && message.contains("doomed"), "{message}");
    assert!(!all.iter().any(|e| e["kind"] == "InstanceLaunched" && e["message"].as_str().unwrap().ends_with("v3")));
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 0 && failed == 0, "v2 served throughout: {ok} answered, {failed} failed");
    eventually("the failed task's instance is removed", 30, || release_containers(&server.app).is_empty());
}

#[test]
fn a_server_killed_during_a_release_task_does_not_run_it_twice() {
    let (mut server, marker) = start("relkill", "1");
    let slow = "release:\n  container: web\n  command: [sh, -c, 'echo start >> /marker/slow; sleep 6; echo finished']\n  timeout: 120\n";
    let b2 = bundle("v2", Some(marker.path()), Some(slow));
    let args = ["deploy", "prod", "--bundle", b2.path().to_str().unwrap(), "--label", "v2", "--timeout", "180"];
    server.cli_ok(&[&args[..], &["--no-wait"]].concat());
    let app = server.app.clone();
    let running = || {
        docker(&["ps", "-q", "--filter", &format!("label=sprout.app={app}"), "--filter", "label=sprout.role=release"])
            .lines()
            .count()
            == 1
    };
    eventually("the release task runs", 60, running);
    server.stop(true);
    assert!(running(), "the task outlives the server");
    server.spawn();
    eventually("v2 is Ready on every instance", 120, || {
        let s = server.status("prod");
        s["status"] == "Ready"
            && s["version"] == "v2"
            && s["instances"]
                .as_array()
                .is_some_and(|i| !i.is_empty() && i.iter().all(|i| i["version"] == "v2" && i["in_service"] == true))
    });
    assert_eq!(runs(marker.path(), "slow"), vec!["start"], "the task ran exactly once");
    let all = events(&server, "prod");
    assert_eq!(kinds(&all, "ReleaseTaskStarted").len(), 1, "{all:#?}");
    assert_eq!(kinds(&all, "ReleaseTaskSucceeded").len(), 1, "{all:#?}");
    eventually("the release instance is removed", 30, || release_containers(&server.app).is_empty());
}
