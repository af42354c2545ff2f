//! `nodes`: the machines of the swarm the server runs instances on (`sprout server --engine
//! swarm`), one line each: id, address, role, state, availability, instances, reserved memory.

use anyhow::Result;
use serde::Deserialize;

use super::Context;
use crate::output::{self, Format};

#[derive(Deserialize, serde::Serialize)]
struct Node {
    id: String,
    hostname: String,
    address: String,
    role: String,
    state: String,
    availability: String,
    #[serde(default)]
    instances: Vec<serde_json::Value>,
    reserved_memory_bytes: u64,
    memory_bytes: u64,
}

pub async fn run(c: &Context) -> Result<u8> {
    let nodes: Vec<Node> = c.client.get("/nodes").await?;
    match c.fmt {
        Format::Json => output::json(&nodes),
        Format::Text => {
            println!(
                "{:<27} {:<16} {:<15} {:<8} {:<8} {:<12} {:>9} {:>15}",
                "ID", "HOSTNAME", "ADDRESS", "ROLE", "STATE", "AVAILABILITY", "INSTANCES", "RESERVED MEMORY"
            );
            for n in &nodes {
                let mib = |b: u64| b / (1024 * 1024);
                println!(
                    "{:<27} {:<16} {:<15} {:<8} {:<8} {:<12} {:>9} {:>15}",
                    n.id,
                    n.hostname,
                    n.address,
                    n.role,
                    n.state,
                    n.availability,
                    n.instances.len(),
                    format!("{} / {} MiB", mib(n.reserved_memory_bytes), mib(n.memory_bytes))
                );
            }
        }
    }
    Ok(0)
}
