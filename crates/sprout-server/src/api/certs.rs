//! TLS certificates (`sprout certs add|list|remove`): uploaded as a PEM chain and key, checked
//! (`crate::certs::check`: the key matches, valid now, DNS names present), stored with the key
//! sealed, and served by the HTTPS listener for every name they cover from the next handshake.
//! Listed with names, issuer, expiry, source and the last renewal attempt; never the key.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sprout_store::{CertSource, CertificateRecord};

use super::error::{ApiError, bad};
use crate::certs::short_id;
use crate::context::Ctx;

#[derive(Deserialize)]
pub struct Upload {
    pub chain_pem: String,
    pub key_pem: String,
}

/// A certificate as listed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertView {
    pub id: String,
    pub names: Vec<String>,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub source: CertSource,
    pub added_at: DateTime<Utc>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

fn view(r: &CertificateRecord) -> CertView {
    CertView {
        id: short_id(&r.id).to_string(),
        names: r.names.clone(),
        issuer: r.issuer.clone(),
        not_before: r.not_before,
        not_after: r.not_after,
        source: r.source,
        added_at: r.added_at,
        last_attempt: r.last_attempt,
        last_error: r.last_error.clone(),
    }
}

pub async fn add(State(ctx): State<Ctx>, Json(req): Json<Upload>) -> Result<Json<CertView>, ApiError> {
    let checked = crate::certs::check(&req.chain_pem, &req.key_pem, ctx.clock.now(), CertSource::Upload)
        .map_err(|e| bad(format!("certificate refused: {e}"), None))?;
    let mut record = checked.record;
    crate::certs::seal_key(&ctx, &mut record, &req.key_pem);
    ctx.store.put_certificate(&record).await?;
    crate::certs::publish_all(&ctx).await?;
    Ok(Json(view(&record)))
}

pub async fn list(State(ctx): State<Ctx>) -> Result<Json<Vec<CertView>>, ApiError> {
    let mut list: Vec<CertView> = ctx.store.list_certificates().await?.iter().map(view).collect();
    list.sort_by(|a, b| (&a.names, a.not_after).cmp(&(&b.names, b.not_after)));
    Ok(Json(list))
}

/// Removes the certificate whose id starts with `id` (at least 8 hex digits, and only one may
/// match); its names are then served by another certificate covering them, or by none.
pub async fn remove(State(ctx): State<Ctx>, Path(id): Path<String>) -> Result<Json<CertView>, ApiError> {
    if id.len() < 8 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(
            format!("{id:?} is not a certificate id: give at least 8 hex digits as `sprout certs list` shows"),
            None,
        ));
    }
    let all = ctx.store.list_certificates().await?;
    let matching: Vec<&CertificateRecord> = all.iter().filter(|c| c.id.starts_with(&id.to_ascii_lowercase())).collect();
    let found = match matching[..] {
        [one] => one,
        [] => return Err(ApiError::NotFound(format!("no certificate has an id starting with {id}"))),
        _ => {
            return Err(bad(
                format!("{} certificates have ids starting with {id}: give more digits", matching.len()),
                None,
            ));
        }
    };
    ctx.store.delete_certificate(&found.id).await?;
    crate::certs::publish_all(&ctx).await?;
    Ok(Json(view(found)))
}
