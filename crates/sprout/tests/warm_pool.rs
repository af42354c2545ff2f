//! The stopped warm pool (issue 13), on real Docker: with `--warm-pool 1 --warm-pool-state
//! stopped`, an environment of the example at zero keeps one instance created whole and never
//! started; the first request starts it (no new instance for that request) and is served once
//! it passes its health check, and the pool is refilled with a new stopped instance. A stopped
//! instance one of whose containers was removed by hand is replaced, never started.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use common::*;

/// One GET that may be held as long as the environment's hold (20 s here) allows; its status.
fn held_get(addr: &str, host: &str) -> u16 {
    use std::io::{Read, Write};
    let go = || -> std::io::Result<u16> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        write!(s, "GET /ad?slot=banner HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        Ok(text(&buf).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
    };
    go().unwrap_or(0)
}

/// Docker's states of an instance's containers.
fn states(app: &str, id: &str) -> Vec<String> {
    let filter = format!("name=sprout-{app}-web-{id}-");
    docker(&["ps", "-a", "--filter", &filter, "--format", "{{.State}}"]).lines().map(String::from).collect()
}

/// Waits until the environment is at zero with one stopped warm instance; its id.
fn at_zero_with_a_stopped_instance(server: &Server) -> String {
    let mut id = String::new();
    eventually("at zero with one stopped warm instance", 120, || {
        let s = server.status("web");
        let ids = instance_ids(&s);
        if s["desired_instances"] != 0 || ids.len() != 1 {
            return false;
        }
        id = ids[0].clone();
        let st = states(&server.app, &id);
        st.len() == 4 && st.iter().all(|s| s == "created")
    });
    id
}

#[test]
fn a_stopped_warm_instance_wakes_an_environment_at_zero_and_one_removed_by_hand_is_replaced() {
    require_example_images();
    let app = unique_app("stoppedwarm");
    let server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one", "--instances", "1"]);
    let out = server.cli_ok(&[
        "scale",
        "web",
        "--min",
        "0",
        "--max",
        "2",
        "--target-rps",
        "20",
        "--scale-in-window",
        "5",
        "--queue-wait-ms",
        "20000",
        "--warm-pool",
        "1",
        "--warm-pool-state",
        "stopped",
    ]);
    assert!(out.contains("created and stopped, started on demand"), "{out}");
    assert!(out.contains("measured wake"), "{out}");

    let warm = at_zero_with_a_stopped_instance(&server);
    let s = server.status("web");
    assert!(s["causes"].to_string().contains("scaled to zero, wakes on the next request"), "{s}");
    assert!(s["causes"].to_string().contains("stopped warm instance(s) start on the next request"), "{s}");
    assert_eq!(s["health"], "Green", "planned: no alert");

    // The first request starts the stopped instance and is served by it.
    assert_eq!(held_get(&server.http, &format!("web.{app}.localhost")), 200, "held and served, not refused");
    let s = server.status("web");
    let serving: Vec<&str> = s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["in_service"] == true)
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(serving, [warm.as_str()], "the stopped warm instance serves: {s}");
    let events = server.cli_ok(&["events", "web", "--limit", "100"]);
    assert!(events.contains(&format!("Instance {warm} (version one) started from the stopped warm pool")), "{events}");
    // The pool is refilled with a new stopped instance behind it.
    eventually("the pool refilled, stopped", 60, || {
        events_contain(&server, "created with version one and left stopped in the warm pool", 2)
    });

    // Back at zero: the running instance goes, a stopped one stays.
    let warm = at_zero_with_a_stopped_instance(&server);
    // One of its containers removed by hand: replaced by a new stopped instance, never started.
    docker(&["rm", &format!("sprout-{app}-web-{warm}-monitor")]);
    // (The broken one has three containers: it is not what this waits for.)
    let replacement = at_zero_with_a_stopped_instance(&server);
    assert_ne!(replacement, warm);
    eventually("what was left of it removed", 60, || states(&app, &warm).is_empty());
    let events = server.cli_ok(&["events", "web", "--limit", "200"]);
    assert!(!events.contains(&format!("Instance {warm} (version one) started")), "never started: {events}");
    // And the replacement wakes the environment.
    assert_eq!(held_get(&server.http, &format!("web.{app}.localhost")), 200);
    let events = server.cli_ok(&["events", "web", "--limit", "200"]);
    assert!(events.contains(&format!("Instance {replacement} (version one) started")), "{events}");
}

/// The environment's events say `what` at least `times` times.
fn events_contain(server: &Server, what: &str, times: usize) -> bool {
    server.cli_ok(&["events", "web", "--limit", "200"]).matches(what).count() >= times
}
