//! End to end, notifications on real Docker, to webhook receivers this test runs on loopback:
//! scale-out and scale-in cycles send no alert (and, to a webhook asking for everything, their
//! `info`); an essential container killed with `docker kill` sends exactly one `warning` naming
//! the instance and the cause, and one `resolved` once the replacement is in service; a receiver
//! down for a minute loses nothing and gets everything in order afterwards; a notification still
//! queued when the server stops is delivered once after it starts again; bodies are signed.

#![allow(clippy::disallowed_methods)] // end-to-end: a real receiver down for a real minute

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// One POST as received.
#[derive(Clone, Debug)]
struct Received {
    head: String,
    body: serde_json::Value,
    raw: Vec<u8>,
}

/// A webhook receiver on a loopback port: answers 200 to every POST and keeps what it got.
/// Stopping it frees the port; starting it again takes the same port.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn new() -> Receiver {
        let port = free_port();
        Receiver { port, got: Arc::default(), stop: Arc::default(), thread: None }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn start(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the receiver's port is free again");
        listener.set_nonblocking(true).unwrap();
        self.stop.store(false, Ordering::SeqCst);
        let (got, stop) = (self.got.clone(), self.stop.clone());
        self.thread = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        if let Some(r) = read_request(&mut s) {
                            got.lock().unwrap().push(r);
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }));
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_request(s: &mut std::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))?;
    let mut raw = buf[end + 4..].to_vec();
    while raw.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    Some(Received { head, body: serde_json::from_slice(&raw).ok()?, raw })
}

/// `sprout notify add` with `args`, the secret (if any) on standard input.
fn notify_add(server: &Server, args: &[&str], secret: Option<&str>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("notify")
        .arg("add")
        .args(args)
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", server.token())
        .env("SPROUT_APP", &server.app)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(secret.unwrap_or("").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "notify add failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn log(server: &Server) -> Vec<serde_json::Value> {
    serde_json::from_str::<Vec<serde_json::Value>>(
        &server.cli_ok(&["notify", "log", "--limit", "1000", "--output", "json"]),
    )
    .unwrap()
}

fn in_service(server: &Server, env: &str) -> usize {
    let s = server.status(env);
    s["instances"].as_array().map_or(0, |i| i.iter().filter(|x| x["in_service"] == true).count())
}

fn count(server: &Server, env: &str) -> usize {
    server.status(env)["instances"].as_array().map_or(0, |i| i.len())
}

/// `eventually`, saying the environment's events and the server's notices when it gives up.
fn wait_or_explain(server: &Server, what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let notices: Vec<String> = server.log().lines().filter(|l| l.contains("notice")).map(String::from).collect();
    panic!(
        "gave up after {secs}s waiting for: {what}\nevents:\n{}\nnotices:\n{}\nlog:\n{:#?}",
        server.cli_ok(&["events", "web", "--limit", "40"]),
        notices.join("\n"),
        log(server)
    );
}

/// `eventually`, looking every 50 ms: each cycle waits twice, and the cycles are many.
fn soon(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gave up after {secs}s waiting for: {what}");
}

/// Scale-out and scale-in cycles, each waited for (the issue asks for 100: a day of a busy
/// environment's auto-scaling, without one alert).
const CYCLES: usize = 100;

#[test]
fn planned_changes_never_alert_and_a_killed_container_is_one_warning_and_one_resolved() {
    require_example_images();
    let app = unique_app("notify");
    let server = Server::start(&app);
    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "web", "--bundle", bundle.path().to_str().unwrap()]);
    let mut alerts = Receiver::new();
    let mut all = Receiver::new();
    alerts.start();
    all.start();
    notify_add(&server, &["--webhook", &alerts.url()], None);
    notify_add(&server, &["web", "--webhook", &all.url(), "--events", "all", "--format", "slack"], None);
    let listed = server.cli_ok(&["notify", "list"]);
    assert!(
        listed.contains(&alerts.url()) && listed.contains("every environment") && listed.contains("environment web"),
        "{listed}"
    );

    let started = Instant::now();
    for cycle in 0..CYCLES {
        server.cli_ok(&["scale", "web", "2"]);
        soon(&format!("cycle {cycle}: 2 in service"), 60, || in_service(&server, "web") == 2);
        server.cli_ok(&["scale", "web", "1"]);
        soon(&format!("cycle {cycle}: back to 1"), 60, || count(&server, "web") == 1);
    }
    eprintln!("{CYCLES} scale cycles in {:.1} s", started.elapsed().as_secs_f64());
    eventually("every scale-in said to the webhook asking for everything", 60, || {
        all.received().iter().filter(|r| r.body["text"].as_str().is_some_and(|t| t.contains("(scale-in)"))).count()
            >= CYCLES
    });
    let got = alerts.received();
    assert!(got.is_empty(), "planned changes sent alerts: {got:?}");
    let slack = &all.received()[0].body;
    assert!(slack["text"].as_str().unwrap().contains(&format!("[{app}/web]")), "{slack}");

    // An essential container of one of two instances killed: one warning naming the instance
    // and the cause, one resolved. (Losing the only instance is Severe health: critical.)
    server.cli_ok(&["scale", "web", "2"]);
    eventually("2 in service", 60, || in_service(&server, "web") == 2);
    let id = instance_ids(&server.status("web"))[0].clone();
    docker(&["kill", &format!("sprout-{app}-web-{id}-hog")]);
    wait_or_explain(&server, "a warning and a resolved", 90, || alerts.received().len() >= 2);
    // Whatever else was to come of this incident has had time to come.
    eventually("the replacement in service", 60, || in_service(&server, "web") == 2);
    std::thread::sleep(Duration::from_secs(5));
    let got = alerts.received();
    let said: Vec<String> =
        got.iter().map(|r| format!("#{} {}: {}", r.body["id"], r.body["severity"], r.body["message"])).collect();
    assert_eq!(
        got.len(),
        2,
        "exactly one warning and one resolved: {said:#?}\nevents:\n{}",
        server.cli_ok(&["events", "web", "--limit", "30"])
    );
    assert_eq!(got[0].body["severity"], "warning", "{said:#?}");
    let message = got[0].body["message"].as_str().unwrap();
    assert!(message.contains(&id) && message.contains("exited"), "names the instance and the cause: {message}");
    assert_eq!(got[0].body["environment"], "web");
    assert_eq!(got[0].body["app"], app.as_str());
    assert!(got[0].body["link"].as_str().unwrap().contains(&format!("/apps/{app}/environments/web")));
    assert_eq!(got[1].body["severity"], "resolved", "{said:#?}");
    assert_eq!(got[1].body["incident"], got[0].body["incident"]);
    let delivered = log(&server);
    assert!(delivered.iter().all(|d| d["status"] == "delivered"), "{delivered:#?}");
}

#[test]
fn a_receiver_down_for_a_minute_loses_nothing_and_a_restart_delivers_once() {
    require_example_images();
    let app = unique_app("notifyq");
    let mut server = Server::start(&app);
    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "web", "--bundle", bundle.path().to_str().unwrap()]);
    let mut receiver = Receiver::new();
    let out = notify_add(
        &server,
        &["web", "--webhook", &receiver.url(), "--events", "all", "--secret-stdin"],
        Some("s3cret\n"),
    );
    assert!(out.contains("signed"), "{out}");
    let hook = out.split_whitespace().nth(1).unwrap().to_string();

    // Receiver down: planned changes (info) queue up, tried and retried.
    let down_at = Instant::now();
    for _ in 0..2 {
        server.cli_ok(&["scale", "web", "2"]);
        eventually("2 in service", 60, || in_service(&server, "web") == 2);
        server.cli_ok(&["scale", "web", "1"]);
        eventually("back to 1", 60, || count(&server, "web") == 1);
    }
    let test = server.cli(&["notify", "test", &hook, "--timeout", "3"]);
    assert!(!test.status.success(), "the test cannot be delivered while the receiver is down");
    assert!(text(&test.stdout).contains("pending") && text(&test.stdout).contains("connect"), "{}", text(&test.stdout));
    eventually("some deliveries retried", 30, || log(&server).iter().any(|d| d["attempts"].as_u64() >= Some(2)));
    let queued = log(&server).len();
    assert!(queued >= 3, "{:#?}", log(&server));
    std::thread::sleep(Duration::from_secs(60).saturating_sub(down_at.elapsed()));
    assert!(receiver.received().is_empty());

    receiver.start();
    eventually("everything delivered", 60, || log(&server).iter().all(|d| d["status"] == "delivered"));
    let got = receiver.received();
    let ids: Vec<i64> = got.iter().map(|r| r.body["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in queue order");
    sorted.dedup();
    assert_eq!(sorted.len(), queued, "none lost: {ids:?}");
    assert_eq!(ids.len(), queued, "none twice: {ids:?}");
    // Signed with the secret: HMAC-SHA256 of the exact body.
    for r in &got {
        let want = sprout_server::notify::hmac::signature(b"s3cret", &r.raw);
        assert!(r.head.contains(&format!("X-Sprout-Signature: {want}")), "{}", r.head);
    }
    assert!(got.iter().any(|r| r.body["message"].as_str().unwrap().contains("Test notification")));

    // Queued when the server stops: delivered once after it starts again.
    server.cli_ok(&["scale", "web", "2"]);
    eventually("2 in service", 60, || in_service(&server, "web") == 2);
    receiver.stop();
    let before = log(&server).len();
    server.cli_ok(&["scale", "web", "1"]);
    eventually("a new delivery tried and pending", 60, || {
        let l = log(&server);
        l.len() > before && l.iter().any(|d| d["status"] == "pending" && d["attempts"].as_u64() >= Some(1))
    });
    let pending: Vec<i64> =
        log(&server).iter().filter(|d| d["status"] == "pending").map(|d| d["id"].as_i64().unwrap()).collect();
    server.stop(false);
    receiver.start();
    server.spawn();
    eventually("the queued ones delivered after the restart", 60, || {
        let got = receiver.received();
        pending.iter().all(|id| got.iter().any(|r| r.body["id"].as_i64() == Some(*id)))
    });
    eventually("nothing pending", 30, || log(&server).iter().all(|d| d["status"] == "delivered"));
    let got = receiver.received();
    for id in &pending {
        let n = got.iter().filter(|r| r.body["id"].as_i64() == Some(*id)).count();
        assert_eq!(n, 1, "delivery {id} arrived {n} times");
    }
    let removed = server.cli_ok(&["notify", "remove", &hook]);
    assert!(removed.contains("removed"), "{removed}");
    assert!(server.cli_ok(&["notify", "list"]).contains("No webhooks"));
}

#[test]
fn a_deploy_that_never_gets_healthy_is_one_alert_and_one_resolved() {
    require_example_images();
    let app = unique_app("notifyd");
    let server = Server::start(&app);
    let good = hog_bundle(None);
    server.cli_ok(&["create", "web", "--bundle", good.path().to_str().unwrap(), "--instances", "2", "--label", "good"]);
    let mut alerts = Receiver::new();
    alerts.start();
    notify_add(&server, &["--webhook", &alerts.url()], None);

    // The bad version's server listens on a port nothing is routed to: every probe fails.
    let bad = hog_bundle(None);
    let def = bad.path().join("Dockerrun.aws.json");
    let text = std::fs::read_to_string(&def).unwrap().replace(r#""value":"8080""#, r#""value":"9999""#);
    std::fs::write(&def, text).unwrap();
    let out = server.cli(&[
        "deploy",
        "web",
        "--bundle",
        bad.path().to_str().unwrap(),
        "--label",
        "bad",
        "--timeout",
        "20",
        "--policy",
        "rolling",
        "--batch-size",
        "1",
    ]);
    assert!(!out.status.success(), "rolled back");
    wait_or_explain(&server, "an alert and its resolved", 90, || alerts.received().len() >= 2);
    eventually("Ready on the good version", 60, || server.status("web")["status"] == "Ready");
    std::thread::sleep(Duration::from_secs(5));
    let got = alerts.received();
    let said: Vec<String> = got.iter().map(|r| format!("{}: {}", r.body["severity"], r.body["message"])).collect();
    assert_eq!(got.len(), 2, "one incident: {said:#?}");
    assert_eq!(got[0].body["incident"], "deploy", "{said:#?}");
    assert_eq!(got[0].body["severity"], "warning", "{said:#?}");
    assert_eq!(got[1].body["severity"], "resolved", "{said:#?}");
}
