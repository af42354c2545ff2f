//! A burst of hostile input against a real server (issue 11): zip bombs, a definition with
//! 30 000 containers in one `dependsOn` chain, 4 000 unknown links, names that would leave the
//! data directory, half-sent request heads and a flood of idle connections, all at once. Each is
//! refused with a 4xx, and meanwhile `/healthz` and an environment of the example behind the load
//! balancer answer every request. The latencies are printed, not asserted (shared machines).

// Measures wall-clock latency of real requests; nothing asserts on it.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A zip whose one entry inflates to `mib` MiB of zeros.
fn zip_bomb(mib: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    w.start_file("Dockerrun.aws.json", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        w.write_all(&zeros).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A tar holding one Dockerrun.aws.json.
fn tar_of(definition: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(definition.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    b.append_data(&mut header, "Dockerrun.aws.json", definition.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

fn definition(containers: usize, link: impl Fn(usize) -> String) -> String {
    let defs: Vec<String> = (0..containers)
        .map(|i| format!(r#"{{"name":"c{i}","image":"x:1","memory":16,"essential":true{}}}"#, link(i)))
        .collect();
    format!(r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{}]}}"#, defs.join(","))
}

/// One request with `Connection: close`: its status (0 when the connection failed) and time.
fn request(addr: &str, method: &str, path: &str, host: &str, token: &str, body: &[u8]) -> (u16, Duration) {
    let started = Instant::now();
    let status = (|| -> std::io::Result<u16> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        // The server may answer and close before taking the whole body (a refused upload).
        let _ = s.write_all(body);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        Ok(text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
    })()
    .unwrap_or(0);
    (status, started.elapsed())
}

#[derive(Default)]
struct Watch {
    healthz: Vec<(u16, Duration)>,
    served: Vec<u16>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[test]
fn a_burst_of_hostile_input_leaves_the_server_and_traffic_untouched() {
    require_example_images();
    let app = unique_app("burst");
    let server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one"]);
    assert_eq!(server.get("web", "/ad?slot=banner").unwrap().0, 200);
    let token = server.token();

    // Over the 512 MiB default limit however little it weighs compressed.
    let bomb = Arc::new(zip_bomb(520));
    let chain = Arc::new(tar_of(&definition(30_000, |i| {
        if i == 0 {
            String::new()
        } else {
            format!(r#","dependsOn":[{{"containerName":"c{}","condition":"START"}}]"#, i - 1)
        }
    })));
    let unknown = Arc::new(tar_of(&definition(4_000, |i| format!(r#","links":["missing{i}"]"#))));

    let stop = Arc::new(AtomicBool::new(false));
    let watch = Arc::new(Mutex::new(Watch::default()));
    let watcher = {
        let (stop, watch, api, lb) = (stop.clone(), watch.clone(), server.api.clone(), server.http.clone());
        let host = format!("web.{app}.localhost");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let health = request(&api, "GET", "/healthz", "localhost", "", b"");
                let served = request(&lb, "GET", "/ad?slot=banner", &host, "", b"").0;
                let mut w = watch.lock().unwrap();
                w.healthz.push(health);
                w.served.push(served);
                drop(w);
                std::thread::sleep(Duration::from_millis(25));
            }
        })
    };

    let versions = format!("/api/v1/apps/{app}/versions");
    let mut attacks: Vec<(String, std::thread::JoinHandle<u16>)> = Vec::new();
    let mut launch = |name: &str, method: &'static str, path: String, body: Arc<Vec<u8>>| {
        let (api, token) = (server.api.clone(), token.clone());
        let handle = std::thread::spawn(move || request(&api, method, &path, "localhost", &token, &body).0);
        attacks.push((name.to_string(), handle));
    };
    for i in 0..4 {
        launch(&format!("zip bomb {i}"), "POST", format!("{versions}?label=bomb{i}"), bomb.clone());
    }
    launch("30 000 containers in a chain", "POST", format!("{versions}?label=chain"), chain);
    launch("4 000 unknown links", "POST", format!("{versions}?label=links"), unknown);
    let none = Arc::new(Vec::new());
    launch("label ..", "POST", format!("{versions}?label=.."), none.clone());
    launch("app ..%2f..", "GET", "/api/v1/apps/..%2f..%2fetc/versions".into(), none.clone());
    launch("environment ..", "GET", format!("/api/v1/apps/{app}/environments/../logs"), none.clone());

    // Idle connections to the load balancer and half-sent heads to the API, held meanwhile.
    let idle: Vec<TcpStream> = (0..200).filter_map(|_| TcpStream::connect(&server.http).ok()).collect();
    let half: Vec<TcpStream> = (0..50)
        .filter_map(|_| {
            let mut s = TcpStream::connect(&server.api).ok()?;
            s.write_all(b"POST /api/v1/apps HTTP/1.1\r\nHost: local").ok()?;
            Some(s)
        })
        .collect();

    let mut refused = Vec::new();
    for (name, handle) in attacks {
        let status = handle.join().unwrap();
        refused.push(format!("{name}: {status}"));
        assert!((400..500).contains(&status), "{name} was answered {status}, not refused with a 4xx");
    }
    drop(idle);
    drop(half);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();

    let w = watch.lock().unwrap();
    let failed_health = w.healthz.iter().filter(|(s, _)| *s != 200).count();
    let failed_served = w.served.iter().filter(|s| **s != 200).count();
    let mut latencies: Vec<Duration> = w.healthz.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    println!(
        "burst: {}; /healthz {} probes, p50 {:?}, p99 {:?}, max {:?}; environment {} requests, {} failed",
        refused.join(", "),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        w.served.len(),
        failed_served
    );
    assert!(w.healthz.len() >= 5, "the watcher barely ran: {} probes", w.healthz.len());
    assert_eq!(failed_health, 0, "/healthz failed during the burst");
    assert_eq!(failed_served, 0, "the environment failed requests during the burst");
    // Nothing of the refused uploads stayed behind.
    let leftovers: Vec<String> = std::fs::read_dir(server.data_dir.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    let listed = server.cli_ok(&["versions", "--output", "json"]);
    assert!(!listed.contains("bomb") && !listed.contains("chain"), "{listed}");
}
