//! `sprout health [ENV] [--refresh]`: what `eb health` shows. The environment's status, colour
//! and causes, then one row per instance: status, requests per second, answers by status class,
//! latency percentiles over the last 10 s, and its containers' CPU and memory.
//!
//! Rendering is a pure function of the API's JSON (tested); this module judges nothing.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::Context;
use crate::output::{self, Format};

/// How often `--refresh` redraws.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Environment (default: the project's default environment)
    pub env: Option<String>,
    /// Redraw every 2 s until Ctrl-C
    #[arg(long)]
    pub refresh: bool,
}

pub async fn run(c: &Context, args: HealthArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let env = c.env(args.env)?;
    let path = format!("/apps/{app}/environments/{env}/health");
    loop {
        let v: Value = c.client.get(&path).await?;
        match c.fmt {
            Format::Json => output::json(&v),
            Format::Text => {
                if args.refresh {
                    // Clear the screen and home the cursor, as `watch` does.
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", render(&v));
            }
        }
        if !args.refresh {
            return Ok(0);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(0),
            () = tokio::time::sleep(REFRESH_EVERY) => {}
        }
    }
}

const PERCENTILES: [&str; 7] = ["p99.9", "p99", "p95", "p90", "p75", "p50", "p10"];

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// Latency columns in milliseconds, `-` where there was no request.
fn latencies(traffic: &Value) -> String {
    PERCENTILES
        .iter()
        .map(|p| match traffic["latency_ms"][p].as_f64() {
            Some(ms) if ms < 10.0 => format!("{ms:>7.2}"),
            Some(ms) => format!("{ms:>7.0}"),
            None => format!("{:>7}", "-"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn traffic_columns(t: &Value) -> String {
    format!(
        "{:>7.1} {:>6} {:>6} {:>6} {:>6}  {}",
        t["requests_per_s"].as_f64().unwrap_or(0.0),
        num(&t["2xx"]),
        num(&t["3xx"]),
        num(&t["4xx"]),
        num(&t["5xx"]),
        latencies(t)
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.0}MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The whole screen for one answer of `GET .../health`.
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}/{}  {}  {}   (last {} s)",
        text(&v["app"]),
        text(&v["env"]),
        text(&v["status"]),
        text(&v["colour"]),
        num(&v["window_s"])
    );
    for cause in v["causes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  - {}", text(cause));
    }
    let latency_header: Vec<String> = PERCENTILES.iter().map(|p| format!("{p:>7}")).collect();
    let _ = writeln!(
        out,
        "\n{:<14} {:<9} {:>7} {:>6} {:>6} {:>6} {:>6}  {}",
        "instance",
        "status",
        "req/s",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        latency_header.join(" ")
    );
    let _ = writeln!(out, "{:<14} {:<9} {}", "Overall", text(&v["status"]), traffic_columns(&v["traffic"]));
    let instances = v["instances"].as_array().cloned().unwrap_or_default();
    for inst in &instances {
        let _ = writeln!(
            out,
            "{:<14} {:<9} {}",
            text(&inst["id"]),
            text(&inst["status"]),
            traffic_columns(&inst["traffic"])
        );
    }
    if !instances.is_empty() {
        let _ = writeln!(out, "\n{:<14} {:<12} {:<10} {:>7} {:>16}", "instance", "container", "state", "cpu", "memory");
    }
    for inst in &instances {
        for c in inst["containers"].as_array().into_iter().flatten() {
            let (cpu, memory) = match c["usage"].as_object() {
                Some(u) => (
                    format!("{:.1}%", u["cpu_percent"].as_f64().unwrap_or(0.0)),
                    format!("{}/{}", mib(num(&u["memory_bytes"])), mib(num(&u["memory_limit_bytes"]))),
                ),
                None => ("-".into(), "-".into()),
            };
            let _ = writeln!(
                out,
                "{:<14} {:<12} {:<10} {cpu:>7} {memory:>16}",
                text(&inst["id"]),
                text(&c["name"]),
                text(&c["state"])
            );
        }
        for cause in inst["causes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "{:<14} cause: {}", text(&inst["id"]), text(cause));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_overall_instances_latencies_and_containers() {
        let v = serde_json::json!({
            "app": "shop", "env": "prod", "status": "Degraded", "colour": "Red", "window_s": 10,
            "causes": ["12% of requests failed with 5xx over the last 10 s"],
            "traffic": {"requests_per_s": 25.0, "2xx": 220, "3xx": 0, "4xx": 0, "5xx": 30,
                        "latency_ms": {"p99.9": 120.0, "p99": 80.0, "p50": 2.5}},
            "instances": [{
                "id": "i-0123456789", "status": "Degraded", "causes": ["60% of requests failed with 5xx over the last 10 s"],
                "traffic": {"requests_per_s": 5.0, "2xx": 20, "3xx": 0, "4xx": 0, "5xx": 30, "latency_ms": {}},
                "containers": [
                    {"name": "web", "state": "running", "usage": {"cpu_percent": 1.5, "memory_bytes": 16777216, "memory_limit_bytes": 134217728}},
                    {"name": "app", "state": "exited", "usage": null}
                ]
            }]
        });
        let screen = render(&v);
        assert!(screen.starts_with("shop/prod  Degraded  Red   (last 10 s)\n  - 12% of requests"), "{screen}");
        let overall = screen.lines().find(|l| l.starts_with("Overall")).unwrap();
        assert!(
            overall.contains("25.0") && overall.contains("220") && overall.contains("2.50") && overall.contains("120"),
            "{overall}"
        );
        let row = screen.lines().find(|l| l.starts_with("i-0123456789") && l.contains("Degraded")).unwrap();
        assert!(row.contains("     30") && row.ends_with("      -"), "{row}");
        assert!(screen.contains("1.5%") && screen.contains("16MiB/128MiB"), "{screen}");
        assert!(
            screen.lines().any(|l| l.contains("app") && l.contains("exited") && l.trim_end().ends_with('-')),
            "{screen}"
        );
        assert!(screen.contains("cause: 60% of requests failed"), "{screen}");
    }
}
