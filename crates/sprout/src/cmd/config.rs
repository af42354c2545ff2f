//! `sprout config`: an environment's options (`get`, `set`, `unset`, `edit` in `$EDITOR`), and
//! saved configurations (`save`, `list`, `show`, `delete`, `put`). Keys are the dotted keys of
//! docs/options.md or Elastic Beanstalk's namespaced names. Every change is shown (what moves
//! and whether running instances are replaced) before it is applied, in one request.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use sprout_api::{ConfigChange, ConfigChangeView, ConfigView, EnvView, SaveConfiguration};
use sprout_model::config::SavedConfiguration;
use sprout_model::config::document::{parse_edit, render_values};

use super::Context;
use super::env::finish;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print an environment's options: value, default and where the value came from
    Get { env: String, key: Option<String> },
    /// Set options (KEY=VALUE; dotted keys or Elastic Beanstalk names, see docs/options.md)
    Set {
        env: String,
        #[arg(value_name = "KEY=VALUE", required = true)]
        assignments: Vec<String>,
    },
    /// Put options back to their defaults
    Unset {
        env: String,
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
    },
    /// Edit the whole configuration (options and properties) as YAML in $EDITOR, applied as one change
    Edit {
        env: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Save an environment's configuration (options, properties, schedules, instance count)
    Save {
        env: String,
        #[arg(long)]
        name: String,
    },
    /// List the application's saved configurations
    List,
    /// Show a saved configuration
    Show { name: String },
    /// Delete a saved configuration
    Delete { name: String },
    /// Apply a saved configuration to a running environment
    Put {
        env: String,
        #[arg(long)]
        cfg: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// How long to wait when a change replaces instances.
#[derive(clap::Args, Clone, Copy)]
pub struct WaitArgs {
    /// Seconds to wait for the replaced instances to be Ready
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Return once the change is accepted
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn run(c: &Context, a: ConfigArgs, yaml: bool) -> Result<u8> {
    let app = c.app()?.to_string();
    let no_wait = WaitArgs { timeout: 600, no_wait: true };
    match a.command {
        ConfigCommand::Get { env, key } => get(c, &app, &env, key, yaml).await,
        ConfigCommand::Set { env, assignments } => {
            let mut options = BTreeMap::new();
            for a in &assignments {
                let Some((k, v)) = a.split_once('=') else {
                    bail!(
                        "{a:?} is not KEY=VALUE (e.g. health.path=/health; `sprout config unset ENV KEY` for the default)"
                    );
                };
                options.insert(k.trim().to_string(), Some(v.to_string()));
            }
            change(c, &app, &env, ConfigChange { options, ..Default::default() }, no_wait, yaml).await
        }
        ConfigCommand::Unset { env, keys } => {
            let options = keys.into_iter().map(|k| (k, None)).collect();
            change(c, &app, &env, ConfigChange { options, ..Default::default() }, no_wait, yaml).await
        }
        ConfigCommand::Edit { env, wait } => edit(c, &app, &env, wait, yaml).await,
        ConfigCommand::Put { env, cfg, wait } => {
            change(c, &app, &env, ConfigChange { saved: Some(cfg), ..Default::default() }, wait, yaml).await
        }
        ConfigCommand::Save { env, name } => {
            let body = SaveConfiguration { name: name.clone(), env: env.clone() };
            let saved: SavedConfiguration = c.client.post(&format!("/apps/{app}/configurations"), &body).await?;
            match (c.fmt, yaml) {
                (_, true) => print_yaml(&saved)?,
                (Format::Json, _) => output::json(&saved),
                (Format::Text, _) => println!(
                    "Saved the configuration of {env} as {name}: {} option(s) not at their default, {} propert(y/ies), {} scheduled action(s), {} instance(s)",
                    saved.options.len(),
                    saved.variables.len(),
                    saved.scheduled_actions.len(),
                    saved.instances
                ),
            }
            Ok(0)
        }
        ConfigCommand::List => {
            let all: Vec<SavedConfiguration> = c.client.get(&format!("/apps/{app}/configurations")).await?;
            match (c.fmt, yaml) {
                (_, true) => print_yaml(&all)?,
                (Format::Json, _) => output::json(&all),
                (Format::Text, _) => {
                    println!("{:<24} {:<16} {:>8} {:>10}  CREATED", "NAME", "FROM", "OPTIONS", "INSTANCES");
                    for s in &all {
                        let from = s.source_environment.as_deref().unwrap_or("-");
                        let at = s.created_at.format("%Y-%m-%d %H:%M:%S UTC");
                        println!("{:<24} {from:<16} {:>8} {:>10}  {at}", s.name, s.options.len(), s.instances);
                    }
                }
            }
            Ok(0)
        }
        ConfigCommand::Show { name } => {
            let saved: SavedConfiguration = c.client.get(&format!("/apps/{app}/configurations/{name}")).await?;
            match (c.fmt, yaml) {
                (Format::Json, false) => output::json(&saved),
                _ => print_yaml(&saved)?,
            }
            Ok(0)
        }
        ConfigCommand::Delete { name } => {
            let gone: SavedConfiguration = c.client.delete(&format!("/apps/{app}/configurations/{name}")).await?;
            match (c.fmt, yaml) {
                (_, true) => print_yaml(&gone)?,
                (Format::Json, _) => output::json(&gone),
                (Format::Text, _) => println!("Deleted saved configuration {name} of {app}"),
            }
            Ok(0)
        }
    }
}

fn print_yaml<T: serde::Serialize>(value: &T) -> Result<()> {
    print!("{}", serde_saphyr::to_string(value).context("writing YAML")?);
    Ok(())
}

async fn get(c: &Context, app: &str, env: &str, key: Option<String>, yaml: bool) -> Result<u8> {
    let view: ConfigView = c.client.get(&format!("/apps/{app}/environments/{env}/config")).await?;
    if let Some(key) = key {
        let wanted = sprout_model::config::lookup(&key).map(|(d, _)| d.key).unwrap_or(key.as_str());
        let Some(o) = view.options.iter().find(|o| o.key == wanted) else {
            bail!("unknown option `{key}`; {}", sprout_model::config::unknown_key_hint(&key));
        };
        match (c.fmt, yaml) {
            (_, true) => print_yaml(o)?,
            (Format::Json, _) => output::json(o),
            (Format::Text, _) => {
                println!("{}: {}", o.key, o.value.as_deref().unwrap_or("(none)"));
                println!("  default: {}", o.default_note.clone().or(o.default.clone()).unwrap_or("(none)".into()));
                println!("  source: {}", o.source);
                println!("  allowed: {}", o.allowed);
                println!("  {}", o.description);
            }
        }
        return Ok(0);
    }
    match (c.fmt, yaml) {
        (_, true) => print_yaml(&view)?,
        (Format::Json, _) => output::json(&view),
        (Format::Text, _) => {
            println!("Options of {env} ({app}), {} instance(s) desired:", view.desired_instances);
            println!("  {:<34} {:<20} {:<14} SOURCE", "KEY", "VALUE", "DEFAULT");
            for o in &view.options {
                let value = o.value.as_deref().unwrap_or("-");
                let default = o.default.as_deref().unwrap_or("-");
                println!("  {:<34} {value:<20} {default:<14} {}", o.key, o.source);
            }
            println!("Environment properties: {} (`sprout printenv {env}`)", view.variables.len());
        }
    }
    Ok(0)
}

/// Show what `req` changes, apply it, and wait when it replaces instances.
async fn change(c: &Context, app: &str, env: &str, req: ConfigChange, wait: WaitArgs, yaml: bool) -> Result<u8> {
    let path = format!("/apps/{app}/environments/{env}/config");
    let dry: ConfigChangeView = c.client.patch(&path, &ConfigChange { dry_run: true, ..req.clone() }).await?;
    let nothing = dry.changed.is_empty() && dry.variables_changed.is_empty() && req.saved.is_none();
    if c.fmt == Format::Text && !yaml {
        if nothing {
            eprintln!("No change: every option already has that value");
            return Ok(0);
        }
        for ch in &dry.changed {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            eprintln!("  {}: {} -> {}", ch.key, show(&ch.from), show(&ch.to));
        }
        for effect in &dry.effects {
            eprintln!("  - {effect}");
        }
        if !dry.replaces_instances {
            eprintln!("  - no running instance is replaced");
        }
        eprintln!("Applying to {env}");
    }
    let done: ConfigChangeView = c.client.patch(&path, &ConfigChange { dry_run: false, ..req }).await?;
    if done.replaces_instances {
        let v: EnvView = c.client.get(&format!("/apps/{app}/environments/{env}")).await?;
        return finish(c, app, env, &v.version, wait.timeout, wait.no_wait).await;
    }
    match (c.fmt, yaml) {
        (_, true) => print_yaml(&done)?,
        (Format::Json, _) => output::json(&done),
        (Format::Text, _) => println!("Configuration of {env} updated ({} option(s) changed)", done.changed.len()),
    }
    Ok(0)
}

/// `config edit`: the whole configuration in `$VISUAL`/`$EDITOR`, checked, applied as one change.
async fn edit(c: &Context, app: &str, env: &str, wait: WaitArgs, yaml: bool) -> Result<u8> {
    let view: ConfigView = c.client.get(&format!("/apps/{app}/environments/{env}/config")).await?;
    let values: BTreeMap<&str, Option<String>> =
        view.options.iter().map(|o| (o.key.as_str(), o.value.clone())).collect();
    let what = format!("environment {env} of {app}");
    let text = render_values(&what, |d| values.get(d.key).cloned().flatten(), &view.variables);
    let dir = std::env::temp_dir().join(format!("sprout-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join(format!("{env}.yaml"));
    std::fs::write(&file, &text).with_context(|| format!("writing {}", file.display()))?;
    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
    // Through the shell, so an editor given with arguments (`code --wait`) works.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .with_context(|| format!("running the editor {editor:?} (set EDITOR)"))?;
    if !status.success() {
        bail!("the editor {editor:?} exited with {status}; nothing was changed (your edit is in {})", file.display());
    }
    let edited = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    if edited == text || edited.trim().is_empty() {
        eprintln!("Nothing was changed");
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(0);
    }
    let name = file.display().to_string();
    let parsed = match parse_edit(&name, &edited) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!(
                "Nothing was changed; your edit is kept in {name}: fix it and run `sprout config edit {env}` again"
            );
            return Ok(1);
        }
    };
    let options = parsed.options.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let req = ConfigChange { options, variables: Some(parsed.variables), ..Default::default() };
    let code = change(c, app, env, req, wait, yaml).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(code)
}
