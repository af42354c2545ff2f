//! `events`: an environment's (or application's) events, optionally followed.

use anyhow::Result;
use serde_json::Value;

use super::Context;
use crate::output::{self, Format};

pub fn print_event(e: &Value) {
    let at = e["at"].as_str().unwrap_or("");
    let at = at.get(..19).unwrap_or(at).replace('T', " ");
    println!("{at}  {:<5} {}", e["level"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or(""));
}

pub async fn events(c: &Context, env: Option<String>, follow: bool, limit: u32) -> Result<u8> {
    let app = c.app()?;
    let env = env.or_else(|| c.resolved.project.default_environment.clone());
    let q = env.as_deref().map(|e| format!("&env={e}")).unwrap_or_default();
    let list: Vec<Value> = c.client.get(&format!("/apps/{app}/events?limit={limit}{q}")).await?;
    if c.fmt == Format::Json && !follow {
        output::json(&list);
        return Ok(0);
    }
    let mut last = 0;
    for e in &list {
        if c.fmt == Format::Json {
            println!("{e}")
        } else {
            print_event(e)
        }
        last = e["id"].as_i64().unwrap_or(last);
    }
    if !follow {
        return Ok(0);
    }
    // Following: until interrupted (Ctrl-C) or the server stops answering.
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let more: Vec<Value> = c.client.get(&format!("/apps/{app}/events?after={last}&limit=500{q}")).await?;
        for e in &more {
            if c.fmt == Format::Json {
                println!("{e}")
            } else {
                print_event(e)
            }
            last = e["id"].as_i64().unwrap_or(last);
        }
    }
}
