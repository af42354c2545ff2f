//! The console's forms: each POST is checked for the session's CSRF token first, then turned
//! into the API call the CLI makes for the same operation (deploy, abort, scaling, schedules,
//! configuration, terminate; clone, swap, removals and saved configurations in `env_ops`),
//! whose answer (or error, word for word) is shown on the next page.
//! Also the draft schedule's preview as the user types (the planner's own `validate_action` and
//! `preview`, as the API's preview uses them) and the 7-day timeline drawn as SVG.

use std::collections::HashMap;

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sprout_model::scaling::ScheduledAction;
use sprout_plan::scaling::Band;
use sprout_plan::schedule::{preview as plan_preview, validate_action};

use super::ConsoleState;
use super::client::{call, seg};
use super::session::{SignedIn, same_secret, see_other};

type Fields = HashMap<String, String>;

/// A refused forged POST: no CSRF token or the wrong one.
pub(super) fn forged() -> Response {
    (StatusCode::FORBIDDEN, "refused: the form has no valid CSRF token (reload the page and try again)\n")
        .into_response()
}

fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A whole number from a form field, or what to say about it.
fn number(f: &Fields, name: &str) -> Result<Option<Value>, String> {
    match field(f, name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(|n| Some(json!(n))).map_err(|_| format!("{name}: '{v}' is not a whole number")),
    }
}

/// Sets the present numbers among `names` in `body`.
fn numbers(f: &Fields, names: &[&str], body: &mut Map<String, Value>) -> Result<(), String> {
    for name in names {
        if let Some(n) = number(f, name)? {
            body.insert(name.to_string(), n);
        }
    }
    Ok(())
}

pub async fn submit(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env, op)): Path<(String, String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if !same_secret(&s.csrf, f.get("csrf").map_or("", String::as_str)) {
        return forged();
    }
    let base = format!("/apps/{}/environments/{}", seg(&app), seg(&env));
    let mut to = format!("/console/apps/{}/{}", seg(&app), seg(&env));
    let done: Result<String, String> = async {
        match op.as_str() {
            "deploy" => {
                let version = field(&f, "version").ok_or("choose a version to deploy")?;
                let mut patch = Map::new();
                for key in ["policy", "batch_size_type"] {
                    if let Some(v) = field(&f, key) {
                        patch.insert(key.to_string(), json!(v));
                    }
                }
                numbers(&f, &["batch_size"], &mut patch)?;
                let deploy = (!patch.is_empty()).then_some(Value::Object(patch));
                let body = json!({ "version": version, "deploy": deploy });
                call::<Value>(&st, &s, Method::POST, &format!("{base}/deploy"), Some(body)).await?;
                Ok(format!("deploying {version} to {env}"))
            }
            "abort" => {
                call::<Value>(&st, &s, Method::POST, &format!("{base}/abort"), None).await?;
                Ok(format!("the deploy of {env} is being aborted"))
            }
            "scaling" => {
                let mut body = Map::new();
                numbers(&f, &["min", "max", "desired", "warm_pool", "queue_max_requests"], &mut body)?;
                if let Some(t) = field(&f, "target_rps") {
                    let t: f64 = t.parse().map_err(|_| format!("target_rps: '{t}' is not a number"))?;
                    body.insert("target_rps".into(), json!(t));
                }
                let v: Value =
                    call(&st, &s, Method::PUT, &format!("{base}/scaling"), Some(Value::Object(body))).await?;
                Ok(format!("scaling of {env}: min {} max {} desired {}", v["min"], v["max"], v["desired"]))
            }
            "schedule" => {
                let action = draft(&f)?;
                let name = action.name.clone();
                let body = serde_json::to_value(&action).map_err(|e| e.to_string())?;
                call::<Value>(&st, &s, Method::POST, &format!("{base}/schedules"), Some(body)).await?;
                Ok(format!("scheduled action {name} added"))
            }
            "config" => {
                let key = field(&f, "key").ok_or("choose an option")?;
                let body = json!({ "options": { key: field(&f, "value") } });
                let v: Value = call(&st, &s, Method::PATCH, &format!("{base}/config"), Some(body)).await?;
                let effects: Vec<&str> =
                    v["effects"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                Ok(format!("{key} set. {}", effects.join(" ")))
            }
            "property" => {
                let name = field(&f, "name").ok_or("name the property")?;
                let body = match field(&f, "value") {
                    Some(v) => json!({ "set": { name: v } }),
                    None => json!({ "unset": [name] }),
                };
                call::<Value>(&st, &s, Method::PATCH, &format!("{base}/variables"), Some(body)).await?;
                Ok(format!("property {name} changed; instances are replaced under the deployment policy"))
            }
            "secret" => {
                let name = field(&f, "name").ok_or("name the secret")?;
                // The value goes to the API and is never sent back to a browser.
                let value = f.get("value").cloned().unwrap_or_default();
                let body = json!({ "value": value });
                call::<Value>(&st, &s, Method::PUT, &format!("{base}/secrets/{}", seg(name)), Some(body)).await?;
                Ok(format!("secret {name} set"))
            }
            "terminate" => {
                if field(&f, "confirm") != Some(env.as_str()) {
                    return Err(format!("type the environment's name ({env}) to terminate it"));
                }
                call::<Value>(&st, &s, Method::DELETE, &base, None).await?;
                Ok(format!("{env} is terminating"))
            }
            other => {
                let done = super::env_ops::submit(&st, &s, &app, &env, other, &f).await?;
                if let Some(next) = done.next {
                    to = next;
                }
                Ok(done.message)
            }
        }
    }
    .await;
    if op == "terminate" && done.is_ok() {
        to = "/console/".to_string();
    }
    st.sessions.flash(&s.id, done.unwrap_or_else(|e| format!("Refused: {e}")));
    see_other(&to, vec![])
}

pub async fn schedule_op(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env, name, op)): Path<(String, String, String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if !same_secret(&s.csrf, f.get("csrf").map_or("", String::as_str)) {
        return forged();
    }
    let path = format!("/apps/{}/environments/{}/schedules/{}", seg(&app), seg(&env), seg(&name));
    let done = match op.as_str() {
        "remove" => call::<Value>(&st, &s, Method::DELETE, &path, None).await.map(|_| "removed"),
        "suspend" | "resume" => call::<Value>(&st, &s, Method::POST, &format!("{path}/{op}"), None)
            .await
            .map(|_| if op == "suspend" { "suspended" } else { "resumed" }),
        _ => Err(format!("no such operation: {op}")),
    };
    let msg = done.map_or_else(|e| format!("Refused: {e}"), |d| format!("scheduled action {name} {d}"));
    st.sessions.flash(&s.id, msg);
    see_other(&format!("/console/apps/{}/{}", seg(&app), seg(&env)), vec![])
}

/// The scheduled action the form describes.
fn draft(f: &Fields) -> Result<ScheduledAction, String> {
    let n = |k: &str| number(f, k).map(|v| v.and_then(|v| v.as_u64()).map(|v| v as u32));
    Ok(ScheduledAction {
        name: field(f, "name").unwrap_or_default().to_string(),
        recurrence: field(f, "recurrence").map(String::from),
        time_zone: field(f, "time_zone").unwrap_or("UTC").to_string(),
        start: None,
        end: None,
        min: n("min")?,
        max: n("max")?,
        desired: n("desired")?,
        suspended: false,
    })
}

/// `GET .../preview?recurrence=..`: the next 7 days with the draft action added, as the user
/// types; or what is wrong with it, in the planner's words.
pub async fn preview(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
    Query(mut f): Query<Fields>,
) -> Response {
    let base = format!("/apps/{}/environments/{}", seg(&app), seg(&env));
    let answer: Result<Vec<Value>, String> = async {
        f.entry("name".into()).or_insert_with(|| "draft".into());
        if field(&f, "name").is_none() {
            f.insert("name".into(), "draft".into());
        }
        let a = draft(&f)?;
        validate_action(&a).map_err(|e| format!("{}: {} (for example {})", e.field, e.message, e.example))?;
        let scaling: Value = call(&st, &s, Method::GET, &format!("{base}/scaling"), None).await?;
        let mut actions: Vec<ScheduledAction> =
            serde_json::from_value(scaling["settings"]["scheduled_actions"].clone()).map_err(|e| e.to_string())?;
        actions.push(a);
        let band =
            Band { min: scaling["min"].as_u64().unwrap_or(1) as u32, max: scaling["max"].as_u64().unwrap_or(1) as u32 };
        let desired = scaling["desired"].as_u64().unwrap_or(1) as u32;
        let changes = plan_preview(&actions, band, desired, st.ctx.clock.now(), 7);
        Ok(changes
            .iter()
            .take(50)
            .map(|c| json!({ "local": c.local, "action": c.action, "min": c.min, "max": c.max, "desired": c.desired }))
            .collect())
    }
    .await;
    match answer {
        Ok(changes) => Json(json!({ "changes": changes })).into_response(),
        Err(e) => Json(json!({ "error": e })).into_response(),
    }
}

/// The 7-day preview as SVG step lines of desired, min and max, from the band now followed by
/// the preview's band changes (each with `at`, `min`, `max`, `desired`).
pub fn timeline(changes: &[Value], now: DateTime<Utc>) -> String {
    let (w, h) = (700.0, 120.0);
    let span = 7.0 * 86400.0;
    let x = |at: &str| -> f64 {
        let t: DateTime<Utc> = at.parse().unwrap_or(now);
        ((t - now).num_seconds() as f64 / span * w).clamp(0.0, w)
    };
    let top = changes.iter().filter_map(|c| c["max"].as_u64()).max().unwrap_or(0).max(1) as f64;
    let y = |n: f64| h - 10.0 - (h - 20.0) * n / top;
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Desired instances over the next 7 days\">"
    );
    for d in 0..=7 {
        let dx = w * f64::from(d) / 7.0;
        svg.push_str(&format!("<line class=\"day\" x1=\"{dx:.0}\" y1=\"0\" x2=\"{dx:.0}\" y2=\"{h}\"/>"));
    }
    for (key, class) in [("max", "max"), ("min", "min"), ("desired", "desired")] {
        let mut points = String::new();
        let mut last_y = None;
        for c in changes {
            let cx = x(c["at"].as_str().unwrap_or_default());
            let cy = y(c[key].as_f64().unwrap_or(0.0));
            if let Some(ly) = last_y {
                points.push_str(&format!("{cx:.1},{ly:.1} "));
            }
            points.push_str(&format!("{cx:.1},{cy:.1} "));
            last_y = Some(cy);
        }
        if let Some(ly) = last_y {
            points.push_str(&format!("{w},{ly:.1}"));
            svg.push_str(&format!("<polyline class=\"{class}\" points=\"{points}\"/>"));
        }
    }
    svg.push_str("</svg>");
    svg
}
