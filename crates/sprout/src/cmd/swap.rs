//! `swap`, as `eb swap` does: exchange two environments' host names (blue/green), in one
//! routing publish.

use anyhow::Result;
use serde_json::json;
use sprout_api::SwapView;

use super::Context;
use crate::output::{self, Format};

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
