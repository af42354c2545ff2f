//! The environment page: status and health causes in words, instances and their containers,
//! recent events, the live graphs' frame (filled by `console.js` from `live`), and the forms of
//! every operation the token's scope allows: deploy (or roll back), abort, scaling band, scheduled
//! actions with their 7-day preview, configuration, saved configurations, clone and swap,
//! terminate. Versions are listed read-only. Containers' CPU and memory come after the page, from
//! `usage`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sprout_api::{ConfigView, EnvView};
use sprout_model::scaling::ScheduledAction;
use sprout_store::EventRecord;

use super::ConsoleState;
use super::client::{call, can, seg};
use super::overview::{Chrome, ago};
use super::session::{Session, SignedIn};

/// What the token may do here; each hides a form when false.
pub struct Allowed {
    pub deploy: bool,
    pub abort: bool,
    pub scale: bool,
    pub schedule: bool,
    pub config: bool,
    pub properties: bool,
    pub secrets: bool,
    pub terminate: bool,
    pub clone: bool,
    pub swap: bool,
    /// Save and delete saved configurations (applying one is `config`).
    pub saved: bool,
    pub upload: bool,
}

/// A saved configuration of the application, as listed.
pub struct Saved {
    pub name: String,
    pub from: String,
    pub created: String,
    pub options: usize,
}

pub struct Version {
    pub label: String,
    pub created: String,
    pub size: String,
    pub in_use_by: String,
    pub description: String,
}

pub struct InstanceRow {
    pub id: String,
    pub version: String,
    pub status: String,
    pub in_service: bool,
    pub causes: String,
    pub containers: Vec<(String, String, String)>,
}

/// The scaling form's current values.
pub struct Band {
    pub desired: String,
    pub min: String,
    pub max: String,
    pub target: String,
    pub warm_pool: String,
    pub queue_max_requests: String,
}

pub struct Change {
    pub local: String,
    pub action: String,
    pub band: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/environment.html")]
pub struct EnvPage {
    pub chrome: Chrome,
    pub base: String,
    pub env: EnvView,
    pub colour: String,
    pub allowed: Allowed,
    pub events: Vec<EventRecord>,
    pub versions: Vec<Version>,
    pub instances: Vec<InstanceRow>,
    pub band: Band,
    pub schedules: Vec<ScheduledAction>,
    pub preview: Vec<Change>,
    pub timeline: String,
    pub config: Option<ConfigView>,
    /// Properties and secrets by name, and whether it is a secret (its value is the API's mask).
    pub variables: Vec<(String, String, bool)>,
    pub saved: Vec<Saved>,
    /// The application's other environments, to swap with.
    pub others: Vec<String>,
    pub zones: &'static [&'static str],
    pub errors: Vec<String>,
}

/// Time zones offered first in the picker; any IANA name may be typed.
pub const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
];

pub async fn show(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    match render(&st, &s, &app, &env).await {
        Ok(p) => p.into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            super::overview::Overview { chrome: Chrome::of(&st, &s), rows: vec![], error: Some(e) },
        )
            .into_response(),
    }
}

async fn render(st: &ConsoleState, s: &Session, app: &str, env: &str) -> Result<EnvPage, String> {
    let base = format!("/apps/{}/environments/{}", seg(app), seg(env));
    let view: EnvView = call(st, s, Method::GET, &base, None).await?;
    let mut errors = Vec::new();
    let mut got = |r: Result<Value, String>| {
        r.unwrap_or_else(|e| {
            errors.push(e);
            Value::Null
        })
    };
    let events =
        got(call(st, s, Method::GET, &format!("/apps/{}/events?env={}&limit=30", seg(app), seg(env)), None).await);
    let versions = got(call(st, s, Method::GET, &format!("/apps/{}/versions", seg(app)), None).await);
    let scaling = got(call(st, s, Method::GET, &format!("{base}/scaling"), None).await);
    let schedules = got(call(st, s, Method::GET, &format!("{base}/schedules"), None).await);
    let preview = got(call(st, s, Method::GET, &format!("{base}/schedules/preview?days=7"), None).await);
    let config = got(call(st, s, Method::GET, &format!("{base}/config"), None).await);
    let variables = got(call(st, s, Method::GET, &format!("{base}/variables"), None).await);
    let secrets = got(call(st, s, Method::GET, &format!("{base}/secrets"), None).await);
    let saved = got(call(st, s, Method::GET, &format!("/apps/{}/configurations", seg(app)), None).await);
    let envs = got(call(st, s, Method::GET, &format!("/apps/{}/environments", seg(app)), None).await);
    let now = st.ctx.clock.now();
    let route = |tail: &str| format!("/apps/{{app}}/environments/{{env}}{tail}");
    let may = |m: Method, tail: &str| can(s, m, &route(tail), app, Some(env));
    let allowed = Allowed {
        deploy: may(Method::POST, "/deploy"),
        abort: may(Method::POST, "/abort"),
        scale: may(Method::PUT, "/scaling"),
        schedule: may(Method::POST, "/schedules"),
        config: may(Method::PATCH, "/config"),
        properties: may(Method::PATCH, "/variables"),
        secrets: may(Method::PUT, "/secrets/{name}"),
        terminate: may(Method::DELETE, ""),
        clone: may(Method::POST, "/clone"),
        swap: can(s, Method::POST, "/apps/{app}/swap", app, None),
        saved: can(s, Method::POST, "/apps/{app}/configurations", app, None)
            && can(s, Method::DELETE, "/apps/{app}/configurations/{name}", app, None),
        upload: can(s, Method::POST, "/apps/{app}/versions", app, None) && may(Method::POST, "/deploy"),
    };
    let mut versions: Vec<Version> = versions
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| Version {
            label: v["label"].as_str().unwrap_or_default().to_string(),
            created: v["created_at"].as_str().and_then(|t| t.parse().ok()).map_or_else(String::new, |t| ago(now, t)),
            size: v["image_size_bytes"].as_u64().map_or_else(|| "not yet deployed".into(), megabytes),
            in_use_by: v["in_use_by"]
                .as_array()
                .map_or_else(String::new, |a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
            description: v["description"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    versions.reverse();
    let changes: Vec<Value> = preview.as_array().cloned().unwrap_or_default();
    let mut points = vec![serde_json::json!({
        "at": now.to_rfc3339(), "min": scaling["min"], "max": scaling["max"], "desired": scaling["desired"],
    })];
    points.extend(changes.iter().cloned());
    let timeline = super::forms::timeline(&points, now);
    let view_instances_of = view.instances.clone();
    let secret_names = names(&secrets, "name");
    Ok(EnvPage {
        chrome: Chrome::of(st, s),
        base: format!("/console/apps/{}/{}", seg(app), seg(env)),
        colour: format!("{:?}", view.health),
        env: view,
        allowed,
        events: serde_json::from_value(events).unwrap_or_default(),
        versions,
        schedules: serde_json::from_value(schedules).unwrap_or_default(),
        preview: changes
            .iter()
            .map(|c| Change {
                local: c["local"].as_str().unwrap_or_default().to_string(),
                action: c["action"].as_str().unwrap_or_default().to_string(),
                band: format!("min {} max {} desired {}", c["min"], c["max"], c["desired"]),
            })
            .collect(),
        timeline,
        instances: view_instances(&view_instances_of),
        band: Band {
            desired: num(&scaling["desired"]),
            min: num(&scaling["min"]),
            max: num(&scaling["max"]),
            target: num(&scaling["settings"]["target_rps"]),
            warm_pool: num(&scaling["settings"]["warm_pool"]),
            queue_max_requests: num(&scaling["settings"]["queue"]["max_requests"]),
        },
        config: serde_json::from_value(config).ok(),
        variables: variables
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string(), secret_names.contains(k)))
            .collect(),
        saved: saved
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Saved {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                from: c["source_environment"].as_str().unwrap_or_default().to_string(),
                created: c["created_at"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .map_or_else(String::new, |t| ago(now, t)),
                options: c["options"].as_object().map_or(0, |o| o.len()),
            })
            .collect(),
        others: names(&envs, "name").into_iter().filter(|n| n != env).collect(),
        zones: ZONES,
        errors,
    })
}

/// `GET .../usage`: each running container's CPU and memory from the API's health answer (the
/// engine's stats, about a second to sample), fetched by the page's script after the page is
/// shown so the page itself renders without waiting for it.
pub async fn usage(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    let path = format!("/apps/{}/environments/{}/health", seg(&app), seg(&env));
    match call::<Value>(&st, &s, Method::GET, &path, None).await {
        Ok(health) => {
            let mut out = Vec::new();
            for i in health["instances"].as_array().into_iter().flatten() {
                for c in i["containers"].as_array().into_iter().flatten() {
                    let u = &c["usage"];
                    if u.is_null() {
                        continue;
                    }
                    out.push(serde_json::json!({
                        "container": format!("{}/{}", i["id"].as_str().unwrap_or_default(), c["name"].as_str().unwrap_or_default()),
                        "cpu_percent": u["cpu_percent"],
                        "memory_bytes": u["memory_bytes"],
                        "memory_limit_bytes": u["memory_limit_bytes"],
                    }));
                }
            }
            axum::Json(serde_json::json!({ "usage": out })).into_response()
        }
        Err(e) => axum::Json(serde_json::json!({ "error": e })).into_response(),
    }
}

/// The `key` of each object of a JSON array.
fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|o| o[key].as_str()).map(String::from).collect()
}

fn num(v: &Value) -> String {
    if v.is_null() { String::new() } else { v.to_string() }
}

fn view_instances(list: &[sprout_plan::snapshot::InstanceView]) -> Vec<InstanceRow> {
    list.iter()
        .map(|i| InstanceRow {
            id: i.id.clone(),
            version: i.version.clone(),
            status: format!("{:?}", i.status),
            in_service: i.in_service,
            causes: i.causes.join("; "),
            containers: i
                .containers
                .iter()
                .map(|c| {
                    let mut state = c.state.clone();
                    if let Some(code) = c.exit_code {
                        state.push_str(&format!(" (exit {code})"));
                    }
                    if c.oom_killed {
                        state.push_str(" OOM-killed");
                    }
                    (c.name.clone(), state, c.ports.join(", "))
                })
                .collect(),
        })
        .collect()
}

fn megabytes(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}
