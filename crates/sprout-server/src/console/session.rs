//! Console sessions: a signed-in browser holds only a random session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the API is served over HTTPS). The server keeps the
//! session in the store, keyed by a hash of that id, with the hash of the token it signed in with
//! (never the token) and its CSRF token, so sessions survive a restart; pages call the API as
//! that token by its hash (`api::auth::TokenHash`). Every request looks the token up again, so a
//! revoked or expired token ends its sessions at once. Sign-out removes the session. What the
//! last form did (the flash) and a new token to show once live in memory only.
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
use secrecy::SecretString;
use sprout_store::{ConsoleSessionRecord, Store, TokenRecord};

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
    /// The hash of the token it signed in with: the API is called as that token.
    pub token_hash: String,
    /// Carried by every form of the session's pages and checked on every POST.
    pub csrf: String,
    /// The token's record as of this request (scope, limits), for what pages show.
    pub record: Arc<TokenRecord>,
    pub started: DateTime<Utc>,
}

/// The console's sessions: in the store, with the ones seen by this process in memory.
pub struct Sessions {
    store: Arc<dyn Store>,
    seen: Mutex<HashMap<String, ConsoleSessionRecord>>,
    /// One message per session for its next page: what the last form did.
    flashes: Mutex<HashMap<String, String>>,
    /// A secret to show once on the session's next page (a new token), then forgotten.
    once: Mutex<HashMap<String, SecretString>>,
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>) -> Sessions {
        Sessions { store, seen: Mutex::default(), flashes: Mutex::default(), once: Mutex::default() }
    }

    /// Starts a session for the token `record` (just checked); sessions past their age are
    /// removed from the store on the way.
    pub async fn start(&self, record: TokenRecord, now: DateTime<Utc>) -> Result<Session, String> {
        let id = random_id();
        let kept = ConsoleSessionRecord {
            id_hash: hash_token(&id),
            token_hash: record.hash.clone(),
            csrf: random_id(),
            started_at: now,
        };
        let old = now - chrono::Duration::seconds(MAX_AGE_S);
        let stored = async {
            self.store.delete_console_sessions("", old).await?;
            self.store.put_console_session(&kept).await
        };
        stored.await.map_err(|e| format!("cannot keep the console session: {e}"))?;
        let mut seen = self.seen.lock().unwrap();
        seen.retain(|_, s| s.started_at >= old);
        seen.insert(id.clone(), kept.clone());
        Ok(Session { id, token_hash: kept.token_hash, csrf: kept.csrf, record: Arc::new(record), started: now })
    }

    pub async fn end(&self, id: &str) {
        self.forget(id);
        if let Err(e) = self.store.delete_console_sessions(&hash_token(id), DateTime::<Utc>::MIN_UTC).await {
            tracing::warn!("cannot remove an ended console session from the store: {e}");
        }
    }

    fn forget(&self, id: &str) {
        self.seen.lock().unwrap().remove(id);
        self.flashes.lock().unwrap().remove(id);
        self.once.lock().unwrap().remove(id);
    }

    pub fn flash(&self, id: &str, message: String) {
        self.flashes.lock().unwrap().insert(id.to_string(), message);
    }

    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.flashes.lock().unwrap().remove(id)
    }

    /// Keeps `secret` for the session's next page only.
    pub fn show_once(&self, id: &str, secret: SecretString) {
        self.once.lock().unwrap().insert(id.to_string(), secret);
    }

    pub fn take_once(&self, id: &str) -> Option<SecretString> {
        self.once.lock().unwrap().remove(id)
    }

    /// The session `id`, from memory or (after a restart) from the store.
    async fn get(&self, id: &str) -> Result<Option<ConsoleSessionRecord>, String> {
        if let Some(s) = self.seen.lock().unwrap().get(id) {
            return Ok(Some(s.clone()));
        }
        let found = self
            .store
            .get_console_session(&hash_token(id))
            .await
            .map_err(|e| format!("cannot read the console session: {e}"))?;
        if let Some(s) = &found {
            self.seen.lock().unwrap().insert(id.to_string(), s.clone());
        }
        Ok(found)
    }

    /// Whether the session has not ended (as this process knows: a session is seen before any
    /// of its streams opens).
    pub fn is_live(&self, id: &str) -> bool {
        self.seen.lock().unwrap().contains_key(id)
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
    check_hash(st, &hash_token(token.trim())).await
}

/// The token whose hash is `hash`, if it is known, not revoked and not expired.
pub async fn check_hash(st: &ConsoleState, hash: &str) -> Result<TokenRecord, String> {
    let record = st
        .ctx
        .store
        .find_token(hash)
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
        let kept = match st.sessions.get(&id).await {
            Ok(Some(kept)) => kept,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err((StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()),
        };
        if (st.ctx.clock.now() - kept.started_at).num_seconds() >= MAX_AGE_S {
            st.sessions.end(&id).await;
            return Err(to_sign_in());
        }
        let Ok(record) = check_hash(st, &kept.token_hash).await else {
            st.sessions.end(&id).await;
            return Err(to_sign_in());
        };
        Ok(SignedIn(Session {
            id,
            token_hash: kept.token_hash,
            csrf: kept.csrf,
            record: Arc::new(record),
            started: kept.started_at,
        }))
    }
}
