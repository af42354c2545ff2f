//! `clone` and `swap`, as `eb clone` and `eb swap` do: copy an environment, then exchange two
//! environments' host names once the copy is proven.

use anyhow::Result;
use serde_json::{Value, json};

use super::Context;
use super::env::finish;
use crate::output::{self, Format};

pub async fn clone(c: &Context, source: String, name: String, timeout: u64, no_wait: bool) -> Result<u8> {
    let app = c.app()?.to_string();
    let v: Value = c
        .client
        .post(&format!("/apps/{app}/environments/{source}/clone"), &json!({"name": name, "timeout_s": timeout}))
        .await?;
    let label = v["version"].as_str().unwrap_or_default().to_string();
    if c.fmt == Format::Text {
        eprintln!(
            "Cloning {source} into {name}: version {label}, {} instance(s), same options and variables",
            v["desired_instances"]
        );
    }
    finish(c, &app, &name, &label, timeout, no_wait).await
}

pub async fn swap(c: &Context, source: String, destination: String) -> Result<u8> {
    let app = c.app()?.to_string();
    let v: Value =
        c.client.post(&format!("/apps/{app}/swap"), &json!({"source": source, "destination": destination})).await?;
    match c.fmt {
        Format::Json => output::json(&v),
        Format::Text => {
            for side in ["source", "destination"] {
                println!(
                    "{} now answers {}",
                    v[side]["name"].as_str().unwrap_or(""),
                    v[side]["url"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(0)
}
