//! The environment page's forms for the operations that reach beyond the environment itself:
//! clone (a new environment), swap (host names with another environment of the application),
//! removing a secret or a property, and saved configurations (save, apply as `sprout config
//! put` does, delete). Each is the API call the CLI makes, with the session's token; the answer
//! or the API's refusal, word for word, is the next page's message. The CSRF check is the
//! caller's (`forms::submit`). Not here: uploads (`upload`), logs (`logs`).

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{Value, json};
use sprout_api::{ConfigChangeView, EnvView, SwapView};

use super::ConsoleState;
use super::client::{call, seg};
use super::session::Session;

type Fields = HashMap<String, String>;

fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// What an operation did, and the page to show next when it is not the environment's own.
pub struct Done {
    pub message: String,
    pub next: Option<String>,
}

impl From<String> for Done {
    fn from(message: String) -> Self {
        Done { message, next: None }
    }
}

/// Runs `op` on `app`/`env` with the form's fields, or says why not.
pub async fn submit(
    st: &ConsoleState,
    s: &Session,
    app: &str,
    env: &str,
    op: &str,
    f: &Fields,
) -> Result<Done, String> {
    let base = format!("/apps/{}/environments/{}", seg(app), seg(env));
    match op {
        "clone" => {
            let name = field(f, "name").ok_or("name the new environment")?;
            let v: EnvView = call(st, s, Method::POST, &format!("{base}/clone"), Some(json!({ "name": name }))).await?;
            Ok(Done {
                message: format!("{env} cloned to {}: launching {} with version {}", v.name, v.url, v.version),
                next: Some(format!("/console/apps/{}/{}", seg(app), seg(&v.name))),
            })
        }
        "swap" => {
            let with = field(f, "with").ok_or("choose the environment to swap with")?;
            let body = json!({ "source": env, "destination": with });
            let v: SwapView = call(st, s, Method::POST, &format!("/apps/{}/swap", seg(app)), Some(body)).await?;
            Ok(format!(
                "host names swapped: {} now answers {}, {} answers {}",
                v.source.name, v.source.url, v.destination.name, v.destination.url
            )
            .into())
        }
        "secret-remove" => {
            let name = field(f, "name").ok_or("name the secret")?;
            call::<Value>(st, s, Method::DELETE, &format!("{base}/secrets/{}", seg(name)), None).await?;
            Ok(format!("secret {name} removed; instances are replaced under the deployment policy").into())
        }
        "property-remove" => {
            let name = field(f, "name").ok_or("name the property")?;
            let body = json!({ "unset": [name] });
            call::<Value>(st, s, Method::PATCH, &format!("{base}/variables"), Some(body)).await?;
            Ok(format!("property {name} removed; instances are replaced under the deployment policy").into())
        }
        "config-save" => {
            let name = field(f, "name").ok_or("name the saved configuration")?;
            let body = json!({ "name": name, "env": env });
            call::<Value>(st, s, Method::POST, &format!("/apps/{}/configurations", seg(app)), Some(body)).await?;
            Ok(format!("configuration of {env} saved as {name}").into())
        }
        "config-apply" => {
            let name = field(f, "name").ok_or("choose a saved configuration")?;
            let v: ConfigChangeView =
                call(st, s, Method::PATCH, &format!("{base}/config"), Some(json!({ "saved": name }))).await?;
            let mut message = format!(
                "saved configuration {name} applied to {env}: {} option(s) and {} propert(ies) changed.",
                v.changed.len(),
                v.variables_changed.len()
            );
            for e in &v.effects {
                message.push(' ');
                message.push_str(e);
            }
            Ok(message.into())
        }
        "config-delete" => {
            let name = field(f, "name").ok_or("choose a saved configuration")?;
            let path = format!("/apps/{}/configurations/{}", seg(app), seg(name));
            call::<Value>(st, s, Method::DELETE, &path, None).await?;
            Ok(format!("saved configuration {name} deleted").into())
        }
        other => Err(format!("no such operation: {other}")),
    }
}
