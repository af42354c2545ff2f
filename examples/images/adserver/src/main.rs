//! The example ad server: picks ads from a catalogue by slot, counts impressions and clicks,
//! and logs every request. Built as a static binary for a FROM-scratch image; behind nginx in
//! the `examples/adserver` bundle.
//!
//! Configuration is environment only (Dockerrun `environment`): `PORT` (8080), `CATALOGUE`
//! (a JSON file; the bundle's copy is built in when unset), `LOG_DIR` (access.log goes there).
//! `adserver --probe` is the health check. `HOG_AFTER_S` and `IGNORE_SIGTERM` are for fault
//! tests: that many seconds after start the server allocates memory until the kernel kills it (a
//! container with a `memory` limit is then OOM-killed, again after every start); with
//! `IGNORE_SIGTERM=1` it installs no handler, so as PID 1 it ignores SIGTERM and `docker stop`
//! has to wait out its timeout and SIGKILL it.
#![allow(clippy::disallowed_methods)] // a stand-alone program in a container: wall-clock time is its own

mod access_log;
mod catalogue;
mod http;
mod probe;
mod routes;
mod server;
mod stats;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use std::{env, fs, io::Write, thread};

use crate::access_log::AccessLog;
use crate::catalogue::Catalogue;
use crate::routes::State;
use crate::server::{Lifecycle, Server};
use crate::stats::Stats;

/// The bundle's catalogue, so `docker run sprout-example/adserver` works without a mount.
const BUILT_IN_CATALOGUE: &str = include_str!("../../../adserver/catalogue.json");

/// How long a SIGTERM waits for in-flight requests; well inside any stop timeout.
const DRAIN: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let port: u16 = match env::var("PORT").ok().map(|p| p.parse()) {
        None => 8080,
        Some(Ok(p)) => p,
        Some(Err(_)) => return fail("PORT must be a port number"),
    };
    if env::args().nth(1).as_deref() == Some("--probe") {
        return ExitCode::from(probe::run(port) as u8);
    }
    match run(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn run(port: u16) -> Result<(), String> {
    if let Some(after) = env::var("HOG_AFTER_S").ok().and_then(|s| s.parse::<u64>().ok()) {
        thread::spawn(move || hog(Duration::from_secs(after)));
    }
    let catalogue = load_catalogue()?;
    let lifecycle = Arc::new(Lifecycle::default());
    let drain = Arc::clone(&lifecycle);
    let ignore_sigterm = env::var("IGNORE_SIGTERM").is_ok_and(|v| !v.is_empty() && v != "0");
    if !ignore_sigterm {
        stopsignal::on_termination(move |sig| {
            drain.shutting_down.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + DRAIN;
            while drain.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            eprintln!("adserver: signal {sig}, exiting");
            let _ = std::io::stdout().flush();
            std::process::exit(0);
        })
        .map_err(|e| format!("signal setup: {e}"))?;
    }

    let instance = env::var("HOSTNAME")
        .ok()
        .or_else(|| fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let log = AccessLog::open(env::var_os("LOG_DIR").map(PathBuf::from).as_deref());
    let listener = TcpListener::bind(("0.0.0.0", port)).map_err(|e| format!("listen on :{port}: {e}"))?;
    eprintln!(
        "adserver: instance {instance} listening on :{port}, slots: {}",
        catalogue.slot_names().collect::<Vec<_>>().join(", ")
    );
    let state = State { catalogue, stats: Stats::new(), instance };
    Arc::new(Server { state, log, lifecycle }).run(listener).map_err(|e| e.to_string())
}

/// A configured but unreadable catalogue is fatal: serving the built-in ads instead would hide a
/// broken bundle.
fn load_catalogue() -> Result<Catalogue, String> {
    match env::var("CATALOGUE") {
        Ok(path) => {
            let text = fs::read_to_string(&path).map_err(|e| format!("cannot read catalogue {path}: {e}"))?;
            Catalogue::parse(&text).map_err(|e| format!("{path}:\n{e}"))
        }
        Err(_) => Catalogue::parse(BUILT_IN_CATALOGUE),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("adserver: error: {msg}");
    ExitCode::FAILURE
}

/// Allocates and touches 1 MiB every 10 ms after `after`, for ever: only the kernel stops it.
fn hog(after: Duration) {
    thread::sleep(after);
    eprintln!("adserver: HOG_AFTER_S reached, allocating memory until killed");
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        // Filled, not just reserved: untouched pages would never count against the limit.
        held.push(vec![1u8; 1 << 20]);
        thread::sleep(Duration::from_millis(10));
    }
}
