//! The Docker engine restarting under traffic (issue 19). The test runs a Docker engine of its own
//! with `live-restore`, and a Sprout server beside it, in a network namespace of their own (the
//! machine's engine is never stopped; see ../shared/notes/multi-node-swarm.md). It stops that
//! engine while requests flow, starts it again, and checks: no request failed, the engine's
//! absence was said once, and the same instances serve afterwards (none replaced, none doubled).

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::netns::{Dockerd, Netns, NsCli};
use common::*;

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
    let Some(netns) = Netns::create("er") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must be able to create a network namespace");
        eprintln!("skipped: cannot create a network namespace here (not root)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut dockerd = Dockerd::new(work.path().join("engine"), &netns);
    dockerd.start(&netns);
    dockerd.load(&["sprout-example/adserver:latest"]);

    let app = unique_app("engine");
    let data_dir = work.path().join("data");
    let (api, http) = (format!("{}:4680", netns.inside), format!("{}:8080", netns.inside));
    let socket = dockerd.socket();
    // The API listens on the namespace's own private address, a network the test alone owns.
    let args = ["server", "--data-dir", data_dir.to_str().unwrap(), "--api", &api, "--http", &http, "--insecure-api"];
    let _server =
        netns.spawn(env!("CARGO_BIN_EXE_sprout"), &args, &[("DOCKER_HOST", &socket)], &work.path().join("server.log"));
    let cli = NsCli { api: api.clone(), data_dir, app: app.clone() };
    eventually("the server answers", 30, || http_get(&api, "localhost", "/healthz").is_ok_and(|r| r.0 == 200));
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path());
    cli.ok(&["create", "web", "--bundle", dir.path().to_str().unwrap(), "--label", "one", "--instances", "2"]);
    let before = instance_ids(&cli.status("web"));
    assert_eq!(before.len(), 2);

    // Steady traffic through the load balancer for the whole test.
    let (stop, sent, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let traffic = {
        let (stop, sent, failed, http) = (stop.clone(), sent.clone(), failed.clone(), http.clone());
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
        shown = cli.status("web");
        shown["causes"].to_string().contains("container engine unavailable")
    });
    std::thread::sleep(Duration::from_secs(3));
    let sent_while_down = sent.load(Ordering::Relaxed);

    dockerd.start(&netns);
    let restarted_at = Instant::now();
    eventually("both instances in service and Green again", 60, || {
        shown = cli.status("web");
        shown["in_service"] == 2 && shown["health"] == "Green"
    });
    let recovered_s = restarted_at.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();

    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let events = cli.ok(&["events", "web", "--limit", "200"]);
    let containers = dockerd.docker(&["ps", "-aq", "--filter", &format!("label=sprout.app={app}")]).unwrap();
    println!(
        "engine down for {:.1} s: {sent} requests ({sent_while_down} by the time it returned), {failed} failed; Green {recovered_s:.1} s after it returned",
        restarted_at.duration_since(stopped_at).as_secs_f64(),
    );
    assert_eq!(failed, 0, "requests failed across the engine restart; events:\n{events}");
    assert_eq!(instance_ids(&shown), before, "the same instances serve: none replaced");
    assert_eq!(containers.lines().count(), 2, "no duplicate container: {containers}");
    assert_eq!(events.matches("Container engine unavailable").count(), 1, "said once:\n{events}");
    assert!(!events.contains("is unhealthy"), "no instance judged for the engine's absence:\n{events}");
}
