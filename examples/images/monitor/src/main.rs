//! The example monitoring agent: polls the ad server's `/stats` every `INTERVAL_SECS` and prints
//! a metrics line (impressions, clicks, click-through rate, requests per second). A failed poll
//! prints a warning and the agent carries on: the app may be starting or restarting, and an agent
//! that dies with it would report nothing when it matters.
//!
//! Configuration: `STATS_URL` (http://app:8080/stats), `INTERVAL_SECS` (5).
//!
//! `monitor retire` is the agent's goodbye, what `mackerel-agent retire` does: it deregisters
//! this host from the monitoring service (a POST of `{"host": HOSTNAME}` to `RETIRE_URL` when
//! set) so that its disappearance is not reported as "unreachable". Sprout runs it as the
//! container's `pre_stop` hook (the example's sprout.yaml) when the instance leaves.
#![allow(clippy::disallowed_methods)] // a stand-alone program in a container: wall-clock time is its own

mod client;
mod metrics;

use std::io::{self, Write};
use std::time::{Duration, Instant};
use std::{env, thread};

fn main() {
    if env::args().nth(1).as_deref() == Some("retire") {
        std::process::exit(retire());
    }
    let url_text = env::var("STATS_URL").unwrap_or_else(|_| "http://app:8080/stats".into());
    let url = match client::parse_url(&url_text) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("monitor: error: STATS_URL: {e}");
            std::process::exit(2);
        }
    };
    let interval = Duration::from_secs(env::var("INTERVAL_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1));
    if let Err(e) = stopsignal::on_termination(|_| {
        let _ = io::stdout().flush();
        std::process::exit(0);
    }) {
        eprintln!("monitor: warning: no signal handling: {e}");
    }
    eprintln!("monitor: polling {url_text} every {}s", interval.as_secs());

    let timeout = Duration::from_secs(2).min(interval);
    let mut prev: Option<metrics::Sample> = None;
    loop {
        let started = Instant::now();
        let sample = client::get(&url, timeout).and_then(|(status, body)| match status {
            200 => metrics::Sample::from_stats(&body, started),
            s => Err(format!("status {s}")),
        });
        match sample {
            Ok(s) => {
                println!("{}", metrics::line(prev.as_ref(), &s));
                prev = Some(s);
            }
            Err(e) => {
                println!("monitor: warning: {url_text} unreachable: {e}");
                prev = None;
            }
        }
        thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

/// Deregister this host; the exit status says whether it worked.
fn retire() -> i32 {
    let host = env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into());
    let Ok(target) = env::var("RETIRE_URL") else {
        println!("monitor: host {host} retired (no RETIRE_URL: nothing to tell)");
        return 0;
    };
    let result = client::parse_url(&target).and_then(|url| {
        let body = serde_json::json!({ "host": host, "reason": "retired" }).to_string();
        client::post(&url, body.as_bytes(), Duration::from_secs(5))
    });
    match result {
        Ok((s, _)) if (200..300).contains(&s) => {
            println!("monitor: host {host} retired at {target}");
            0
        }
        Ok((s, _)) => {
            eprintln!("monitor: error: retiring host {host} at {target}: status {s}");
            1
        }
        Err(e) => {
            eprintln!("monitor: error: retiring host {host} at {target}: {e}");
            1
        }
    }
}
