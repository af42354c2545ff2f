//! Certificates (`sprout certs add|list|renew|remove`): the list (names, issuer, validity,
//! source, last renewal attempt; never a key, which the API does not send), a form to add one
//! (the PEM chain and key pasted, or read from files by the page's script), and renew and remove
//! buttons per row. The key goes to the API once and is never put back into a page.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Action, AdminPage, Field, Fields, FormSpec, Row, done, genuine, table};
use crate::console::ConsoleState;
use crate::console::client::{call, can_server, seg};
use crate::console::forms::forged;
use crate::console::session::SignedIn;

const PAGE: &str = "/console/certificates";

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn) -> Response {
    let mut p = AdminPage::new(&st, &s, "Certificates");
    p.intro = "Served by the HTTPS listener for every name they cover, from the next handshake. \
               Certificates of names added with ACME are renewed before they expire."
        .into();
    let renew = can_server(&s, Method::POST, "/certificates/{id}/renew");
    let remove = can_server(&s, Method::DELETE, "/certificates/{id}");
    match call::<Value>(&st, &s, Method::GET, "/certificates", None).await {
        Ok(v) => {
            let (columns, rows) = table(&v);
            p.columns = columns;
            p.rows = rows
                .into_iter()
                .map(|(cells, item)| {
                    let id = item["id"].as_str().unwrap_or_default().to_string();
                    let mut actions = Vec::new();
                    if renew && item["source"].as_str() == Some("acme") {
                        actions.push(Action::plain(
                            format!("renew-{id}"),
                            format!("{PAGE}/{}/renew", seg(&id)),
                            "Renew now",
                        ));
                    }
                    if remove {
                        actions.push(Action::danger(
                            format!("remove-{id}"),
                            format!("{PAGE}/{}/remove", seg(&id)),
                            "Remove",
                        ));
                    }
                    Row { cells, actions }
                })
                .collect();
        }
        Err(e) => p.error = Some(e),
    }
    if can_server(&s, Method::POST, "/certificates") {
        let f = "cert";
        p.forms.push(FormSpec {
            id: "cert-add".into(),
            title: "Add a certificate".into(),
            note: "PEM: the certificate then its intermediates, and its private key. \
                   The key must match, the certificate be valid now and name DNS names. The key is stored \
                   encrypted and never shown again."
                .into(),
            action: format!("{PAGE}/add"),
            fields: vec![
                Field::new(f, "chain_pem", "Certificate chain (PEM)", "textarea").required().file(),
                Field::new(f, "key_pem", "Private key (PEM, write-only)", "textarea").required().file(),
            ],
            submit: "Add certificate".into(),
        });
    }
    p.into_response()
}

pub async fn add(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Form(f): Form<Fields>) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let text = |k: &str| f.get(k).cloned().unwrap_or_default();
    let body = json!({ "chain_pem": text("chain_pem"), "key_pem": text("key_pem") });
    let result = call::<Value>(&st, &s, Method::POST, "/certificates", Some(body)).await.map(|v| {
        let names: Vec<&str> = v["names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        format!(
            "certificate {} added for {} (valid until {})",
            v["id"].as_str().unwrap_or_default(),
            names.join(", "),
            v["not_after"].as_str().unwrap_or_default()
        )
    });
    done(&st, &s, result, PAGE)
}

pub async fn change(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((id, op)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let path = format!("/certificates/{}", seg(&id));
    let result = match op.as_str() {
        "renew" => call::<Value>(&st, &s, Method::POST, &format!("{path}/renew"), None).await.map(|v| {
            let names: Vec<&str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            format!("certificate {id}: {} ordered again over ACME", names.join(", "))
        }),
        "remove" => {
            call::<Value>(&st, &s, Method::DELETE, &path, None).await.map(|_| format!("certificate {id} removed"))
        }
        other => Err(format!("no such operation: {other}")),
    };
    done(&st, &s, result, PAGE)
}
