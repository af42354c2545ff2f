//! The console is a client of the API inside the server: every read and every operation is a
//! request to the API router with the session's token, so a form is checked by exactly the
//! handlers, validation, access table (`api::access`) and audit trail that the CLI meets, and
//! answers with the same messages. Not here: rendering.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sprout_store::Scope;
use tower::ServiceExt;

use super::ConsoleState;
use super::session::Session;
use crate::api::access::{self, Call};
use crate::api::auth::TokenHash;

/// Most bytes of an API answer the console reads.
const MAX_ANSWER: usize = 16 << 20;

/// One path segment, percent-encoded: names come from the console's own paths and forms and must
/// not become more segments of the API's path.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Calls `method path` (under `/api/v1`) as the session's token; an error answer becomes its
/// message and hint, as the CLI prints them.
pub async fn call<T: DeserializeOwned>(
    st: &ConsoleState,
    s: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<T, String> {
    match body {
        Some(v) => send(st, s, method, path, Some("application/json"), Body::from(v.to_string())).await,
        None => send(st, s, method, path, None, Body::empty()).await,
    }
}

/// Like `call`, with a body as it comes (an uploaded bundle, streamed through, never held whole).
pub async fn send<T: DeserializeOwned>(
    st: &ConsoleState,
    s: &Session,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Body,
) -> Result<T, String> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(format!("/api/v1{path}"))
        // As the session's token, named by its hash: the token itself is not kept.
        .extension(TokenHash(s.token_hash.clone()));
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    let req = req.body(body).map_err(|e| format!("cannot build the request {method} {path}: {e}"))?;
    let resp = match st.api.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_ANSWER)
        .await
        .map_err(|e| format!("cannot read the answer to {method} {path}: {e}"))?;
    if !status.is_success() {
        return Err(error_text(status.as_u16(), &bytes));
    }
    let text = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
    serde_json::from_slice(text).map_err(|e| format!("unexpected answer to {method} {path}: {e}"))
}

/// The API's error body (`error`, `hint`, `diagnostics`) in words.
fn error_text(status: u16, bytes: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return format!("{status}: {}", String::from_utf8_lossy(bytes).trim());
    };
    let mut text = v["error"].as_str().unwrap_or("the request failed").to_string();
    if let Some(d) = v["diagnostics"].as_array() {
        for d in d.iter().take(10) {
            text.push_str(&format!("; {}", d["message"].as_str().unwrap_or_default()));
        }
    }
    if let Some(h) = v["hint"].as_str() {
        text.push_str(&format!(" ({h})"));
    }
    text
}

/// Whether the session's token may make the call: pages show a form only when it may (the API
/// decides again when the form is sent).
pub fn can(s: &Session, method: Method, route: &str, app: &str, env: Option<&str>) -> bool {
    access::allow(&s.record, &Call { method: &method, route, app: Some(app), env }).is_ok()
}

/// Whether the session's token may make a server-wide call (tokens, registry credentials,
/// certificates): a token limited to an application may not.
pub fn can_server(s: &Session, method: Method, route: &str) -> bool {
    access::allow(&s.record, &Call { method: &method, route, app: None, env: None }).is_ok()
}

/// The session's scope in words, for the page header.
pub fn scope_words(s: &Session) -> String {
    let mut w = match s.record.scope {
        Scope::Read => "read".to_string(),
        Scope::Deploy => "deploy".to_string(),
        Scope::Admin => "admin".to_string(),
    };
    if let Some(a) = &s.record.limit_app {
        w.push_str(&format!(", application {a}"));
    }
    if let Some(e) = &s.record.limit_env {
        w.push_str(&format!(", environment {e}"));
    }
    w
}
