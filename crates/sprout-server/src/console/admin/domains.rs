//! An application's domains (`sprout domains add|list|remove|https`): the list, a form to add
//! names to one of its environments (with certificates over ACME or not), a remove button per
//! name, and each environment's HTTPS settings (redirect to HTTPS, HSTS max-age) with their
//! current values (`GET .../https`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sprout_api::EnvView;

use super::{Action, AdminPage, Field, Fields, FormSpec, Row, checked, done, field, genuine, table};
use crate::console::ConsoleState;
use crate::console::client::{call, can, seg};
use crate::console::forms::forged;
use crate::console::session::SignedIn;

fn page_of(app: &str) -> String {
    format!("/console/domains/{}", seg(app))
}

fn env_api(app: &str, env: &str) -> String {
    format!("/apps/{}/environments/{}", seg(app), seg(env))
}

/// HTTPS settings in words, from the API's answer (`redirect`, `hsts_max_age`).
fn https_words(v: &Value) -> String {
    let hsts = v["hsts_max_age"].as_u64().map_or("off".to_string(), |s| format!("max-age={s}"));
    format!("redirect to HTTPS {}, HSTS {hsts}", if v["redirect"].as_bool() == Some(true) { "on" } else { "off" })
}

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Path(app): Path<String>) -> Response {
    let mut p = AdminPage::new(&st, &s, format!("Domains of {app}"));
    p.links = vec![
        ("/console/certificates".into(), "Certificates".into()),
        (format!("/console/policy/{}", seg(&app)), format!("Host policy of {app}")),
    ];
    p.empty = "No domain yet: each environment answers ENV.APP.localhost.".into();
    match call::<Value>(&st, &s, Method::GET, &format!("/apps/{}/domains", seg(&app)), None).await {
        Ok(v) => {
            let (columns, rows) = table(&v);
            p.columns = columns;
            p.rows = rows
                .into_iter()
                .map(|(cells, item)| {
                    let (host, env) =
                        (item["host"].as_str().unwrap_or_default(), item["env"].as_str().unwrap_or_default());
                    let allowed =
                        can(&s, Method::DELETE, "/apps/{app}/environments/{env}/domains/{host}", &app, Some(env));
                    let actions = allowed
                        .then(|| {
                            Action::danger(format!("remove-{host}"), format!("{}/remove", page_of(&app)), "Remove")
                                .with_hidden(vec![("env".into(), env.into()), ("host".into(), host.into())])
                        })
                        .into_iter()
                        .collect();
                    Row { cells, actions }
                })
                .collect();
        }
        Err(e) => {
            p.error = Some(e);
            return p.into_response();
        }
    }
    let envs: Vec<EnvView> =
        call(&st, &s, Method::GET, &format!("/apps/{}/environments", seg(&app)), None).await.unwrap_or_default();
    let add: Vec<(&str, &str)> = envs
        .iter()
        .filter(|e| can(&s, Method::POST, "/apps/{app}/environments/{env}/domains", &app, Some(&e.name)))
        .map(|e| (e.name.as_str(), e.name.as_str()))
        .collect();
    if !add.is_empty() {
        let f = "domain";
        p.forms.push(FormSpec {
            id: "domain-add".into(),
            title: "Add domains".into(),
            note: "Exact names or one-level wildcards (*.example.com), separated by spaces or commas. \
                   A name answers for one environment at a time. ACME (HTTP-01) obtains and renews \
                   certificates for exact names."
                .into(),
            action: format!("{}/add", page_of(&app)),
            fields: vec![
                Field::new(f, "env", "Environment", "select").options(&add),
                Field::new(f, "hosts", "Domains", "text").required(),
                Field::new(f, "acme", "Certificates over ACME", "checkbox"),
            ],
            submit: "Add domains".into(),
        });
    }
    for e in &envs {
        if !can(&s, Method::PUT, "/apps/{app}/environments/{env}/https", &app, Some(&e.name)) {
            continue;
        }
        let f = format!("https-{}", e.name);
        let now = match call::<Value>(&st, &s, Method::GET, &format!("{}/https", env_api(&app, &e.name)), None).await {
            Ok(v) => https_words(&v),
            Err(e) => e,
        };
        p.forms.push(FormSpec {
            id: f.clone(),
            title: format!("HTTPS of {}", e.name),
            note: format!("Now: {now}. Empty fields stay as they are; an HSTS max-age of 0 turns HSTS off."),
            action: format!("{}/https", page_of(&app)),
            fields: vec![
                Field::new(&f, "env", "Environment", "select").options(&[(e.name.as_str(), e.name.as_str())]),
                Field::new(&f, "redirect", "Redirect plain HTTP to HTTPS", "select").options(&[
                    ("", "as it is"),
                    ("on", "on"),
                    ("off", "off"),
                ]),
                Field::new(&f, "hsts_max_age", "HSTS max-age in seconds", "number"),
            ],
            submit: format!("Save HTTPS of {}", e.name),
        });
    }
    p.into_response()
}

async fn submit(
    st: &ConsoleState,
    s: &crate::console::session::Session,
    app: &str,
    op: &str,
    f: &Fields,
) -> Result<String, String> {
    let env = field(f, "env").ok_or("choose an environment")?;
    let base = env_api(app, env);
    match op {
        "add" => {
            let hosts: Vec<&str> = f
                .get("hosts")
                .map(String::as_str)
                .unwrap_or_default()
                .split([' ', ',', '\n'])
                .filter(|h| !h.trim().is_empty())
                .collect();
            let acme = checked(f, "acme");
            let body = json!({ "hosts": hosts, "acme": acme });
            call::<Value>(st, s, Method::POST, &format!("{base}/domains"), Some(body)).await?;
            Ok(format!("{} added to {env}{}", hosts.join(", "), if acme { " (certificates over ACME)" } else { "" }))
        }
        "remove" => {
            let host = field(f, "host").ok_or("name the domain")?;
            call::<Value>(st, s, Method::DELETE, &format!("{base}/domains/{}", seg(host)), None).await?;
            Ok(format!("{host} removed from {env}"))
        }
        "https" => {
            let mut body = Map::new();
            match field(f, "redirect") {
                Some("on") => drop(body.insert("redirect".into(), json!(true))),
                Some("off") => drop(body.insert("redirect".into(), json!(false))),
                Some(other) => return Err(format!("redirect: '{other}' is neither on nor off")),
                None => {}
            }
            if let Some(age) = field(f, "hsts_max_age") {
                let age: u64 = age.parse().map_err(|_| format!("hsts_max_age: '{age}' is not a whole number"))?;
                body.insert("hsts_max_age".into(), json!(age));
            }
            let v: Value = call(st, s, Method::PUT, &format!("{base}/https"), Some(Value::Object(body))).await?;
            Ok(format!("HTTPS of {env}: {}", https_words(&v)))
        }
        other => Err(format!("no such operation: {other}")),
    }
}

pub async fn change(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, op)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let result = submit(&st, &s, &app, &op, &f).await;
    done(&st, &s, result, &page_of(&app))
}
