//! Bearer tokens: stored as SHA-256 hashes with a scope, optional limits and an expiry; what
//! each call needs is `access`'s table. Every call that changes something is recorded in the
//! audit trail. The first start creates an admin token and writes it to `admin.token` (0600).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use sprout_store::{NewAudit, Scope, Store, TokenRecord};

use super::access;
use super::error::ApiError;
use crate::context::Ctx;

pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

pub fn new_token() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the OS random source is available");
    format!("sprout_{}", hex::encode(b))
}

/// On first start (no token in the store), create an admin token, store its hash and write it
/// to `path` readable by the owner only. Later starts leave both alone.
pub async fn ensure_admin_token(
    store: &dyn Store,
    path: &std::path::Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>, String> {
    if store.count_tokens().await.map_err(|e| e.to_string())? > 0 {
        return Ok(None);
    }
    let token = new_token();
    write_secret(path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    store
        .insert_token(&TokenRecord::unlimited("admin", hash_token(&token), Scope::Admin, now))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(token))
}

fn write_secret(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    // `mode` applies only to a new file: an existing one keeps its mode unless set here.
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")
}

/// Who made the call: the token's record, put in the request's extensions for the handlers
/// that filter server-wide lists.
#[derive(Clone)]
pub struct Caller(pub Arc<TokenRecord>);

/// How often a token's last use is written: once a minute is enough to tell a live CI token
/// from a forgotten one, and keeps a write off most requests.
const TOUCH_EVERY_S: i64 = 60;

/// A call made inside the server for a token known by its hash: the console's, whose sessions
/// keep the hash, never the token. Only code in this process can put it in a request's
/// extensions; a request from the network cannot.
#[derive(Clone)]
pub struct TokenHash(pub String);

/// Checks the bearer token against the route's scope and the token's limits (`access`), then
/// records every call that is not a GET in the audit trail, with how it ended.
pub async fn require_token(State(ctx): State<Ctx>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    let hash = match req.extensions().get::<TokenHash>() {
        Some(TokenHash(hash)) => hash.clone(),
        None => {
            let token = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::Unauthorized("no API token: the request has no `Authorization: Bearer` header".into())
                })?;
            hash_token(token)
        }
    };
    let record = ctx
        .store
        .find_token(&hash)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()))?;
    let now = ctx.clock.now();
    if let Some(at) = record.expires_at
        && at <= now
    {
        return Err(ApiError::Unauthorized(format!(
            "token '{}' expired at {}",
            record.name,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    let full = req.uri().path().to_string();
    let path = full.strip_prefix("/api/v1").unwrap_or(&full).to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| path.clone());
    let route = route.strip_prefix("/api/v1").unwrap_or(&route).to_string();
    let (app, env) = access::names_in(&route, &path);
    let method = req.method().clone();
    let call = access::Call { method: &method, route: &route, app, env };
    let decision = access::allow(&record, &call);
    let note = |status: u16| NewAudit {
        at: now,
        token: record.name.clone(),
        scope: record.scope.as_str().to_string(),
        method: method.to_string(),
        path: path.clone(),
        app: app.map(String::from),
        env: env.map(String::from),
        status,
    };
    if let Err(why) = decision {
        // A refused change by a known token is worth knowing about too.
        if method != Method::GET {
            audit(&ctx, &note(403)).await;
        }
        return Err(ApiError::Forbidden(why));
    }
    if record.last_used_at.is_none_or(|at| (now - at).num_seconds() >= TOUCH_EVERY_S) {
        // A failed note of use must not fail the call.
        if let Err(e) = ctx.store.touch_token(&record.name, now).await {
            tracing::warn!("cannot note the use of token '{}': {e}", record.name);
        }
    }
    let pending = (method != Method::GET).then(|| note(0));
    req.extensions_mut().insert(Caller(Arc::new(record)));
    let response = next.run(req).await;
    if let Some(mut call) = pending {
        call.status = response.status().as_u16();
        audit(&ctx, &call).await;
    }
    Ok(response)
}

/// Records a call; a failure to record is logged, never the call's failure.
async fn audit(ctx: &Ctx, call: &NewAudit) {
    if let Err(e) = ctx.store.append_audit(call).await {
        tracing::warn!("cannot record {} {} by token '{}' in the audit trail: {e}", call.method, call.path, call.token);
    }
}
