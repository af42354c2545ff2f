//! `clone`, as `eb clone` does: a new environment with the source's version, option settings,
//! variables and instance count (not its host name).

use anyhow::Result;
use serde_json::json;
use sprout_api::EnvView;

use super::Context;
use super::env::finish;
use crate::output::Format;

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
