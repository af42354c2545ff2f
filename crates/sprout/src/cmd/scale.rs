//! `scale ENV N` (min = max = desired = N, as `eb scale` does) and `scale ENV --min A --max B
//! [--target-rps R] [--queue N --queue-wait-ms MS] [--warm-pool N]`: set the band auto-scaling moves inside
//! and the requests held while capacity starts. Without numbers, show it.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct ScaleArgs {
    pub env: String,
    /// Instances: sets min, max and desired to N (or only desired with --min/--max)
    pub instances: Option<u32>,
    /// Fewest instances auto-scaling keeps
    #[arg(long)]
    pub min: Option<u32>,
    /// Most instances auto-scaling starts
    #[arg(long)]
    pub max: Option<u32>,
    /// Target tracking: requests per instance per second to keep near
    #[arg(long)]
    pub target_rps: Option<f64>,
    /// Seconds the load must stay low before scaling in (stabilisation window)
    #[arg(long)]
    pub scale_in_window: Option<u32>,
    /// Requests held while no instance is in service (capacity starting); 0 refuses at once
    #[arg(long)]
    pub queue: Option<u32>,
    /// Milliseconds a held request waits for an instance before its 503
    #[arg(long)]
    pub queue_wait_ms: Option<u64>,
    /// Instances kept launched and healthy out of rotation, put in service at once on scale-out
    #[arg(long)]
    pub warm_pool: Option<u32>,
    /// How the warm pool waits: running (in service at once) or stopped (created, not started:
    /// no CPU; started on demand and in service once it passes a health check)
    #[arg(long, value_parser = ["running", "stopped"])]
    pub warm_pool_state: Option<String>,
    /// Requests one instance may have in flight; beyond it requests wait in the queue for room
    /// or a new instance (0: no limit)
    #[arg(long)]
    pub instance_limit: Option<u32>,
}

pub async fn run(c: &Context, a: ScaleArgs) -> Result<u8> {
    let app = c.app()?;
    let path = format!("/apps/{app}/environments/{}/scaling", a.env);
    let mut body = Map::new();
    match (a.instances, a.min, a.max) {
        (Some(n), None, None) => {
            body.insert("desired".into(), json!(n));
            body.insert("min".into(), json!(n));
            body.insert("max".into(), json!(n));
        }
        (n, min, max) => {
            if let Some(n) = n {
                body.insert("desired".into(), json!(n));
            }
            if let Some(m) = min {
                body.insert("min".into(), json!(m));
            }
            if let Some(m) = max {
                body.insert("max".into(), json!(m));
            }
        }
    }
    if let Some(t) = a.target_rps {
        if !(t.is_finite() && t > 0.0) {
            bail!(
                "--target-rps: the target must be a positive number of requests per instance per second, not {t}\n  hint: for example --target-rps 50"
            );
        }
        body.insert("target_rps".into(), json!(t));
    }
    if let Some(w) = a.scale_in_window {
        body.insert("scale_in_window_s".into(), json!(w));
    }
    if let Some(n) = a.queue {
        body.insert("queue_max_requests".into(), json!(n));
    }
    if let Some(ms) = a.queue_wait_ms {
        body.insert("queue_max_wait_ms".into(), json!(ms));
    }
    if let Some(n) = a.instance_limit {
        body.insert("instance_limit".into(), json!(n));
    }
    if let Some(n) = a.warm_pool {
        body.insert("warm_pool".into(), json!(n));
    }
    if let Some(state) = &a.warm_pool_state {
        body.insert("warm_pool_state".into(), json!(state));
    }
    let view: Value =
        if body.is_empty() { c.client.get(&path).await? } else { c.client.put(&path, &Value::Object(body)).await? };
    if c.fmt == Format::Json {
        output::json(&view);
        return Ok(0);
    }
    let s = &view["settings"];
    println!("{}: desired {}, band {}..{}", a.env, view["desired"], view["min"], view["max"]);
    match s["target_rps"].as_f64() {
        Some(t) => println!(
            "  target tracking: {t} requests per instance per second; scale-in after {} s below",
            s["scale_in_window_s"]
        ),
        None => println!("  no target: set one with --target-rps R to scale on load"),
    }
    if s["warm_pool"].as_u64().unwrap_or(0) > 0 {
        match s["warm_pool_state"].as_str() {
            Some("stopped") => println!(
                "  warm pool: {} instance(s) created and stopped, started on demand (in service once healthy)",
                s["warm_pool"]
            ),
            _ => println!("  warm pool: {} instance(s) launched and healthy out of rotation", s["warm_pool"]),
        }
    }
    let q = &s["queue"];
    match q["max_in_flight_per_instance"].as_u64() {
        Some(n) => println!(
            "  while no instance is in service or each has {n} requests in flight: hold up to {} requests for up to {} ms",
            q["max_requests"], q["max_wait_ms"]
        ),
        None => println!(
            "  while no instance is in service: hold up to {} requests for up to {} ms",
            q["max_requests"], q["max_wait_ms"]
        ),
    }
    if view["min"].as_u64() == Some(0) && view["max"].as_u64().unwrap_or(0) > 0 {
        println!(
            "  at zero: requests are held for the environment's measured wake (first request to an instance in service) plus a margin, at least {} ms; `sprout status` shows it",
            q["max_wait_ms"]
        );
    }
    Ok(0)
}
