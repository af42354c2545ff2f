//! Registry credentials (`sprout registry login|list|logout`): the list (registry, username,
//! scope, last success and failure, a held circuit; never a password: the API does not send
//! one), a login form whose password field is write-only, and a remove button per row.
//! Importing a Docker config.json stays with the CLI.

use axum::Form;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Action, AdminPage, Field, Fields, FormSpec, Row, done, field, genuine, table};
use crate::console::ConsoleState;
use crate::console::client::{call, can_server};
use crate::console::forms::forged;
use crate::console::session::SignedIn;

const PAGE: &str = "/console/registries";

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn) -> Response {
    let mut p = AdminPage::new(&st, &s, "Registry credentials");
    p.intro = "Pulls use these to reach private registries. Passwords are stored encrypted and never shown; \
               `sprout registry import` adds a Docker config.json."
        .into();
    let logout = can_server(&s, Method::POST, "/registries/logout");
    match call::<Value>(&st, &s, Method::GET, "/registries", None).await {
        Ok(v) => {
            let (columns, rows) = table(&v);
            p.columns = columns;
            p.rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, (cells, item))| {
                    let mut hidden = vec![("host".to_string(), item["host"].as_str().unwrap_or_default().to_string())];
                    if let Some(app) = item["app"].as_str() {
                        hidden.push(("app".into(), app.into()));
                    }
                    let actions = logout
                        .then(|| {
                            Action::danger(format!("logout-{i}"), format!("{PAGE}/logout"), "Remove")
                                .with_hidden(hidden)
                        })
                        .into_iter()
                        .collect();
                    Row { cells, actions }
                })
                .collect();
        }
        Err(e) => p.error = Some(e),
    }
    if can_server(&s, Method::POST, "/registries/login") {
        let f = "registry";
        p.forms.push(FormSpec {
            id: "registry-login".into(),
            title: "Add a credential".into(),
            note: "A deploy-scoped registry token is better than an account's password. \
                   A new credential for the same registry and scope replaces the old one."
                .into(),
            action: format!("{PAGE}/login"),
            fields: vec![
                Field::new(f, "host", "Registry (e.g. registry.example.com:5000)", "text").required(),
                Field::new(f, "username", "Username", "text").required(),
                Field::new(f, "password", "Password or token (write-only)", "password").required(),
                Field::new(f, "app", "Only this application's pulls (optional)", "text"),
            ],
            submit: "Add credential".into(),
        });
    }
    p.into_response()
}

pub async fn login(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Form(f): Form<Fields>) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let result = async {
        // The password goes to the API as typed (no trimming: it is the user's secret).
        let body = json!({
            "host": field(&f, "host").unwrap_or_default(),
            "username": field(&f, "username").unwrap_or_default(),
            "password": f.get("password").cloned().unwrap_or_default(),
            "app": field(&f, "app"),
        });
        let v: Value = call(&st, &s, Method::POST, "/registries/login", Some(body)).await?;
        Ok(format!(
            "credential for {} stored for user {}",
            v["host"].as_str().unwrap_or_default(),
            v["username"].as_str().unwrap_or_default()
        ))
    }
    .await;
    done(&st, &s, result, PAGE)
}

pub async fn logout(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Form(f): Form<Fields>) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let result = async {
        let body = json!({ "host": field(&f, "host").unwrap_or_default(), "app": field(&f, "app") });
        let v: Value = call(&st, &s, Method::POST, "/registries/logout", Some(body)).await?;
        Ok(format!("{} credential(s) for {} removed", v["removed"], field(&f, "host").unwrap_or_default()))
    }
    .await;
    done(&st, &s, result, PAGE)
}
