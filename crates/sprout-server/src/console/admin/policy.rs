//! An application's host access policy (`sprout policy show|set|reset`, docs/security.md): which
//! host paths its volumes may mount and whether its containers may be privileged. Shown to any
//! token that may read the application; changed (the whole policy at once, as `PUT` takes it)
//! or reset to nothing allowed by an admin.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AdminPage, Field, Fields, FormSpec, Row, checked, done, genuine};
use crate::console::ConsoleState;
use crate::console::client::{call, can, seg};
use crate::console::forms::forged;
use crate::console::session::SignedIn;

fn page_of(app: &str) -> String {
    format!("/console/policy/{}", seg(app))
}

fn api_of(app: &str) -> String {
    format!("/apps/{}/policy", seg(app))
}

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Path(app): Path<String>) -> Response {
    let mut p = AdminPage::new(&st, &s, format!("Host policy of {app}"));
    p.links = vec![(format!("/console/domains/{}", seg(&app)), format!("Domains of {app}"))];
    p.intro = "What this application's containers may reach on the host. A definition asking for more is refused \
               at upload and at deploy."
        .into();
    p.columns = vec!["allowed".into(), "value".into()];
    let policy = match call::<Value>(&st, &s, Method::GET, &api_of(&app), None).await {
        Ok(v) => v,
        Err(e) => {
            p.error = Some(e);
            return p.into_response();
        }
    };
    let paths: Vec<String> = policy["allow_host_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let privileged = policy["allow_privileged"].as_bool() == Some(true);
    let row = |k: &str, v: String| Row { cells: vec![k.to_string(), v], actions: Vec::new() };
    p.rows = vec![
        row("host paths", if paths.is_empty() { "none".into() } else { paths.join(", ") }),
        row("privileged containers", if privileged { "yes".into() } else { "no".into() }),
    ];
    if can(&s, Method::PUT, "/apps/{app}/policy", &app, None) {
        let f = "policy";
        p.forms.push(FormSpec {
            id: "policy-set".into(),
            title: "Change the policy".into(),
            note: "The whole policy: absolute host paths, one per line (a path allows what is below it); \
                   an empty list and no privilege is the default."
                .into(),
            action: format!("{}/set", page_of(&app)),
            fields: vec![
                Field::new(f, "paths", "Host paths volumes may mount", "textarea").value(paths.join("\n")),
                Field::new(f, "privileged", "Allow privileged containers", "checkbox").value(if privileged {
                    "on"
                } else {
                    ""
                }),
            ],
            submit: "Save policy".into(),
        });
    }
    p.into_response()
}

pub async fn set(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path(app): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let paths: Vec<&str> = f
        .get("paths")
        .map(String::as_str)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let body = json!({ "allow_host_paths": paths, "allow_privileged": checked(&f, "privileged") });
    let result = call::<Value>(&st, &s, Method::PUT, &api_of(&app), Some(body)).await.map(|v| {
        let paths: Vec<&str> =
            v["allow_host_paths"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        format!(
            "policy of {app} set: host paths {}; privileged {}",
            if paths.is_empty() { "none".to_string() } else { paths.join(", ") },
            if v["allow_privileged"].as_bool() == Some(true) { "allowed" } else { "not allowed" }
        )
    });
    done(&st, &s, result, &page_of(&app))
}
