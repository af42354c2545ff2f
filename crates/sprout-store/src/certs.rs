//! TLS certificates as the store keeps them: the chain in PEM, what the server read from it
//! (names, issuer, validity), where it came from, and the private key sealed by the server (the
//! store never holds one in the clear). Not here: parsing or checking certificates (the server's
//! `certs` module) or serving them (`sprout-lb`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a certificate came to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertSource {
    /// `sprout certs add`.
    Upload,
    /// Obtained and renewed by the server over ACME.
    Acme,
}

/// One certificate. `id` is the SHA-256 of its leaf, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub id: String,
    /// DNS names the leaf covers (its subject alternative names), lowercase.
    pub names: Vec<String>,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub source: CertSource,
    /// Leaf first, then intermediates.
    pub chain_pem: String,
    pub added_at: DateTime<Utc>,
    /// The last renewal attempt and how it ended (None: it succeeded, or none was made).
    #[serde(default)]
    pub last_attempt: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The private key, sealed by the server; never serialized with the rest.
    #[serde(skip)]
    pub sealed_key: Vec<u8>,
}

/// What the server keeps for ACME besides certificates, by key: the account of a directory
/// (`account <URL>`, its credentials sealed) and the attempts for each name (`name <NAME>`, as
/// JSON in `meta`, nothing sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeRecord {
    pub key: String,
    pub meta: String,
    pub sealed: Vec<u8>,
}
