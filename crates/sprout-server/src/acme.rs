//! Certificates obtained and renewed over ACME (RFC 8555) for the domains added with
//! `sprout domains add ENV HOST --acme`: an account per directory (its key sealed in the store),
//! one order per name, HTTP-01 answered by the load balancer itself on its plain-HTTP listener,
//! and a controller (`renew`) that orders what `sprout_plan::renewal` says is due.
//!
//! - `http`: instant-acme's HTTP client, reqwest with rustls (system roots plus `--acme-ca-file`).
//! - `order`: the account and one order, start to certificate.
//! - `renew`: the controller: sense, plan, order, record, publish.
//!
//! Not here: when to order (`sprout_plan::renewal`), checking and serving certificates (`certs`,
//! `sprout_lb::tls`).

pub mod http;
pub mod order;
pub mod renew;

use std::path::PathBuf;

use sprout_plan::renewal::Attempts;
use tokio::sync::Notify;

/// Let's Encrypt's production directory: the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `sprout server --acme-directory --acme-email --acme-ca-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    pub directory: String,
    /// Given to the CA as the account's contact (`mailto:`).
    pub email: Option<String>,
    /// Certificate authorities (PEM) trusted for the directory, beside the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for AcmeSettings {
    fn default() -> Self {
        AcmeSettings { directory: LETS_ENCRYPT.to_string(), email: None, ca_file: None }
    }
}

/// Why an order failed, in words for `certs list` and the event.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the ACME server at {directory} cannot be reached or answered something that is not ACME: {message}")]
    Directory { directory: String, message: String },
    #[error("the ACME server refused: {0}")]
    Refused(String),
    #[error("the challenge for {name} failed: {message}")]
    Challenge { name: String, message: String },
    #[error("the ACME server offers no HTTP-01 challenge for {0}")]
    NoHttp01(String),
    #[error("the ACME server did not finish in time: {0}")]
    Timeout(String),
    #[error("the certificate the ACME server issued cannot be served: {0}")]
    Unusable(String),
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Store(#[from] sprout_store::StoreError),
}

/// The ACME state the server's context carries.
#[derive(Default)]
pub struct Acme {
    pub settings: AcmeSettings,
    /// Woken when a name is added or a renewal asked for.
    pub wake: Notify,
    account: tokio::sync::Mutex<Option<instant_acme::Account>>,
    /// Certificates already said to be expiring, by id: once per server run (the alert folds
    /// a repeat after a restart).
    pub(crate) reported: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Acme {
    pub fn new(settings: AcmeSettings) -> Self {
        Acme { settings, ..Acme::default() }
    }
}

/// The store key of a name's attempts.
pub fn name_key(name: &str) -> String {
    format!("name {name}")
}

/// The attempts recorded for every name, by name.
pub async fn attempts(
    store: &dyn sprout_store::Store,
) -> Result<std::collections::BTreeMap<String, Attempts>, sprout_store::StoreError> {
    let mut out = std::collections::BTreeMap::new();
    for r in store.list_acme_records().await? {
        if let Some(name) = r.key.strip_prefix("name ") {
            let a: Attempts = serde_json::from_str(&r.meta).unwrap_or_default();
            out.insert(name.to_string(), a);
        }
    }
    Ok(out)
}

/// Stores the attempts of `name`.
pub async fn put_attempts(
    store: &dyn sprout_store::Store,
    name: &str,
    a: &Attempts,
) -> Result<(), sprout_store::StoreError> {
    let meta = serde_json::to_string(a).unwrap_or_default();
    store.put_acme_record(&sprout_store::AcmeRecord { key: name_key(name), meta, sealed: Vec::new() }).await
}
