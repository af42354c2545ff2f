//! Worker environments end to end (issue 16): a real server, real Docker, the CLI. A definition
//! with no container on host port 80 becomes a worker environment on its own: it runs, its health
//! comes from its containers, its host name answers 404 (no route), and it scales by a queue
//! reading from a test HTTP server on loopback, out and back in; a web environment of it is
//! refused with the way out. With `scaling.min=0` an idle queue takes it to zero, which it says,
//! and the first reading above zero wakes one instance at once (issue 13).
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;

/// A one-container bundle of busybox sleeping: no port mapping at all.
fn worker_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        format!(
            r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{{"name":"jobs","image":"{BUSYBOX_IMAGE}",
                "essential":true,"memory":16,"command":["sleep","100000"]}}]}}"#
        ),
    )
    .unwrap();
    dir
}

/// A queue on loopback: every request is answered with the current depth. Returns its URL.
fn queue_server(depth: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/depth", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let body = depth.load(Ordering::Relaxed).to_string();
            let _ =
                write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    url
}

fn in_service(server: &Server, env: &str) -> u64 {
    server.status(env)["in_service"].as_u64().unwrap_or(0)
}

#[test]
fn a_worker_runs_without_a_route_and_scales_by_its_queue() {
    require_busybox_image();
    let app = unique_app("worker");
    let server = Server::start(&app);
    let bundle = worker_bundle();
    let path = bundle.path().to_str().unwrap();

    // Asked for as a web environment, it is refused with the way out.
    let out = server.cli(&["create", "web", "--bundle", path, "--tier", "web"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("host port 80") && err.contains("--tier worker"), "{err}");

    // No container on host port 80: a worker on its own.
    server.cli_ok(&["create", "work", "--bundle", path]);
    let status = server.status("work");
    assert_eq!(status["tier"], "worker", "{status}");
    assert_eq!(status["in_service"], 1, "{status}");
    assert_eq!(status["health"], "Green", "{status}");
    let shown = server.cli_ok(&["status", "work"]);
    assert!(shown.contains("Tier: worker") && shown.contains("no route"), "{shown}");
    let (code, _) = server.get("work", "/").unwrap();
    assert_eq!(code, 404, "a worker's host name has no route");

    // Queue target tracking: 10 jobs per instance, band 1..3.
    let depth = Arc::new(AtomicU64::new(0));
    let url = queue_server(depth.clone());
    let set = [
        "config",
        "set",
        "work",
        &format!("scaling.queue_url={url}"),
        "scaling.target_queue_per_instance=10",
        "scaling.min=1",
        "scaling.max=3",
        "scaling.scale_in_window=4",
        "scaling.scale_in_cooldown=1",
    ];
    server.cli_ok(&set);
    depth.store(25, Ordering::Relaxed);
    eventually("scaled out to 3 instances on a queue of 25", 60, || in_service(&server, "work") == 3);
    depth.store(0, Ordering::Relaxed);
    eventually("scaled back in to 1 instance on an empty queue", 60, || {
        let s = server.status("work");
        s["in_service"] == 1 && s["desired_instances"] == 1
    });
    let events = server.cli_ok(&["events", "work", "--limit", "200"]);
    assert!(events.contains("queue depth at least 25"), "{events}");
    assert!(events.contains("queue depth at most 0"), "{events}");
    let (code, _) = server.get("work", "/").unwrap();
    assert_eq!(code, 404, "still no route after scaling");

    // A queue that answers no number is said once, and holds the count.
    depth.store(0, Ordering::Relaxed);
    server.cli_ok(&["config", "set", "work", "scaling.queue_url=http://127.0.0.1:9/none"]);
    eventually("the failing reading is said", 30, || {
        server.cli_ok(&["events", "work", "--limit", "50"]).contains("Queue reading http://127.0.0.1:9/none failed")
    });
    assert_eq!(server.status("work")["desired_instances"], 1);

    // Scale to zero: an idle queue takes it to 0, and the first reading above 0 wakes it at
    // once. The scale-out window is far longer than the wait below, so only the wake can do it.
    let zero =
        ["config", "set", "work", &format!("scaling.queue_url={url}"), "scaling.min=0", "scaling.scale_out_window=600"];
    server.cli_ok(&zero);
    eventually("scaled in to zero on an empty queue", 60, || {
        let s = server.status("work");
        s["desired_instances"] == 0 && s["instances"].as_array().is_some_and(|i| i.is_empty())
    });
    let s = server.status("work");
    assert!(s["causes"].to_string().contains("scaled to zero, wakes when the queue has work"), "{s}");
    assert_eq!(s["health"], "Green", "planned: no alert");
    let health = server.cli_ok(&["health", "work"]);
    assert!(health.contains("scaled to zero, wakes when the queue has work"), "{health}");
    assert!(!health.contains("next request") && !health.contains("requests held"), "{health}");
    depth.store(3, Ordering::Relaxed);
    eventually("woken by a queue of 3", 60, || in_service(&server, "work") == 1);
    let events = server.cli_ok(&["events", "work", "--limit", "200"]);
    assert!(events.contains("queue depth 3 with no instance running: woken at once: desired 0 -> 1"), "{events}");
    assert_eq!(server.status("work")["desired_instances"], 1, "one instance for 3 jobs at 10 per instance");
}
