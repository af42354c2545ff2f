//! Secrets at rest: the server's key and sealing with it. A secret (a registry password) is
//! sealed with XChaCha20-Poly1305 under a 256-bit key before it reaches the store, with a fresh
//! random 192-bit nonce each time and the record it belongs to as associated data, so a sealed
//! value copied onto another record does not open.
//!
//! The key is `SPROUT_SECRET_KEY` (64 hex digits) when set, else `secret.key` in the data
//! directory, created on first start from the OS's random source with mode 0600. Losing it
//! loses the secrets (log in again); anyone who reads it and the database reads them all.
//!
//! Not here: what is sealed (`registry`) nor the store.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

/// The environment variable that gives the key instead of the data directory's file.
pub const KEY_ENV: &str = "SPROUT_SECRET_KEY";
/// The key's file in the data directory.
pub const KEY_FILE: &str = "secret.key";
/// The first byte of every sealed value: the format, so a later one can be told apart.
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{KEY_ENV} must be 64 hexadecimal digits (a 256-bit key), e.g. from `openssl rand -hex 32`")]
    BadEnvKey,
    #[error(
        "the secret key {path} is not 64 hexadecimal digits; restore it from a backup, or move it away to start with a new key (stored registry credentials must then be entered again)"
    )]
    BadKeyFile { path: String },
    #[error("cannot read or create the secret key {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error(
        "a stored secret ({what}) does not open with this server's key: the key changed ({KEY_ENV} or {KEY_FILE}) or the record was altered; enter it again"
    )]
    Unsealable { what: String },
}

/// The key secrets are sealed with. Never printed: its Debug says only that it is redacted.
pub struct SecretKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

impl SecretKey {
    /// A random key that lives as long as the process: for tests and fakes.
    pub fn ephemeral() -> SecretKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        SecretKey(SecretBox::new(Box::new(key)))
    }

    /// `SPROUT_SECRET_KEY` if set, else the data directory's `secret.key` (created if missing).
    pub fn load(data_dir: &Path) -> Result<SecretKey, SecretsError> {
        match std::env::var(KEY_ENV) {
            Ok(text) => parse_hex_key(&text).map(Self::from_bytes).ok_or(SecretsError::BadEnvKey),
            Err(_) => Self::load_file(&data_dir.join(KEY_FILE)),
        }
    }

    /// The key in `path`, created there (mode 0600) when the file does not exist.
    pub fn load_file(path: &Path) -> Result<SecretKey, SecretsError> {
        let fail =
            |e: std::io::Error| SecretsError::KeyFile { path: path.display().to_string(), message: e.to_string() };
        match std::fs::read_to_string(path) {
            Ok(text) => parse_hex_key(&text)
                .map(Self::from_bytes)
                .ok_or_else(|| SecretsError::BadKeyFile { path: path.display().to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::ephemeral();
                write_private(path, &hex::encode(key.0.expose_secret())).map_err(fail)?;
                Ok(key)
            }
            Err(e) => Err(fail(e)),
        }
    }

    fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(SecretBox::new(Box::new(bytes)))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }

    /// Seals `secret` for the record `context` names: format byte, nonce, ciphertext and tag.
    pub fn seal(&self, secret: &SecretString, context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let payload = Payload { msg: secret.expose_secret().as_bytes(), aad: context.as_bytes() };
        let sealed = self.cipher().encrypt(&XNonce::from(nonce), payload).expect("sealing in memory cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what `seal` made for the same `context`; `what` names the record in the error.
    pub fn open(&self, sealed: &[u8], context: &str, what: &str) -> Result<SecretString, SecretsError> {
        let fail = || SecretsError::Unsealable { what: what.to_string() };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT {
            return Err(fail());
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let payload = Payload { msg: ciphertext, aad: context.as_bytes() };
        let plain = self.cipher().decrypt(&XNonce::from(nonce), payload).map_err(|_| fail())?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| fail())
    }
}

/// Writes `content` to a new file readable by the owner only.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_record() {
        let key = SecretKey::ephemeral();
        let sealed = key.seal(&secret("hunter2"), "registry quay.io ci");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "not in the clear");
        assert_ne!(sealed, key.seal(&secret("hunter2"), "registry quay.io ci"), "a fresh nonce each time");
        assert_eq!(key.open(&sealed, "registry quay.io ci", "x").unwrap().expose_secret(), "hunter2");
        assert!(key.open(&sealed, "registry ghcr.io ci", "x").is_err(), "moved to another record");
        assert!(SecretKey::ephemeral().open(&sealed, "registry quay.io ci", "x").is_err(), "another key");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        let err = key.open(&altered, "registry quay.io ci", "quay.io for ci").unwrap_err();
        assert!(err.to_string().contains("quay.io for ci") && err.to_string().contains("enter it again"), "{err}");
        assert!(key.open(&[], "c", "x").is_err());
        assert_eq!(format!("{key:?}"), "SecretKey([REDACTED])");
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let first = SecretKey::load_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = first.seal(&secret("s3cret"), "c");
        let again = SecretKey::load_file(&path).unwrap();
        assert_eq!(again.open(&sealed, "c", "x").unwrap().expose_secret(), "s3cret");

        std::fs::write(&path, "not a key").unwrap();
        let err = SecretKey::load_file(&path).unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal digits"), "{err}");
    }
}
