//! `sprout proxy` on the real Docker engine: the load balancer as its own process, fed by the
//! server, keeps serving the example while `sprout server` is stopped and started again, and
//! no request through it fails.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Kills the proxy when the test ends, however it ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_control_plane_restart_drops_no_request_through_sprout_proxy() {
    require_example_images();
    let app = unique_app("proxy");
    let mut server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "prod", "--bundle", bundle.to_str().unwrap(), "--instances", "2"]);

    let listen = format!("127.0.0.1:{}", free_port());
    let proxy = Proxy(
        Command::new(env!("CARGO_BIN_EXE_sprout"))
            .args(["proxy", "--listen", &listen, "--poll-ms", "200"])
            .env("SPROUT_URL", format!("http://{}", server.api))
            .env("SPROUT_TOKEN", server.token())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sprout proxy"),
    );
    let host = format!("prod.{app}.localhost");
    eventually("the proxy serves the example", 30, || {
        http_get(&listen, &host, "/").map(|r| r.0 == 200).unwrap_or(false)
    });

    // Steady traffic through the proxy, bounded: stops when told or after 90 s.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let client = {
        let (stop, ok, failed, failures, listen, host) =
            (stop.clone(), ok.clone(), failed.clone(), failures.clone(), listen.clone(), host.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match http_get(&listen, &host, "/") {
                    Ok((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                    other => {
                        failures.lock().unwrap().push(format!("{other:?}"));
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));

    // The control plane goes away (its own load balancer with it) and comes back.
    server.stop(false);
    let before_down = ok.load(Ordering::Relaxed);
    // Down until the proxy has answered 20 requests alone (a count, not a duration).
    eventually("the proxy serving while the server is down", 30, || ok.load(Ordering::Relaxed) - before_down >= 20);
    assert!(http_get(&server.http, &host, "/").is_err(), "the server's own load balancer is down");
    server.spawn();
    eventually("the environment judged again after the restart", 30, || {
        server.status("prod")["in_service"].as_u64() == Some(2)
    });
    // A few polls by the proxy against the restarted server.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed: {:?}\nserver log:\n{}",
        ok + failed,
        failures.lock().unwrap(),
        tail(&server.log(), 40)
    );
    drop(proxy);
    server.cli_ok(&["terminate", "prod", "--force"]);
    eventually("no container left", 60, || containers_of(&app).is_empty());
}
