//! Tokens (`sprout tokens create|list|revoke`) and the audit trail (`sprout audit`). A new
//! token is shown once, in the answer that creates it; the store keeps its hash only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sprout_store::{AuditRecord, Scope, TokenRecord};

use super::auth::{hash_token, new_token};
use super::error::{ApiError, bad};
use crate::context::Ctx;

#[derive(Deserialize)]
pub struct NewToken {
    pub name: String,
    pub scope: String,
    pub limit_app: Option<String>,
    pub limit_env: Option<String>,
    /// Seconds from now until it is refused; none: never.
    pub expires_in_s: Option<u64>,
}

/// A token as listed: never its hash.
#[derive(Serialize)]
pub struct TokenView {
    pub name: String,
    pub scope: Scope,
    pub limit_app: Option<String>,
    pub limit_env: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        TokenView {
            name: t.name.clone(),
            scope: t.scope,
            limit_app: t.limit_app.clone(),
            limit_env: t.limit_env.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

#[derive(Serialize)]
pub struct Created {
    /// The token itself: shown this once.
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

/// The longest a token may live: ten years (a bound, so the expiry's arithmetic cannot overflow).
const MAX_EXPIRY_S: u64 = 10 * 366 * 24 * 3600;

pub async fn create(
    State(ctx): State<Ctx>,
    Json(req): Json<NewToken>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    sprout_model::names::check_name("token", &req.name).map_err(|m| bad(m, None))?;
    let scope = Scope::parse(&req.scope).ok_or_else(|| {
        bad(format!("unknown scope {:?}", req.scope), Some("the scopes are read, deploy and admin".into()))
    })?;
    if let Some(app) = &req.limit_app {
        ctx.store.get_application(app).await?;
    }
    if let Some(env) = &req.limit_env {
        sprout_model::names::check_name("environment", env).map_err(|m| bad(m, None))?;
    }
    let now = ctx.clock.now();
    let expires_at = match req.expires_in_s {
        Some(0) => return Err(bad("a token that expires at once is of no use", Some("e.g. --expires 90d".into()))),
        Some(s) if s > MAX_EXPIRY_S => return Err(bad("a token may live ten years at most", None)),
        Some(s) => Some(now + chrono::Duration::seconds(s as i64)),
        None => None,
    };
    let token = new_token();
    let mut record = TokenRecord::unlimited(&req.name, hash_token(&token), scope, now);
    record.limit_app = req.limit_app;
    record.limit_env = req.limit_env;
    record.expires_at = expires_at;
    ctx.store.insert_token(&record).await?;
    Ok((StatusCode::CREATED, Json(Created { token, view: TokenView::from(&record) })))
}

pub async fn list(State(ctx): State<Ctx>) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(ctx.store.list_tokens().await?.iter().map(TokenView::from).collect()))
}

pub async fn revoke(State(ctx): State<Ctx>, Path(name): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let tokens = ctx.store.list_tokens().await?;
    let Some(token) = tokens.iter().find(|t| t.name == name) else {
        return Err(ApiError::NotFound(format!("token {name} not found")));
    };
    let now = ctx.clock.now();
    let live_admin =
        |t: &&TokenRecord| t.scope == Scope::Admin && t.limit_app.is_none() && t.expires_at.is_none_or(|at| at > now);
    if live_admin(&token) && tokens.iter().filter(live_admin).count() == 1 {
        return Err(ApiError::Conflict(format!(
            "token {name} is the last unlimited admin token: revoking it would lock everyone out; create another admin token first"
        )));
    }
    ctx.store.delete_token(&name).await?;
    Ok(Json(serde_json::json!({ "revoked": name })))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    pub app: Option<String>,
    pub env: Option<String>,
    pub limit: Option<u32>,
}

pub async fn audit(State(ctx): State<Ctx>, Query(q): Query<AuditQuery>) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(ctx.store.list_audit(q.app.as_deref(), q.env.as_deref(), limit).await?))
}
