//! Auto-scaling end to end: the `sprout` binary, the real Docker engine and the example. Bad
//! scaling input is refused naming the field; load from a bounded loopback client scales the
//! example out and, once it stops, back in, with no failed request; scheduled actions are
//! added, previewed, suspended and removed; a warm pool waits out of rotation and serves first
//! on scale-out; `scale ENV N` pins the count.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn refused(server: &Server, args: &[&str], words: &[&str]) {
    let out = server.cli(args);
    assert!(!out.status.success(), "sprout {args:?} should be refused");
    let err = text(&out.stderr);
    for w in words {
        assert!(err.contains(w), "sprout {args:?}: {w:?} missing from: {err}");
    }
}

#[test]
fn load_scales_the_example_out_and_back_in_and_schedules_are_managed() {
    require_example_images();
    let app = unique_app("scale");
    let server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "prod", "--bundle", bundle.to_str().unwrap(), "--instances", "1"]);

    // Bad input, each naming its field with an example.
    refused(&server, &["scale", "prod", "--min", "3", "--max", "2"], &["min", "example"]);
    refused(&server, &["scale", "prod", "--min", "1", "--max", "3", "--target-rps", "0"], &["target", "example"]);
    refused(&server, &["scale", "prod", "5", "--min", "1", "--max", "3"], &["desired", "example"]);
    refused(&server, &["scale", "prod", "--queue-wait-ms", "600000"], &["queue.max_wait_ms", "example"]);
    let shown = server.cli_ok(&["scale", "prod", "--queue", "50", "--queue-wait-ms", "1500"]);
    assert!(shown.contains("hold up to 50 requests for up to 1500 ms"), "{shown}");
    refused(
        &server,
        &["schedule", "add", "prod", "x", "--cron", "0 25 * * *", "--min", "1", "--max", "2"],
        &["recurrence", "example"],
    );
    refused(
        &server,
        &["schedule", "add", "prod", "x", "--cron", "0 8 * * *", "--tz", "Mars/Olympus", "--min", "1"],
        &["time_zone", "Europe/Berlin"],
    );

    // Target tracking: 20 requests per instance per second, band 1..3, short stabilisation.
    server.cli_ok(&["scale", "prod", "--min", "1", "--max", "3", "--target-rps", "20", "--scale-in-window", "5"]);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(60);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed, addr, host) =
                (stop.clone(), ok.clone(), failed.clone(), server.http.clone(), format!("prod.{app}.localhost"));
            std::thread::spawn(move || {
                // Bounded: stops when told or after 60 s, and paces itself (at most ~50/s each).
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match http_get(&addr, &host, "/") {
                        Ok((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    eventually("scaled out to at least 2 instances in service under load", 50, || {
        server.status("prod")["in_service"].as_u64().unwrap_or(0) >= 2
    });
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert!(ok.load(Ordering::Relaxed) > 0);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request fails while capacity is added");
    eventually("scaled back in to 1 instance once the load stopped", 90, || {
        let s = server.status("prod");
        s["desired_instances"] == 1 && instance_ids(&s).len() == 1
    });
    // Retired instances are recorded once drained and stopped.
    eventually("two instances retired for scale-in", 60, || {
        server.cli_ok(&["events", "prod", "--limit", "200"]).matches("(scale-in)").count() == 2
    });
    let events = server.cli_ok(&["events", "prod", "--limit", "200"]);
    assert!(events.contains("Scaling out: RequestCount"), "{events}");
    assert!(events.contains("Scaling in: RequestCount"), "{events}");
    assert!(!events.contains("unhealthy"), "scale-in raises no alert: {events}");

    // Scheduled actions.
    server.cli_ok(&[
        "schedule",
        "add",
        "prod",
        "weekday",
        "--cron",
        "0 8 * * 1-5",
        "--tz",
        "Europe/Berlin",
        "--min",
        "1",
        "--max",
        "3",
        "--desired",
        "2",
    ]);
    let list = server.cli_ok(&["schedule", "list", "prod"]);
    assert!(list.contains("weekday") && list.contains("0 8 * * 1-5") && list.contains("Europe/Berlin"), "{list}");
    let preview: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["schedule", "preview", "prod", "--days", "7", "--output", "json"]))
            .unwrap();
    let firings = preview.as_array().unwrap();
    assert_eq!(firings.len(), 5, "{preview:#}");
    assert!(firings.iter().all(|f| f["local"].as_str().unwrap().contains("08:00") && f["desired"] == 2), "{preview:#}");
    server.cli_ok(&["schedule", "suspend", "prod", "weekday"]);
    assert!(server.cli_ok(&["schedule", "list", "prod"]).contains("suspended"));
    assert!(server.cli_ok(&["schedule", "preview", "prod"]).contains("No scheduled action"));
    server.cli_ok(&["schedule", "remove", "prod", "weekday"]);
    assert!(server.cli_ok(&["schedule", "list", "prod"]).contains("no scheduled actions"));

    // A warm pool of one: launched, healthy, out of rotation, said so by `sprout health`.
    server.cli_ok(&["scale", "prod", "1", "--warm-pool", "1"]);
    let all_healthy =
        |s: &serde_json::Value| s["instances"].as_array().unwrap().iter().all(|i| i["health"]["state"] == "Healthy");
    eventually("1 instance serving and 1 warm", 60, || {
        let s = server.status("prod");
        s["in_service"] == 1 && instance_ids(&s).len() == 2 && all_healthy(&s)
    });
    let warm: Vec<String> = server.status("prod")["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["in_service"] == false)
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(warm.len(), 1);
    let health = server.cli_ok(&["health", "prod"]);
    assert!(health.contains("warm pool"), "{health}");

    // `scale ENV N` pins min = max = desired = N; the warm instance is the one put in service,
    // and the pool is refilled behind it.
    let out: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["scale", "prod", "2", "--output", "json"])).unwrap();
    assert_eq!((out["desired"].as_u64(), out["min"].as_u64(), out["max"].as_u64()), (Some(2), Some(2), Some(2)));
    let serving = |id: &str| {
        server.status("prod")["instances"].as_array().unwrap().iter().any(|i| i["id"] == id && i["in_service"] == true)
    };
    eventually("the warm instance in service", 30, || serving(&warm[0]));
    eventually("2 instances in service and 1 warm again", 60, || {
        let s = server.status("prod");
        s["in_service"] == 2 && instance_ids(&s).len() == 3 && all_healthy(&s)
    });
    server.cli_ok(&["terminate", "prod", "--force"]);
}
