//! TLS certificates (`sprout certs add|list|remove`): uploaded as a PEM chain and key, checked
//! (`crate::certs::check`: the key matches, valid now, DNS names present), stored with the key
//! sealed, and served by the HTTPS listener for every name they cover from the next handshake.
//! Listed with names, issuer, expiry, source and the last renewal attempt; never the key. ACME
//! names (`domains add --acme`) are listed with their state (`/certificates/acme`), and a
//! certificate obtained over ACME can be renewed at once (`certs renew`).

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
    // A new certificate for a name resolves an alert about its predecessor.
    let envs = ctx.store.list_environments(None).await?;
    let event = crate::events::Event::CertificateIssued {
        names: record.names.clone(),
        not_after: record.not_after.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        issuer: record.issuer.clone(),
    };
    crate::acme::renew::tell(&ctx, &envs, &record.names, event).await;
    Ok(Json(view(&record)))
}

/// One ACME name as `certs list` shows it: whose it is, the certificate serving it, and how the
/// last order went.
#[derive(Debug, Serialize, Deserialize)]
pub struct AcmeNameView {
    pub name: String,
    pub app: String,
    pub env: String,
    /// The id of the certificate serving it now, if any.
    pub certificate: Option<String>,
    pub not_after: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub failures: u32,
    pub last_error: Option<String>,
    /// When the next order is due (the renewal time, or the end of the back-off).
    pub next_order: Option<DateTime<Utc>>,
    pub directory: String,
}

/// Every ACME name with its state.
pub async fn acme(State(ctx): State<Ctx>) -> Result<Json<Vec<AcmeNameView>>, ApiError> {
    use sprout_plan::renewal::{self, Decision, Held};
    let now = ctx.clock.now();
    let certs = ctx.store.list_certificates().await?;
    let held: Vec<Held> = certs
        .iter()
        .map(|c| Held { names: c.names.clone(), not_before: c.not_before, not_after: c.not_after })
        .collect();
    let attempts = crate::acme::attempts(&*ctx.store).await?;
    let mut out = Vec::new();
    for e in ctx.store.list_environments(None).await? {
        for name in &e.options.routing.acme {
            let a = attempts.get(name).cloned().unwrap_or_default();
            let serving = certs
                .iter()
                .filter(|c| c.names.iter().any(|n| sprout_model::domains::covers(n, name)))
                .max_by_key(|c| c.not_after);
            out.push(AcmeNameView {
                name: name.clone(),
                app: e.app.clone(),
                env: e.name.clone(),
                certificate: serving.map(|c| short_id(&c.id).to_string()),
                not_after: serving.map(|c| c.not_after),
                last_attempt: a.last_attempt,
                failures: a.failures,
                last_error: a.last_error.clone(),
                next_order: match renewal::decide(name, &held, &a, now) {
                    Decision::Order => Some(now),
                    Decision::WaitUntil(t) => Some(t),
                },
                directory: ctx.acme.settings.directory.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

/// Renew a certificate obtained over ACME now (`sprout certs renew ID`), whatever its renewal
/// time and back-off: its names are ordered at the controller's next look.
pub async fn renew(State(ctx): State<Ctx>, Path(id): Path<String>) -> Result<Json<Vec<String>>, ApiError> {
    let all = ctx.store.list_certificates().await?;
    let found = find(&all, &id)?;
    match crate::acme::renew::force(&ctx, found).await? {
        Ok(names) => Ok(Json(names)),
        Err(names) => Err(bad(
            format!(
                "certificate {} ({}) is not renewed over ACME: none of its names was added with --acme",
                short_id(&found.id),
                names.join(", ")
            ),
            Some("upload its successor with `sprout certs add`, or `sprout domains add ENV HOST --acme`".into()),
        )),
    }
}

pub async fn list(State(ctx): State<Ctx>) -> Result<Json<Vec<CertView>>, ApiError> {
    let mut list: Vec<CertView> = ctx.store.list_certificates().await?.iter().map(view).collect();
    list.sort_by(|a, b| (&a.names, a.not_after).cmp(&(&b.names, b.not_after)));
    Ok(Json(list))
}

/// Removes the certificate whose id starts with `id` (at least 8 hex digits, and only one may
/// match); its names are then served by another certificate covering them, or by none.
pub async fn remove(State(ctx): State<Ctx>, Path(id): Path<String>) -> Result<Json<CertView>, ApiError> {
    let all = ctx.store.list_certificates().await?;
    let found = find(&all, &id)?;
    ctx.store.delete_certificate(&found.id).await?;
    crate::certs::publish_all(&ctx).await?;
    Ok(Json(view(found)))
}

/// The one certificate whose id starts with `id` (at least 8 hex digits).
fn find<'a>(all: &'a [CertificateRecord], id: &str) -> Result<&'a CertificateRecord, ApiError> {
    if id.len() < 8 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(
            format!("{id:?} is not a certificate id: give at least 8 hex digits as `sprout certs list` shows"),
            None,
        ));
    }
    let matching: Vec<&CertificateRecord> = all.iter().filter(|c| c.id.starts_with(&id.to_ascii_lowercase())).collect();
    match matching[..] {
        [one] => Ok(one),
        [] => Err(ApiError::NotFound(format!("no certificate has an id starting with {id}"))),
        _ => Err(bad(format!("{} certificates have ids starting with {id}: give more digits", matching.len()), None)),
    }
}

/// A certificate served now, with its key, for `sprout proxy --https` (admin tokens only).
#[derive(Debug, Serialize, Deserialize)]
pub struct ServedPem {
    pub names: Vec<String>,
    pub chain_pem: String,
    pub key_pem: String,
}

/// Every certificate valid now with its key in the clear: what `sprout proxy --https` serves.
/// Admin-only even to read (`api::access`).
pub async fn served(State(ctx): State<Ctx>) -> Result<Json<Vec<ServedPem>>, ApiError> {
    use secrecy::ExposeSecret;
    let usable = crate::certs::usable(&ctx).await?;
    Ok(Json(
        usable
            .into_iter()
            .map(|(record, key, _)| ServedPem {
                names: record.names,
                chain_pem: record.chain_pem,
                key_pem: key.expose_secret().to_string(),
            })
            .collect(),
    ))
}
