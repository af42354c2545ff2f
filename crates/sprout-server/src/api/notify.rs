//! Webhooks over the API: `GET/POST /apps/{app}/notify` (list, add), `DELETE
//! /apps/{app}/notify/{id}`, `POST /apps/{app}/notify/{id}/test` (queue a test notice) and
//! `GET /apps/{app}/notify/log?limit=` (deliveries, newest first). A secret is sealed at once
//! with the server's key and never shown again.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use sprout_api::{DeliveryView, NewWebhook, TestQueued, WebhookView};
use sprout_store::{DeliveryRecord, NotifyTarget};

use super::error::{ApiError, bad};
use crate::context::Ctx;
use crate::notify::deliver::parse_url;

/// The most webhooks one application may have.
const MAX_WEBHOOKS: usize = 20;

fn view(t: &NotifyTarget) -> WebhookView {
    WebhookView {
        id: t.id.clone(),
        app: t.app.clone(),
        env: t.env.clone(),
        url: t.url.clone(),
        format: t.format.clone(),
        events: t.events.clone(),
        signed: t.sealed_secret.is_some(),
        created_at: t.created_at,
    }
}

fn delivery_view(d: &DeliveryRecord) -> DeliveryView {
    let message = serde_json::from_str::<sprout_plan::alerts::Notice>(&d.body).map(|n| n.message).unwrap_or_default();
    DeliveryView {
        id: d.id,
        webhook: d.target_id.clone(),
        env: d.env.clone(),
        severity: d.severity.clone(),
        status: d.status.as_str().to_string(),
        attempts: d.attempts,
        message,
        created_at: d.created_at,
        next_at: d.next_at,
        done_at: d.done_at,
        last_error: d.last_error.clone(),
    }
}

pub async fn list(State(ctx): State<Ctx>, Path(app): Path<String>) -> Result<Json<Vec<WebhookView>>, ApiError> {
    ctx.store.get_application(&app).await?;
    Ok(Json(ctx.store.list_notify_targets(Some(&app)).await?.iter().map(view).collect()))
}

pub async fn add(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Json(req): Json<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    ctx.store.get_application(&app).await?;
    if let Some(env) = &req.env {
        ctx.store.get_environment(&app, env).await?;
    }
    parse_url(&req.url).map_err(|m| bad(m, None))?;
    let format = req.format.unwrap_or_else(|| "json".into());
    if format != "json" && format != "slack" {
        return Err(bad(format!("unknown format `{format}`"), Some("the formats are json and slack".into())));
    }
    let events = req.events.unwrap_or_else(|| "alerts".into());
    if events != "alerts" && events != "all" {
        return Err(bad(format!("unknown events `{events}`"), Some("alerts (incidents only) or all".into())));
    }
    if ctx.store.list_notify_targets(Some(&app)).await?.len() >= MAX_WEBHOOKS {
        return Err(bad(
            format!("application {app} has {MAX_WEBHOOKS} webhooks already"),
            Some("remove one first".into()),
        ));
    }
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the OS random source is available");
    let id = format!("n-{}", hex::encode(b));
    let sealed_secret = match req.secret {
        Some(s) if s.is_empty() => return Err(bad("the secret is empty", None)),
        Some(s) => Some(crate::notify::seal_secret(&ctx, &id, &app, &SecretString::from(s))),
        None => None,
    };
    let target = NotifyTarget {
        id,
        app,
        env: req.env,
        url: req.url,
        format,
        events,
        sealed_secret,
        created_at: ctx.clock.now(),
    };
    ctx.store.add_notify_target(&target).await?;
    Ok((StatusCode::CREATED, Json(view(&target))))
}

pub async fn remove(
    State(ctx): State<Ctx>,
    Path((app, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if ctx.store.remove_notify_target(&app, &id, ctx.clock.now()).await? {
        Ok(Json(serde_json::json!({ "removed": id })))
    } else {
        Err(ApiError::NotFound(format!("application {app} has no webhook {id} (see `sprout notify list`)")))
    }
}

pub async fn test(
    State(ctx): State<Ctx>,
    Path((app, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<TestQueued>), ApiError> {
    let targets = ctx.store.list_notify_targets(Some(&app)).await?;
    let target = targets.iter().find(|t| t.id == id).ok_or_else(|| {
        ApiError::NotFound(format!("application {app} has no webhook {id} (see `sprout notify list`)"))
    })?;
    let delivery = crate::notify::queue_test(&ctx, target).await?;
    Ok((StatusCode::ACCEPTED, Json(TestQueued { delivery })))
}

#[derive(Deserialize)]
pub struct LogQuery {
    pub limit: Option<u32>,
}

pub async fn log(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    ctx.store.get_application(&app).await?;
    let limit = q.limit.unwrap_or(50).min(1000);
    Ok(Json(ctx.store.list_deliveries(&app, limit).await?.iter().map(delivery_view).collect()))
}
