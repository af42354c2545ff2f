//! Scale to zero and wake on the first request (issue 13), on real Docker: an environment of the
//! example with `--min 0` goes to 0 instances after its quiet scale-in window and says so; the
//! first request then gets a 200 (held, not refused) and brings exactly one instance; after it
//! is back at zero, 40 concurrent first requests bring what the target asks for, not 40.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use common::*;

/// One GET that may be held as long as the environment's hold (20 s here) allows; its status.
fn held_get(addr: &str, host: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(s, "GET /ad?slot=banner HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    Ok(text(&buf).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
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

    // Back to zero, then 40 first requests at once: the target (20 per instance) asks for 2.
    at_zero(&server);
    let (addr, host) = (server.http.clone(), format!("web.{app}.localhost"));
    let clients: Vec<_> = (0..40)
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
    assert!((1..=2).contains(&desired), "40 held requests at 20 per instance woke {desired} instance(s), not 40");
}
