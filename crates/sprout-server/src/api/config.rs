//! An environment's configuration (`sprout config get|set|unset|edit|put`): every option of the
//! registry (`sprout_model::config`) with its default and where its value came from, and one
//! change to options and properties at a time. Options replace no instance (health check
//! options reach the probe at its next check; deployment options apply from the next deploy; a
//! new band moves the desired count); changed properties replace instances under the
//! deployment policy, as `sprout setenv` does. The answer says which, before (`dry_run`) and
//! after.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use sprout_api::{ConfigChange, ConfigChangeView, ConfigView, OptionChanged, OptionView};
use sprout_model::config::{self, Changes, DEFINITIONS, SavedConfiguration, Source};
use sprout_store::{EnvStatus, EnvironmentRecord};

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::events::Event;

pub fn config_view(e: &EnvironmentRecord) -> ConfigView {
    let options = DEFINITIONS
        .iter()
        .map(|d| OptionView {
            key: d.key.to_string(),
            value: (d.get)(&e.options),
            default: d.default_value(),
            default_note: d.default_note.map(String::from),
            source: config::source_of(&e.options, d).to_string(),
            allowed: d.kind.describe(),
            description: d.description.to_string(),
        })
        .collect();
    ConfigView {
        app: e.app.clone(),
        env: e.name.clone(),
        options,
        variables: e.variables.clone(),
        desired_instances: e.desired_instances,
    }
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<ConfigView>, ApiError> {
    Ok(Json(config_view(&ctx.store.get_environment(&app, &env).await?)))
}

/// What `req` asks of options, checked: a saved configuration is applied whole (every option
/// it does not hold goes back to its default); otherwise only the options named, and of
/// those only the ones whose value changes (so an unchanged option keeps its source).
fn wanted(
    e: &EnvironmentRecord,
    req: &ConfigChange,
    saved: Option<&SavedConfiguration>,
) -> Result<(Changes, Source), ApiError> {
    let mut changes = Changes::new();
    let mut errors = Vec::new();
    let mut allowed = Vec::new();
    let (given, source): (BTreeMap<String, Option<String>>, Source) = match saved {
        Some(s) => {
            let mut all: BTreeMap<String, Option<String>> =
                DEFINITIONS.iter().map(|d| (d.key.to_string(), None)).collect();
            all.extend(s.options.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
            (all, Source::Saved { name: s.name.clone() })
        }
        None => (req.options.clone(), Source::Hand),
    };
    for (name, value) in &given {
        let resolved = match value {
            Some(text) => config::resolve(name, text).map(|(d, v)| (d, Some(v))),
            None => config::lookup(name)
                .map(|(d, _)| (d, None))
                .ok_or_else(|| format!("unknown option `{name}`; {}", config::unknown_key_hint(name))),
        };
        match resolved {
            Ok((def, v)) => {
                let current = (def.get)(&e.options);
                let target = v.clone().or_else(|| def.default_value());
                if saved.is_some() || target != current {
                    changes.insert(def.key, v);
                }
            }
            Err(why) => {
                if let Some((def, _)) = config::lookup(name) {
                    allowed.push(format!("{}: {}", def.key, def.kind.describe()));
                }
                errors.push(why);
            }
        }
    }
    if !errors.is_empty() {
        let hint = if allowed.is_empty() { None } else { Some(format!("allowed: {}", allowed.join("; "))) };
        return Err(bad(errors.join("; "), hint));
    }
    Ok((changes, source))
}

/// The environment after the change and what the change does, without writing anything.
pub(crate) fn plan_change(
    e: &EnvironmentRecord,
    req: &ConfigChange,
    saved: Option<&SavedConfiguration>,
) -> Result<(EnvironmentRecord, ConfigChangeView), ApiError> {
    let (changes, source) = wanted(e, req, saved)?;
    let mut next = e.clone();
    config::apply(&mut next.options, &changes, &source).map_err(|m| bad(m, None))?;
    let changed: Vec<OptionChanged> = DEFINITIONS
        .iter()
        .filter_map(|d| {
            let (from, to) = ((d.get)(&e.options), (d.get)(&next.options));
            (from != to).then(|| OptionChanged { key: d.key.to_string(), from, to })
        })
        .collect();
    let variables = saved.map(|s| s.variables.clone()).or_else(|| req.variables.clone());
    if let Some(vars) = &variables {
        for (name, value) in vars {
            super::variables::check_variable(name, value)?;
        }
        next.variables = vars.clone();
    }
    if let Some(s) = saved {
        for a in &s.scheduled_actions {
            sprout_plan::schedule::validate_action(a).map_err(|e| bad(format!("{}: {}", e.field, e.message), None))?;
        }
        next.options.scaling.scheduled_actions = s.scheduled_actions.clone();
    }
    let variables_changed: Vec<String> = e
        .variables
        .keys()
        .chain(next.variables.keys())
        .filter(|k| e.variables.get(*k) != next.variables.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let band = sprout_plan::scaling::band_of(&next);
    next.desired_instances = next.desired_instances.clamp(band.min, band.max);
    let desired = (e.desired_instances, next.desired_instances);
    let replaces_instances = !variables_changed.is_empty();
    let mut effects = Vec::new();
    let touched = |prefix: &str| changed.iter().any(|c| c.key.starts_with(prefix));
    if touched("health.") {
        effects.push("health check options apply at each instance's next check; no instance is replaced".into());
    }
    if touched("deployment.") {
        effects.push("deployment options apply from the next deploy (and to this change's replacements)".into());
    }
    if touched("scaling.") {
        effects.push("scaling options apply at auto-scaling's next decision".into());
    }
    if desired.0 != desired.1 {
        effects.push(format!(
            "the desired instance count moves from {} to {} (into the band {}..{}): instances are added or removed, none replaced",
            desired.0, desired.1, band.min, band.max
        ));
    }
    if next.options.scaling.scheduled_actions != e.options.scaling.scheduled_actions {
        effects.push(format!("scheduled actions replaced ({})", next.options.scaling.scheduled_actions.len()));
    }
    if replaces_instances {
        let policy = next.options.deploy.policy.unwrap_or(sprout_store::DeploymentPolicy::default_for(desired.1));
        effects.push(format!(
            "environment properties change ({}): running instances are replaced under the deployment policy {policy:?}",
            variables_changed.join(", ")
        ));
    }
    let view = ConfigChangeView { changed, variables_changed, replaces_instances, desired, effects, applied: false };
    Ok((next, view))
}

/// `PATCH /apps/{app}/environments/{env}/config`.
pub async fn change(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
    Json(req): Json<ConfigChange>,
) -> Result<Json<ConfigChangeView>, ApiError> {
    let saved = match &req.saved {
        Some(name) => Some(super::saved::find(&ctx, &app, name).await?),
        None => None,
    };
    // A property may not take a secret's name (as `setenv` refuses it); secrets are never part
    // of a configuration.
    let given = saved.as_ref().map(|s| &s.variables).or(req.variables.as_ref());
    if let Some(vars) = given {
        let secrets = ctx.store.list_secrets(&app, &env).await?;
        if let Some(s) = secrets.iter().find(|s| vars.contains_key(&s.name)) {
            return Err(bad(
                format!("{} is a secret of {app}/{env}: one name cannot be both a property and a secret", s.name),
                Some(format!(
                    "remove the property {} from the configuration; `sprout secrets` manages the secret",
                    s.name
                )),
            ));
        }
    }
    super::revision::retry(|| async {
        let e = ctx.store.get_environment(&app, &env).await?;
        if e.status == EnvStatus::Terminating {
            return Err(ApiError::Conflict(format!("environment {app}/{env} is terminating")));
        }
        let (mut next, mut view) = plan_change(&e, &req, saved.as_ref())?;
        let nothing = view.changed.is_empty()
            && !view.replaces_instances
            && next.options.scaling.scheduled_actions == e.options.scaling.scheduled_actions
            && next.options.sources == e.options.sources;
        if req.dry_run || nothing {
            return Ok(Json(view));
        }
        let now = ctx.clock.now();
        if view.replaces_instances {
            next.status = EnvStatus::Updating;
            next.last_error = None;
            next.deploy_deadline = Some(now + chrono::Duration::seconds(next.options.deploy.timeout_s as i64));
        }
        next.updated_at = now;
        ctx.store.update_environment(&mut next).await?;
        let source = match &saved {
            Some(s) => Source::Saved { name: s.name.clone() },
            None => Source::Hand,
        };
        emit_changes(&ctx, &app, &env, &view.changed, &source).await;
        if view.replaces_instances {
            let names = view.variables_changed.join(", ");
            ctx.emit(&app, Some(&env), Event::VariablesChanged { names }).await;
        }
        ctx.wake(&app, &env);
        ctx.kick.notify_waiters();
        view.applied = true;
        Ok(Json(view))
    })
    .await
}

/// One `OptionsChanged` event for a change, when it changed any option.
pub(crate) async fn emit_changes(ctx: &Ctx, app: &str, env: &str, changed: &[OptionChanged], source: &Source) {
    if changed.is_empty() {
        return;
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    let changes = changed
        .iter()
        .map(|c| format!("{} {} -> {}", c.key, show(&c.from), show(&c.to)))
        .collect::<Vec<_>>()
        .join(", ");
    ctx.emit(app, Some(env), Event::OptionsChanged { changes, source: source.to_string() }).await;
}
