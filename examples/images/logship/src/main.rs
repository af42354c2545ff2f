//! The example log shipper (the fluentd of the production stack, reduced to its job): follows
//! every file under `LOGS_ROOT/<source>/` (the instance's `awseb-logs-*` volumes, mounted
//! read-only) and writes each line to stdout prefixed with its source, plus a count summary
//! every `SUMMARY_SECS`. Sprout collects stdout like any container's.
//!
//! Configuration: `LOGS_ROOT` (/logs), `POLL_MS` (500), `SUMMARY_SECS` (60).
#![allow(clippy::disallowed_methods)] // a stand-alone program in a container: wall-clock time is its own

mod tail;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};
use std::{env, thread};

fn main() {
    let root = env::var("LOGS_ROOT").unwrap_or_else(|_| "/logs".into());
    let poll = Duration::from_millis(env_number("POLL_MS", 500));
    let summary_every = Duration::from_secs(env_number("SUMMARY_SECS", 60).max(1));
    if let Err(e) = stopsignal::on_termination(|_| {
        let _ = io::stdout().flush();
        std::process::exit(0);
    }) {
        eprintln!("logship: warning: no signal handling: {e}");
    }
    eprintln!("logship: following {root}/*/*, summary every {}s", summary_every.as_secs());

    let mut tailer = tail::Tailer::new(&root);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_summary = Instant::now();
    loop {
        let lines = tailer.poll();
        {
            // One lock and one flush per poll, not per line.
            let mut out = io::stdout().lock();
            for (source, line) in &lines {
                let _ = writeln!(out, "[{source}] {line}");
                *counts.entry(source.clone()).or_default() += 1;
            }
            let _ = out.flush();
        }
        if last_summary.elapsed() >= summary_every {
            println!("{}", summary(&counts, last_summary.elapsed()));
            counts.clear();
            last_summary = Instant::now();
        }
        thread::sleep(poll);
    }
}

/// `logship: last 60s: app/access.log=12 nginx/access.log=12 total=24`
fn summary(counts: &BTreeMap<String, u64>, window: Duration) -> String {
    let mut s = format!("logship: last {}s:", window.as_secs());
    for (source, n) in counts {
        s.push_str(&format!(" {source}={n}"));
    }
    s.push_str(&format!(" total={}", counts.values().sum::<u64>()));
    s
}

fn env_number(name: &str, default: u64) -> u64 {
    match env::var(name) {
        Err(_) => default,
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("logship: warning: {name}={v} is not a number; using {default}");
            default
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line() {
        let counts = BTreeMap::from([("app/access.log".to_string(), 3), ("nginx/access.log".to_string(), 2)]);
        assert_eq!(
            summary(&counts, Duration::from_secs(60)),
            "logship: last 60s: app/access.log=3 nginx/access.log=2 total=5"
        );
        assert_eq!(summary(&BTreeMap::new(), Duration::from_secs(60)), "logship: last 60s: total=0");
    }
}
