//! Console sessions: a signed-in browser holds only a random session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the API is served over HTTPS); the API token it signed
//! in with stays in the server's memory, with the session's CSRF token. Every request looks the
//! token up again, so a revoked or expired token ends its sessions at once. Sign-out removes the
//! session here; a restarted server has none (everyone signs in again).
//!
//! Not here: what a token may do (`api::access`) or the pages themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sprout_store::TokenRecord;

use super::ConsoleState;
use crate::api::auth::hash_token;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "sprout_session";
/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub const PRE_COOKIE: &str = "sprout_signin";
/// A session ends after this long, whatever its use (sign in again).
const MAX_AGE_S: i64 = 12 * 3600;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    pub token: Arc<SecretString>,
    /// Carried by every form of the session's pages and checked on every POST.
    pub csrf: String,
    /// The token's record as of this request (scope, limits), for what pages show.
    pub record: Arc<TokenRecord>,
    pub started: DateTime<Utc>,
}

impl Session {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token.expose_secret())
    }
}

/// The sessions of this server process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// One message per session for its next page: what the last form did.
    flashes: Mutex<HashMap<String, String>>,
    /// A secret to show once on the session's next page (a new token), then forgotten.
    once: Mutex<HashMap<String, SecretString>>,
}

impl Sessions {
    pub fn start(&self, token: String, record: TokenRecord, now: DateTime<Utc>) -> Session {
        let s = Session {
            id: random_id(),
            token: Arc::new(SecretString::from(token)),
            csrf: random_id(),
            record: Arc::new(record),
            started: now,
        };
        let mut map = self.map.lock().unwrap();
        map.retain(|_, old| (now - old.started).num_seconds() < MAX_AGE_S);
        map.insert(s.id.clone(), s.clone());
        s
    }

    pub fn end(&self, id: &str) {
        self.map.lock().unwrap().remove(id);
        self.flashes.lock().unwrap().remove(id);
        self.once.lock().unwrap().remove(id);
    }

    /// Keeps `secret` for the session's next page only.
    pub fn show_once(&self, id: &str, secret: SecretString) {
        self.once.lock().unwrap().insert(id.to_string(), secret);
    }

    pub fn take_once(&self, id: &str) -> Option<SecretString> {
        self.once.lock().unwrap().remove(id)
    }

    pub fn flash(&self, id: &str, message: String) {
        self.flashes.lock().unwrap().insert(id.to_string(), message);
    }

    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.flashes.lock().unwrap().remove(id)
    }

    fn get(&self, id: &str) -> Option<Session> {
        self.map.lock().unwrap().get(id).cloned()
    }

    pub fn is_live(&self, id: &str) -> bool {
        self.map.lock().unwrap().contains_key(id)
    }

    pub fn count(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// 32 random bytes, hex.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is available");
    hex::encode(b)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value for the console's path; an empty value with max-age 0 removes it.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_s: i64) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .expect("cookie values are hex")
}

/// A 303 to `to`, with cookies to set.
pub fn see_other(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response();
    for c in cookies {
        r.headers_mut().append(SET_COOKIE, c);
    }
    r
}

/// The token behind `token`, if it is known, not revoked and not expired.
pub async fn check_token(st: &ConsoleState, token: &str) -> Result<TokenRecord, String> {
    let record = st
        .ctx
        .store
        .find_token(&hash_token(token.trim()))
        .await
        .map_err(|e| format!("cannot check the token: {e}"))?
        .ok_or_else(|| "unknown or revoked API token".to_string())?;
    if let Some(at) = record.expires_at
        && at <= st.ctx.clock.now()
    {
        return Err(format!("token '{}' has expired", record.name));
    }
    Ok(record)
}

/// A signed-in request; without a live session, the request is sent to the sign-in page.
pub struct SignedIn(pub Session);

impl FromRequestParts<ConsoleState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &ConsoleState) -> Result<Self, Response> {
        let to_sign_in = || see_other("/console/sign-in", vec![]);
        let id = cookie(&parts.headers, COOKIE_NAME).ok_or_else(to_sign_in)?;
        let mut s = st.sessions.get(&id).ok_or_else(to_sign_in)?;
        if (st.ctx.clock.now() - s.started).num_seconds() >= MAX_AGE_S {
            st.sessions.end(&id);
            return Err(to_sign_in());
        }
        match check_token(st, s.token.expose_secret()).await {
            Ok(record) => s.record = Arc::new(record),
            Err(_) => {
                st.sessions.end(&id);
                return Err(to_sign_in());
            }
        }
        Ok(SignedIn(s))
    }
}
