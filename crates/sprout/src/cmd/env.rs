//! `create`, `deploy`, `status`, `list`, `terminate`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use sprout_api::{DeployRequest, EnvView, NewEnvironment};
use sprout_plan::InstanceHealth;

use super::Context;
use super::wait::{wait_gone, wait_ready};
use crate::output::{self, Format};
use crate::pack;

#[derive(clap::Args)]
pub struct CreateArgs {
    pub env: String,
    /// Bundle: a directory holding Dockerrun.aws.json, or the file itself [default: .]
    #[arg(long, default_value = ".")]
    pub bundle: PathBuf,
    /// Version label [default: git describe + timestamp]
    #[arg(long)]
    pub label: Option<String>,
    /// Version description
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// Instances to launch [default: the saved configuration's count with --cfg, else 1]
    #[arg(long)]
    pub instances: Option<u32>,
    /// Start from a saved configuration (options, properties, scheduled actions): `sprout config save`
    #[arg(long, value_name = "NAME")]
    pub cfg: Option<String>,
    /// Environment property passed to every container (repeatable): --var KEY=VALUE
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Tier: web (routed by the load balancer through the container on host port 80) or worker
    /// (no route; health from containers) [default: worker when no container maps host port 80]
    #[arg(long, value_name = "web|worker")]
    pub tier: Option<sprout_model::options::Tier>,
    /// Seconds to wait for Ready (the launch fails on the server after this too)
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Return once the request is accepted
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub deploy: super::abort::DeployPolicyArgs,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    pub env: Option<String>,
    /// Bundle: a directory holding Dockerrun.aws.json, or the file itself [default: .]
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Version label for the new version [default: git describe + timestamp]
    #[arg(long)]
    pub label: Option<String>,
    /// Deploy an existing version instead of uploading a bundle
    #[arg(long = "version", conflicts_with_all = ["bundle", "label"])]
    pub version: Option<String>,
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// Seconds the deploy may take before it is rolled back [default: the environment's
    /// deploy timeout, 600]
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Release task to run once before the first batch, in place of the bundle's sprout.yaml
    /// one: "CONTAINER: COMMAND" (e.g. "app: rake db:migrate")
    #[arg(long, value_name = "CONTAINER: COMMAND")]
    pub release: Option<String>,
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub deploy: super::abort::DeployPolicyArgs,
}

fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((k, val)) = v.split_once('=') else { bail!("--var {v:?} is not KEY=VALUE") };
        if k.is_empty() {
            bail!("--var {v:?} has an empty name");
        }
        out.insert(k.to_string(), val.to_string());
    }
    Ok(out)
}

/// Make sure the application exists (create it on first use, as `eb create` does after
/// `eb init`), then upload the bundle as a version. Returns the version's label.
async fn upload(
    c: &Context,
    bundle: &std::path::Path,
    label: Option<String>,
    message: Option<String>,
) -> Result<String> {
    let app = c.app()?;
    let apps: Vec<Value> = c.client.get("/apps").await?;
    if !apps.iter().any(|a| a["name"] == app) {
        let _: Value = c.client.post("/apps", &json!({"name": app})).await?;
    }
    let archive = pack::pack(bundle)?;
    let label = label.unwrap_or_else(|| pack::default_label(bundle, chrono::Utc::now()));
    let desc = message.unwrap_or_default();
    let q = format!("label={}&description={}", urlencode(&label), urlencode(&desc));
    let v: Value = c
        .client
        .upload(&format!("/apps/{app}/versions?{q}"), archive)
        .await
        .with_context(|| format!("uploading {} as version {label}", bundle.display()))?;
    if c.fmt == Format::Text {
        let how = if v["reused"] == true { "reused (same content)" } else { "created" };
        eprintln!("Version {} {how}: {}", v["label"].as_str().unwrap_or(""), v["bundle_digest"].as_str().unwrap_or(""));
        for w in v["warnings"].as_array().into_iter().flatten() {
            eprintln!("  warning: {}", w.as_str().unwrap_or(""));
        }
    }
    Ok(v["label"].as_str().unwrap_or(&label).to_string())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn create(c: &Context, a: CreateArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    sprout_model::names::check_name("environment", &a.env).map_err(anyhow::Error::msg)?;
    let variables = parse_vars(&a.vars)?;
    // The saved configuration is read first: a wrong name fails before any upload.
    let saved_instances = match &a.cfg {
        Some(name) => {
            let saved: sprout_model::config::SavedConfiguration =
                c.client.get(&format!("/apps/{app}/configurations/{name}")).await?;
            Some(saved.instances)
        }
        None => None,
    };
    let instances = a.instances.or(saved_instances).unwrap_or(1);
    let label = upload(c, &a.bundle, a.label, a.message).await?;
    let body = NewEnvironment {
        name: a.env.clone(),
        version: label.clone(),
        instances,
        variables,
        timeout_s: Some(a.timeout),
        deploy: a.deploy.to_patch()?,
        cfg: a.cfg.clone(),
        tier: a.tier,
    };
    let created: EnvView = c.client.post(&format!("/apps/{app}/environments"), &body).await?;
    if c.fmt == Format::Text {
        let from = a.cfg.map(|n| format!(" from saved configuration {n}")).unwrap_or_default();
        let n = created.desired_instances;
        let tier = created.tier.as_str();
        eprintln!("Creating {tier} environment {} of {app}{from} with version {label}, {n} instance(s)", a.env);
    }
    finish(c, &app, &a.env, &label, a.timeout, a.no_wait).await
}

pub async fn deploy(c: &Context, a: DeployArgs) -> Result<u8> {
    let app = c.app()?.to_string();
    let env = c.env(a.env)?;
    let release = match &a.release {
        Some(flag) => {
            let (container, command) =
                sprout_model::sprout_yaml::release::parse_release_flag(flag).map_err(anyhow::Error::msg)?;
            Some(sprout_api::ReleaseRequest { container, command, timeout_s: None })
        }
        None => None,
    };
    let label = match a.version {
        Some(v) => v,
        None => upload(c, &a.bundle.unwrap_or_else(|| PathBuf::from(".")), a.label, a.message).await?,
    };
    let body = DeployRequest { version: label.clone(), timeout_s: a.timeout, deploy: a.deploy.to_patch()?, release };
    let _: EnvView = c.client.post(&format!("/apps/{app}/environments/{env}/deploy"), &body).await?;
    if c.fmt == Format::Text {
        eprintln!("Deploying version {label} to {env}");
    }
    finish(c, &app, &env, &label, a.timeout.unwrap_or(600), a.no_wait).await
}

pub(crate) async fn finish(c: &Context, app: &str, env: &str, label: &str, timeout: u64, no_wait: bool) -> Result<u8> {
    let path = format!("/apps/{app}/environments/{env}");
    let result = if no_wait { Ok(c.client.get(&path).await?) } else { wait_ready(c, app, env, label, timeout).await };
    match result {
        Ok(v) => {
            match c.fmt {
                Format::Json => output::json(&v),
                Format::Text => {
                    print_status(&v);
                    if !no_wait {
                        println!("\nEnvironment {env} is Ready: {}", v.url);
                    }
                }
            }
            Ok(0)
        }
        Err((v, why)) => {
            if c.fmt == Format::Json {
                output::json(&json!({"error": why, "environment": v}));
            }
            eprintln!("error: {why}");
            Ok(1)
        }
    }
}

pub fn print_status(v: &EnvView) {
    println!("Environment details for: {}", v.name);
    println!("  Application name: {}", v.app);
    println!("  Tier: {}", v.tier.as_str());
    println!("  Deployed Version: {}", v.version);
    println!("  Status: {:?}", v.status);
    println!("  Health: {:?}", v.health);
    for cause in &v.causes {
        println!("    - {cause}");
    }
    match v.tier {
        sprout_model::options::Tier::Web => println!("  URL: {}", v.url),
        sprout_model::options::Tier::Worker => println!("  URL: none (a worker environment has no route)"),
    }
    println!("  Instances: {} desired, {} in service", v.desired_instances, v.in_service);
    if let Some(e) = &v.last_error {
        println!("  Last error: {e}");
    }
    for i in &v.instances {
        let (health, reason) = match &i.health {
            InstanceHealth::Pending => ("Pending", None),
            InstanceHealth::Healthy => ("Healthy", None),
            InstanceHealth::Unhealthy(why) => ("Unhealthy", Some(why)),
        };
        let serving = if i.in_service { "in service" } else { "out of service" };
        println!("  {}  {health:<9} {serving:<14} {}  {}", i.id, i.version, i.address.as_deref().unwrap_or("-"));
        if let Some(r) = reason {
            println!("      {r}");
        }
        for ct in &i.containers {
            println!("      {:<12} {:<8} {}", ct.name, ct.state, ct.ports.join(", "));
        }
    }
}

pub async fn status(c: &Context, env: Option<String>) -> Result<u8> {
    let app = c.app()?;
    let env = c.env(env)?;
    let v: EnvView = c.client.get(&format!("/apps/{app}/environments/{env}")).await?;
    match c.fmt {
        Format::Json => output::json(&v),
        Format::Text => print_status(&v),
    }
    Ok(0)
}

pub async fn list(c: &Context) -> Result<u8> {
    let path = match c.resolved.app.as_deref() {
        Some(app) => format!("/apps/{app}/environments"),
        None => "/environments".to_string(),
    };
    let list: Vec<EnvView> = c.client.get(&path).await?;
    if c.fmt == Format::Json {
        output::json(&list);
        return Ok(0);
    }
    if list.is_empty() {
        println!("No environments: `sprout create ENV --bundle DIR` makes one");
    }
    for e in &list {
        let (status, health) = (format!("{:?}", e.status), format!("{:?}", e.health));
        println!(
            "{:<16} {:<16} {status:<11} {health:<6} {}/{}  {}  {}",
            e.app, e.name, e.in_service, e.desired_instances, e.version, e.url
        );
    }
    Ok(0)
}

pub async fn terminate(c: &Context, env: String, force: bool, no_wait: bool) -> Result<u8> {
    let app = c.app()?.to_string();
    if !force {
        bail!("terminating {app}/{env} stops and removes all its instances; run again with --force to confirm");
    }
    let v: Value = c.client.delete(&format!("/apps/{app}/environments/{env}")).await?;
    if c.fmt == Format::Text {
        eprintln!("Terminating environment {env} of {app}");
    }
    if !no_wait {
        wait_gone(c, &app, &env, 300).await?;
    }
    match c.fmt {
        Format::Json => output::json(&json!({"app": app, "name": env, "terminated": !no_wait, "environment": v})),
        Format::Text => println!("Environment {env} {}", if no_wait { "is terminating" } else { "terminated" }),
    }
    Ok(0)
}
