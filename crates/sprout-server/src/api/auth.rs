//! Bearer tokens: stored as SHA-256 hashes with a scope; GET needs `read`, every other method
//! `deploy`. The first start creates an admin token and writes it to `admin.token` (0600).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use sprout_store::{Scope, Store, TokenRecord};

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
        .insert_token(&TokenRecord {
            name: "admin".into(),
            hash: hash_token(&token),
            scope: Scope::Admin,
            created_at: now,
        })
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

pub async fn require_token(State(ctx): State<Ctx>, req: Request, next: Next) -> Result<Response, ApiError> {
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let record = ctx.store.find_token(&hash_token(token)).await?.ok_or(ApiError::Unauthorized)?;
    let needed = if req.method() == axum::http::Method::GET { Scope::Read } else { Scope::Deploy };
    if !record.scope.allows(needed) {
        return Err(ApiError::Forbidden(if needed == Scope::Read { "reading" } else { "changes" }));
    }
    Ok(next.run(req).await)
}
