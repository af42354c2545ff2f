//! `abort` (stop the deploy in progress and roll back to the last good version) and the deploy
//! option flags `create` and `deploy` share (`--policy`, `--batch-size`, `--ignore-health-check`).

use anyhow::{Result, bail};
use serde_json::json;
use sprout_api::{DeployOptionsPatch, EnvView};
use sprout_model::environment::EnvStatus;
use sprout_model::options::{BatchSizeType, DeploymentPolicy};

use super::Context;
use super::wait::wait_ready;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct AbortArgs {
    pub env: Option<String>,
    /// Seconds to wait for the rollback to be Ready
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Return once the abort is accepted
    #[arg(long)]
    pub no_wait: bool,
}

/// `--policy`: the model's deployment policy by its flag name.
fn parse_policy(s: &str) -> std::result::Result<DeploymentPolicy, String> {
    s.parse()
}

/// Deploy options; given ones are stored on the environment and apply to later deploys too.
#[derive(clap::Args, Default)]
pub struct DeployPolicyArgs {
    /// Deployment policy [default: rolling-with-additional-batch for more than one instance]
    #[arg(long, value_parser = parse_policy,
          value_name = "all-at-once|rolling|rolling-with-additional-batch|immutable")]
    pub policy: Option<DeploymentPolicy>,
    /// Instances per batch: a count (2) or a percentage (30%)
    #[arg(long, value_name = "N[%]")]
    pub batch_size: Option<String>,
    /// Count a batch as done once its instances run, without waiting for health checks
    #[arg(long)]
    pub ignore_health_check: bool,
}

impl DeployPolicyArgs {
    /// The API's `deploy` object, or None when no flag was given.
    pub fn to_patch(&self) -> Result<Option<DeployOptionsPatch>> {
        let mut patch = DeployOptionsPatch { policy: self.policy, ..Default::default() };
        if let Some(b) = &self.batch_size {
            let (n, kind) = match b.strip_suffix('%') {
                Some(n) => (n, BatchSizeType::Percentage),
                None => (b.as_str(), BatchSizeType::Fixed),
            };
            let Ok(n) = n.trim().parse::<u32>() else {
                bail!("--batch-size {b:?} is not a count (2) or a percentage (30%)");
            };
            (patch.batch_size, patch.batch_size_type) = (Some(n), Some(kind));
        }
        if self.ignore_health_check {
            patch.ignore_health_check = Some(true);
        }
        Ok((!patch.is_empty()).then_some(patch))
    }
}

pub async fn abort(c: &Context, a: AbortArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let env = c.env(a.env)?;
    let v: EnvView = c.client.post(&format!("/apps/{app}/environments/{env}/abort"), &json!({})).await?;
    let label = v.version.clone();
    if c.fmt == Format::Text {
        eprintln!("Deploy to {env} aborted; rolling back to version {label}");
    }
    if a.no_wait {
        if c.fmt == Format::Json {
            output::json(&v);
        }
        return Ok(0);
    }
    match wait_ready(c, &app, &env, &label, a.timeout).await {
        Ok(v) | Err((Some(v), _)) if v.status == EnvStatus::Ready && v.version == label => {
            match c.fmt {
                Format::Json => output::json(&v),
                Format::Text => println!("Environment {env} is back on version {label}"),
            }
            Ok(0)
        }
        Ok(_) => Ok(0),
        Err((v, why)) => {
            if c.fmt == Format::Json {
                output::json(&json!({"error": why, "environment": v}));
            }
            eprintln!("error: {why}");
            Ok(1)
        }
    }
}
