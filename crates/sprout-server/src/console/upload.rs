//! Uploading a bundle from the environment page: the page's script sends the chosen file as the
//! request's body (with the session's CSRF token in `x-csrf-token`), and it is streamed as it
//! arrives to the API's upload (`POST /apps/{app}/versions?label=&description=`, the call
//! `sprout deploy --bundle` makes), so the API's checks and messages are the CLI's; then, when
//! asked, the new version is deployed to the environment as the deploy form does. The answer is
//! the next page's message (and the JSON the script reads). Not here: the deploy form.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ConsoleState;
use super::client::{call, seg, send};
use super::session::{SignedIn, same_secret};

/// The header the page's script sends the CSRF token in (a file is the whole body).
pub const CSRF_HEADER: &str = "x-csrf-token";

pub async fn upload(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The form sent without the page's script: it changes nothing, so say why first.
    let multipart =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("multipart/"));
    if multipart {
        let text =
            "refused: the bundle is sent by the page's script: enable JavaScript, or use `sprout deploy --bundle`\n";
        return (StatusCode::BAD_REQUEST, text).into_response();
    }
    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !same_secret(&s.csrf, csrf) {
        return super::forms::forged();
    }
    let arg = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let done: Result<String, String> = async {
        let mut path = format!("/apps/{}/versions?", seg(&app));
        for k in ["label", "description"] {
            if let Some(v) = arg(k) {
                path.push_str(&format!("{k}={}&", seg(v)));
            }
        }
        let v: Value = send(&st, &s, Method::POST, path.trim_end_matches(['?', '&']), None, body).await?;
        let label = v["label"].as_str().unwrap_or_default().to_string();
        let mut message = if v["reused"].as_bool() == Some(true) {
            format!("version {label} already held this bundle")
        } else {
            format!("version {label} uploaded")
        };
        for w in v["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            message.push_str(&format!("; warning: {w}"));
        }
        if arg("deploy").is_some() {
            let deploy = format!("/apps/{}/environments/{}/deploy", seg(&app), seg(&env));
            call::<Value>(&st, &s, Method::POST, &deploy, Some(json!({ "version": label })))
                .await
                .map_err(|e| format!("{message}, but not deployed: {e}"))?;
            message.push_str(&format!("; deploying it to {env}"));
        }
        Ok(message)
    }
    .await;
    let (status, ok) = if done.is_ok() { (StatusCode::OK, true) } else { (StatusCode::UNPROCESSABLE_ENTITY, false) };
    let message = done.unwrap_or_else(|e| format!("Refused: {e}"));
    st.sessions.flash(&s.id, message.clone());
    (status, Json(json!({ "ok": ok, "message": message }))).into_response()
}
