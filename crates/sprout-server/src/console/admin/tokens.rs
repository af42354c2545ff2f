//! Tokens (`sprout tokens create|list|revoke`): the list (names, scopes, limits, expiry, last
//! use; never a token or its hash, which the API does not send), a form to create one, and a
//! revoke button per row that needs the token's name typed. A new token is shown on the next
//! page only, from the session's show-once slot, and is neither logged nor kept.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sprout_model::expiry::parse_expiry;

use super::{Action, AdminPage, Field, Fields, FormSpec, Row, done, field, genuine, table};
use crate::console::ConsoleState;
use crate::console::client::{call, can_server, seg};
use crate::console::forms::forged;
use crate::console::session::SignedIn;

const PAGE: &str = "/console/tokens";

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn) -> Response {
    let mut p = AdminPage::new(&st, &s, "Tokens");
    p.once = st.sessions.take_once(&s.id).map(|t| ("Your new token".to_string(), t.expose_secret().to_string()));
    let revoke = can_server(&s, Method::DELETE, "/tokens/{name}");
    match call::<Value>(&st, &s, Method::GET, "/tokens", None).await {
        Ok(v) => {
            let (columns, rows) = table(&v);
            p.columns = columns;
            p.rows = rows
                .into_iter()
                .map(|(cells, item)| {
                    let name = item["name"].as_str().unwrap_or_default().to_string();
                    let actions = revoke
                        .then(|| {
                            Action::danger(format!("revoke-{name}"), format!("{PAGE}/{}/revoke", seg(&name)), "Revoke")
                                .confirmed_by(name.clone())
                        })
                        .into_iter()
                        .collect();
                    Row { cells, actions }
                })
                .collect();
        }
        Err(e) => p.error = Some(e),
    }
    if can_server(&s, Method::POST, "/tokens") {
        let f = "token";
        p.forms.push(FormSpec {
            id: "token-create".into(),
            title: "Create a token".into(),
            note: "read: every GET; deploy: versions, deploys, scaling, schedules, properties, secrets; \
                   admin: everything. The token is shown once, on the next page."
                .into(),
            action: format!("{PAGE}/create"),
            fields: vec![
                Field::new(f, "name", "Name", "text").required(),
                Field::new(f, "scope", "Scope", "select").value("read").options(&[
                    ("read", "read"),
                    ("deploy", "deploy"),
                    ("admin", "admin"),
                ]),
                Field::new(f, "limit_app", "Only this application (optional)", "text"),
                Field::new(f, "limit_env", "Only this environment (optional)", "text"),
                Field::new(f, "expires", "Expires after (90d, 12h, 30m; empty: never)", "text"),
            ],
            submit: "Create token".into(),
        });
    }
    p.into_response()
}

pub async fn create(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Form(f): Form<Fields>) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let result = async {
        let name = field(&f, "name").ok_or("name the token")?;
        let expires_in_s =
            field(&f, "expires").map(|e| parse_expiry(e).map_err(|why| format!("expires {why}"))).transpose()?;
        let body = json!({
            "name": name,
            "scope": field(&f, "scope").unwrap_or_default(),
            "limit_app": field(&f, "limit_app"),
            "limit_env": field(&f, "limit_env"),
            "expires_in_s": expires_in_s,
        });
        let created: Value = call(&st, &s, Method::POST, "/tokens", Some(body)).await?;
        let token = created["token"].as_str().ok_or("the API's answer has no token")?;
        // Kept for the next page only; the flash names the token, never shows it.
        st.sessions.show_once(&s.id, SecretString::from(token.to_string()));
        Ok(format!("token {name} created with scope {}", created["scope"].as_str().unwrap_or_default()))
    }
    .await;
    done(&st, &s, result, PAGE)
}

pub async fn revoke(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path(name): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !genuine(&s, &f) {
        return forged();
    }
    let result = async {
        if field(&f, "confirm") != Some(name.as_str()) {
            return Err(format!("type the token's name ({name}) to revoke it"));
        }
        call::<Value>(&st, &s, Method::DELETE, &format!("/tokens/{}", seg(&name)), None).await?;
        Ok(format!("token {name} revoked"))
    }
    .await;
    done(&st, &s, result, PAGE)
}
