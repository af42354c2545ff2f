//! The logs page: the last 200 lines of each instance's and container's logs (engine log and
//! log-volume files), read through the API's logs endpoint; **Follow** (the page's script asks
//! `tail` once a second and appends the lines it has not shown, as `sprout logs -f` does), and
//! **Download** (a POST form: every log in full, retired instances too, as the tar that `sprout
//! logs --bundle` writes). Not here: the environment page.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ConsoleState;
use super::client::{call, can, seg};
use super::overview::Chrome;
use super::session::{SignedIn, same_secret};
use crate::logs::{LogChunk, write_bundle};

/// Lines per log on the page and per look while following.
const TAIL: usize = 200;
/// Lines per log in a download: the API's most.
const BUNDLE_TAIL: usize = 100_000;

#[derive(Template, WebTemplate)]
#[template(path = "console/logs.html")]
pub struct LogsPage {
    pub chrome: Chrome,
    pub app: String,
    pub env: String,
    pub base: String,
    pub logs: Vec<LogChunk>,
    pub error: Option<String>,
    /// Whether the token may read the logs (every scope may; a limit to another application may
    /// not): the buttons are hidden otherwise.
    pub readable: bool,
}

impl LogsPage {
    /// The heading of one log, and the key the script finds it by.
    pub fn head(c: &LogChunk) -> String {
        format!("{} · {} · {}{}", c.instance, c.container, c.source, if c.live { "" } else { " (retired)" })
    }

    pub fn key(c: &LogChunk) -> String {
        format!("{}/{}/{}", c.instance, c.container, c.source)
    }
}

fn api_path(app: &str, env: &str, tail: usize, all: bool) -> String {
    format!("/apps/{}/environments/{}/logs?tail={tail}&all={all}", seg(app), seg(env))
}

pub async fn show(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    let (logs, error) = match call::<Value>(&st, &s, Method::GET, &api_path(&app, &env, TAIL, false), None).await {
        Ok(v) => (serde_json::from_value(v["logs"].clone()).unwrap_or_default(), None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let readable = can(&s, Method::GET, "/apps/{app}/environments/{env}/logs", &app, Some(&env));
    LogsPage {
        chrome: Chrome::of(&st, &s),
        base: format!("/console/apps/{}/{}", seg(&app), seg(&env)),
        app,
        env,
        logs,
        error,
        readable,
    }
    .into_response()
}

/// `GET .../logs/tail`: the running instances' last lines, for the page's script to follow.
pub async fn tail(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    match call::<Value>(&st, &s, Method::GET, &api_path(&app, &env, TAIL, false), None).await {
        Ok(v) => {
            let logs: Vec<LogChunk> = serde_json::from_value(v["logs"].clone()).unwrap_or_default();
            let logs: Vec<Value> = logs
                .iter()
                .map(|c| json!({ "key": LogsPage::key(c), "head": LogsPage::head(c), "text": c.text }))
                .collect();
            Json(json!({ "logs": logs })).into_response()
        }
        Err(e) => Json(json!({ "error": e })).into_response(),
    }
}

/// `POST .../logs/bundle`: every log of the environment in full, retired instances included, as
/// a tar to save.
pub async fn bundle(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !same_secret(&s.csrf, f.get("csrf").map_or("", String::as_str)) {
        return super::forms::forged();
    }
    let chunks = match call::<Value>(&st, &s, Method::GET, &api_path(&app, &env, BUNDLE_TAIL, true), None).await {
        Ok(v) => serde_json::from_value::<Vec<LogChunk>>(v["logs"].clone()).unwrap_or_default(),
        Err(e) => return (StatusCode::FORBIDDEN, format!("Refused: {e}\n")).into_response(),
    };
    let now = st.ctx.clock.now();
    let mut tar = Vec::new();
    if let Err(e) = write_bundle(&mut tar, &env, &chunks, now.timestamp().max(0) as u64) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write the log bundle: {e}\n")).into_response();
    }
    let file = format!("{app}-{env}-logs-{}.tar", now.format("%Y%m%d-%H%M%S"));
    // Names are checked by the API (letters, digits, dashes): nothing to escape in the header.
    let disposition = format!("attachment; filename=\"{}\"", file.replace('"', ""));
    ([(header::CONTENT_TYPE, "application/x-tar".to_string()), (header::CONTENT_DISPOSITION, disposition)], tar)
        .into_response()
}
