//! TLS certificates on the server: reading an uploaded chain and key (PEM), checking them (the
//! key matches the leaf, the leaf is valid now and names DNS names), sealing the key for the
//! store, and publishing every usable certificate to the load balancer. A key is in the clear
//! only here, in memory, on its way into the load balancer.
//!
//! Not here: the routes (`api::certs`), the cipher (`secrets`), serving (`sprout_lb::tls`).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sprout_lb::ServedCert;
use sprout_store::{CertSource, CertificateRecord};

use crate::context::Ctx;

/// Why an uploaded certificate was refused.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("the certificate file holds no PEM certificate ({0}); give the full chain, leaf first (FULLCHAIN.pem)")]
    NoCertificate(String),
    #[error("the key file holds no PEM private key ({0}); give the key in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM")]
    NoKey(String),
    #[error("the private key cannot be used: {0}")]
    BadKey(String),
    #[error("the private key does not match the certificate (its public key is not the leaf's)")]
    KeyMismatch,
    #[error("the certificate cannot be read: {0}")]
    Unreadable(String),
    #[error("the certificate expired on {0}; renew it and upload the new one")]
    Expired(DateTime<Utc>),
    #[error("the certificate is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("the certificate names no DNS name (subject alternative names); browsers would refuse it")]
    NoNames,
}

/// A checked certificate: what the store keeps of it (key not yet sealed) and what the load
/// balancer serves.
#[derive(Debug)]
pub struct Checked {
    pub record: CertificateRecord,
    pub served: ServedCert,
}

/// Reads and checks a chain and its key; `now` judges validity. Stored certificates are checked
/// again before each publish, so one that has expired since is left out rather than served.
pub fn check(chain_pem: &str, key_pem: &str, now: DateTime<Utc>, source: CertSource) -> Result<Checked, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::NoCertificate(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(CertError::NoCertificate("none found".into()));
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| CertError::NoKey(e.to_string()))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| CertError::BadKey(e.to_string()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf).map_err(|e| CertError::Unreadable(e.to_string()))?;
    let time = |t: i64| Utc.timestamp_opt(t, 0).single().unwrap_or_default();
    let not_before = time(parsed.validity().not_before.timestamp());
    let not_after = time(parsed.validity().not_after.timestamp());
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(n) = name {
                names.push(n.to_ascii_lowercase());
            }
        }
    }
    let issuer = parsed.issuer().to_string();
    let certified = CertifiedKey::new(chain.clone(), signing);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(CertError::KeyMismatch);
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => return Err(CertError::Unreadable(e.to_string())),
    }
    if names.is_empty() {
        return Err(CertError::NoNames);
    }
    if not_after <= now {
        return Err(CertError::Expired(not_after));
    }
    if not_before > now {
        return Err(CertError::NotYetValid(not_before));
    }
    let id = hex::encode(Sha256::digest(leaf.as_ref()));
    let served = ServedCert { names: names.clone(), key: Arc::new(certified), not_after: not_after.timestamp() };
    let record = CertificateRecord {
        id,
        names,
        issuer,
        not_before,
        not_after,
        source,
        chain_pem: chain_pem.to_string(),
        added_at: now,
        last_attempt: None,
        last_error: None,
        sealed_key: Vec::new(),
    };
    Ok(Checked { record, served })
}

/// The associated data a certificate's key is sealed with: a key copied onto another record
/// does not open.
fn context(id: &str) -> String {
    format!("certificate {id}")
}

/// Seals the key of `record` (in place) for the store.
pub fn seal_key(ctx: &Ctx, record: &mut CertificateRecord, key_pem: &str) {
    let key = SecretString::from(key_pem.to_string());
    record.sealed_key = ctx.registries.key.seal(&key, &context(&record.id));
}

/// Publishes every stored certificate that opens and is valid now to the load balancer; those
/// that do not are named in the log and left out. Returns how many are served.
pub async fn publish_all(ctx: &Ctx) -> Result<usize, sprout_store::StoreError> {
    let served: Vec<ServedCert> = usable(ctx).await?.into_iter().map(|(_, _, c)| c).collect();
    let count = served.len();
    ctx.lb.certificates().publish(served);
    Ok(count)
}

/// Every stored certificate that opens and is valid now, with its key (in the clear: for the
/// load balancer, here or in `sprout proxy`); those that do not are named in the log.
pub async fn usable(ctx: &Ctx) -> Result<Vec<(CertificateRecord, SecretString, ServedCert)>, sprout_store::StoreError> {
    let now = ctx.clock.now();
    let mut served = Vec::new();
    for record in ctx.store.list_certificates().await? {
        let what = format!("the key of certificate {}", short_id(&record.id));
        let key = match ctx.registries.key.open(&record.sealed_key, &context(&record.id), &what) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(
                    "certificate {} for {} is not served: {e}",
                    short_id(&record.id),
                    record.names.join(", ")
                );
                continue;
            }
        };
        match check(&record.chain_pem, key.expose_secret(), now, record.source) {
            Ok(checked) => served.push((record, key, checked.served)),
            Err(e) => {
                tracing::warn!(
                    "certificate {} for {} is not served: {e}",
                    short_id(&record.id),
                    record.names.join(", ")
                )
            }
        }
    }
    Ok(served)
}

/// The first 12 hex digits of an id: enough to name it, as `git` does.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests;
