//! Scale to zero and wake on the first request (issue 13), on real Docker: an environment of the
//! example with `--min 0` goes to 0 instances after its quiet scale-in window and says so; the
//! first request then gets a 200 (held, not refused) and brings exactly one instance; after it
//! is back at zero, 50 concurrent first requests bring what the target asks for, not 50. A
//! request to an environment at zero while a new version is being deployed is served by the new
//! version; a restarted server keeps an environment at zero there, with the hold bound of the
//! wake it measured before, and a request after the restart still wakes it.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use common::*;

/// One GET that may be held as long as the environment's hold (20 s here) allows; its status.
fn held_get(addr: &str, host: &str) -> std::io::Result<u16> {
    Ok(held_get_body(addr, host)?.0)
}

/// `held_get` with the whole response.
fn held_get_body(addr: &str, host: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(s, "GET /ad?slot=banner HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let response = text(&buf);
    Ok((response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), response))
}

/// The example with a catalogue whose only banner is titled `title`: a response names the
/// version that served it.
fn example_with_banner(title: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(example_bundle()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let path = dir.path().join("catalogue.json");
    let mut catalogue: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut banner = catalogue["slots"]["banner"][0].clone();
    banner["title"] = title.into();
    catalogue["slots"]["banner"] = serde_json::json!([banner]);
    std::fs::write(&path, catalogue.to_string()).unwrap();
    dir
}

/// The example at zero: created with one instance, then `--min 0` with a 5 s scale-in window.
fn example_at_zero(app: &str) -> Server {
    let server = Server::start(app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one", "--instances", "1"]);
    let scale = ["scale", "web", "--min", "0", "--max", "4", "--target-rps", "20", "--scale-in-window", "5"];
    server.cli_ok(&[&scale[..], &["--queue-wait-ms", "20000"]].concat());
    at_zero(&server);
    server
}

/// The cause that says how long requests are held at zero.
fn hold_cause(status: &serde_json::Value) -> String {
    let causes = status["causes"].as_array().cloned().unwrap_or_default();
    let held = causes.iter().filter_map(|c| c.as_str()).find(|c| c.starts_with("requests held up to"));
    held.unwrap_or_else(|| panic!("no hold bound among the causes: {status}")).to_string()
}

fn at_zero(server: &Server) -> serde_json::Value {
    let mut s = serde_json::Value::Null;
    eventually("scaled in to zero", 90, || {
        s = server.status("web");
        s["desired_instances"] == 0 && instance_ids(&s).is_empty()
    });
    s
}

#[test]
fn an_environment_at_zero_wakes_on_its_first_request() {
    require_example_images();
    let app = unique_app("zero");
    let server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one", "--instances", "1"]);
    // A generous hold: CI machines are slow and shared; the default stays 3 s.
    let scale = ["scale", "web", "--min", "0", "--max", "4", "--target-rps", "20", "--scale-in-window", "5"];
    server.cli_ok(&[&scale[..], &["--queue-wait-ms", "20000"]].concat());

    let s = at_zero(&server);
    assert!(s["causes"].to_string().contains("scaled to zero, wakes on the next request"), "{s}");
    assert_eq!(s["health"], "Green", "planned: no alert");

    let code = held_get(&server.http, &format!("web.{app}.localhost")).unwrap_or(0);
    assert_eq!(code, 200, "the first request is held and served, not refused");
    let s = server.status("web");
    assert_eq!(instance_ids(&s).len(), 1, "exactly one instance woke: {s}");
    let events = server.cli_ok(&["events", "web", "--limit", "100"]);
    assert!(events.contains("waiting with no instance in service: woken from 0 to 1"), "{events}");

    // Back to zero, then 50 first requests at once: the target (20 per instance) asks for 3.
    at_zero(&server);
    let (addr, host) = (server.http.clone(), format!("web.{app}.localhost"));
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let (addr, host) = (addr.clone(), host.clone());
            std::thread::spawn(move || held_get(&addr, &host).unwrap_or(0))
        })
        .collect();
    let codes: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    if !codes.iter().all(|c| *c == 200) {
        let events = server.cli_ok(&["events", "web", "--limit", "60"]);
        panic!("every first request served: {codes:?}\nevents:\n{events}\nserver log:\n{}", tail(&server.log(), 60));
    }
    let desired = server.status("web")["desired_instances"].as_u64().unwrap();
    assert!((1..=3).contains(&desired), "50 held requests at 20 per instance woke {desired} instance(s), not 50");
    let s = server.status("web");
    assert!(instance_ids(&s).len() <= 3, "instances launched for 50 first requests: {s}");
}

#[test]
fn a_request_at_zero_during_a_deploy_is_served_by_the_new_version() {
    require_example_images();
    let app = unique_app("zerodeploy");
    let server = example_at_zero(&app);
    let two = example_with_banner("served-by-version-two");
    server.cli_ok(&["deploy", "web", "--bundle", two.path().to_str().unwrap(), "--label", "two", "--no-wait"]);
    let (code, body) = held_get_body(&server.http, &format!("web.{app}.localhost")).unwrap_or_default();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("served-by-version-two"), "served by the version being deployed: {body}");
    let s = server.status("web");
    let versions: Vec<&str> = s["instances"].as_array().unwrap().iter().filter_map(|i| i["version"].as_str()).collect();
    assert!(!versions.is_empty() && versions.iter().all(|v| *v == "two"), "no instance of the old version woke: {s}");
}

#[test]
fn an_environment_at_zero_stays_there_across_a_restart_and_still_wakes() {
    require_example_images();
    let app = unique_app("zerorestart");
    let mut server = example_at_zero(&app);
    // The wake measured by the first launch sets the hold, and is kept across the restart.
    let hold = hold_cause(&server.status("web"));
    assert!(hold.contains("its measured wake"), "{hold}");
    server.stop(false);
    server.spawn();
    // Past the scale-in window and a few controller passes: nothing woke it on its own.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let s = server.status("web");
    assert_eq!((s["desired_instances"].as_u64(), instance_ids(&s).len()), (Some(0), 0), "still at zero: {s}");
    assert!(s["causes"].to_string().contains("scaled to zero, wakes on the next request"), "{s}");
    assert_eq!(hold_cause(&s), hold, "the restarted server holds for the wake measured before: {s}");
    let code = held_get(&server.http, &format!("web.{app}.localhost")).unwrap_or(0);
    assert_eq!(code, 200, "a request after the restart wakes it");
    assert_eq!(instance_ids(&server.status("web")).len(), 1);
}
