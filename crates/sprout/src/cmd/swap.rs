//! `clone` and `swap`, as `eb clone` and `eb swap` do: copy an environment, then exchange two
//! environments' host names once the copy is proven.

use anyhow::Result;
use serde_json::json;
use sprout_api::{EnvView, SwapView};

use super::Context;
use super::env::finish;
use crate::output::{self, Format};

pub async fn clone(c: &Context, source: String, name: String, timeout: u64, no_wait: bool) -> Result<u8> {
    let app = c.app()?.to_string();
    let v: EnvView = c
        .client
        .post(&format!("/apps/{app}/environments/{source}/clone"), &json!({"name": name, "timeout_s": timeout}))
        .await?;
    let label = v.version.clone();
    if c.fmt == Format::Text {
        eprintln!(
            "Cloning {source} into {name}: version {label}, {} instance(s), same options and variables",
            v.desired_instances
        );
    }
    finish(c, &app, &name, &label, timeout, no_wait).await
}

pub async fn swap(c: &Context, source: String, destination: String) -> Result<u8> {
    let app = c.app()?.to_string();
    let v: SwapView =
        c.client.post(&format!("/apps/{app}/swap"), &json!({"source": source, "destination": destination})).await?;
    match c.fmt {
        Format::Json => output::json(&v),
        Format::Text => {
            for side in [&v.source, &v.destination] {
                println!("{} now answers {}", side.name, side.url);
            }
        }
    }
    Ok(0)
}
