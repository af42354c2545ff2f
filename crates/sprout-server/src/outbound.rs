//! The server's own HTTPS client (reqwest with rustls and the aws-lc-rs provider): the system's
//! certificate authorities plus those of a PEM file the operator names (`--acme-ca-file` for the
//! ACME directory, `SPROUT_CA_FILE` for webhooks, as the CLI reads it). Used to talk to the ACME
//! server and to deliver `https://` webhooks.
//!
//! Not here: what is sent (`acme`, `notify::deliver`).

use std::path::Path;
use std::time::Duration;

/// The environment variable naming extra certificate authorities (PEM) for webhooks, the same
/// one the CLI reads for an `https://` server URL.
pub const CA_FILE_ENV: &str = "SPROUT_CA_FILE";

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the certificate authorities in {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} holds no PEM certificate ({message}); give the CA certificate(s) in PEM")]
    NoCertificate { path: String, message: String },
    #[error("cannot set up the HTTPS client: {0}")]
    Build(String),
}

/// A client trusting the system's authorities plus those in `ca_file`, with `timeout` for a
/// whole request.
pub fn client(ca_file: Option<&Path>, timeout: Duration) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .user_agent(concat!("sprout/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| ClientError::Read { path: shown.clone(), message: e.to_string() })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ClientError::NoCertificate { path: shown.clone(), message: e.to_string() })?;
        if certs.is_empty() {
            return Err(ClientError::NoCertificate { path: shown, message: "none found".into() });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| ClientError::Build(e.to_string()))
}

/// The CA file named by `SPROUT_CA_FILE`, if any.
pub fn ca_file_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os(CA_FILE_ENV).filter(|v| !v.is_empty()).map(std::path::PathBuf::from)
}
