//! Private registries: the credentials Sprout holds for them (sealed, see `secrets`), which one
//! an image's pull uses, the circuit every registry call goes through (`sprout_plan::registry`),
//! the one pull per image across the server (`pulls`), the mirrors, and whether a version's
//! images are on the engine before its instances launch (`images`).
//!
//! A credential is chosen for an image's registry host in this order: the imported config the
//! version's Dockerrun `authentication.key` names (limited to the application, then
//! server-wide), then `sprout registry login` (limited to the application, then server-wide),
//! else none (anonymous). Not here: the HTTP routes (`api::registries`).

pub mod config;
pub mod images;
pub mod pulls;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sprout_engine::RegistryAuth;
use sprout_model::image::DOCKER_HUB;
use sprout_plan::registry::{Attempt, Circuit, CircuitPolicy, Refusal};
use sprout_store::{CredentialKey, RegistryCredentialRecord, RegistryOutcome, Store, StoreError};

use crate::secrets::{SecretKey, SecretsError};

/// Which registry to try first for an image that has a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MirrorOrder {
    /// The mirror, then the original registry (the default: the mirror takes the load).
    #[default]
    MirrorFirst,
    /// The original registry, then the mirror (the mirror stands in when it is down).
    OriginFirst,
}

/// The server's registry settings: mirrors and the circuit's back-off.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// Registry host -> its mirror's host (`--registry-mirror HOST=MIRROR`).
    pub mirrors: BTreeMap<String, String>,
    pub order: MirrorOrder,
    pub policy: CircuitPolicy,
}

impl RegistrySettings {
    /// Where to pull an image of registry `host` from, in order.
    pub fn sources(&self, host: &str) -> Vec<String> {
        match (self.mirrors.get(host), self.order) {
            (Some(m), MirrorOrder::MirrorFirst) => vec![m.clone(), host.to_string()],
            (Some(m), MirrorOrder::OriginFirst) => vec![host.to_string(), m.clone()],
            (None, _) => vec![host.to_string()],
        }
    }
}

/// The credential a call uses: where it is stored (None: anonymous), whose it is, and the auth
/// the engine passes to the registry. Its Debug never shows the password.
pub struct Chosen {
    pub key: Option<CredentialKey>,
    pub username: String,
    pub auth: Option<RegistryAuth>,
    /// Distinguishes one secret from the next for the same key: a new login is a new circuit.
    pub stamp: DateTime<Utc>,
}

impl std::fmt::Debug for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chosen").field("key", &self.key).field("username", &self.username).finish_non_exhaustive()
    }
}

/// A circuit is per registry and credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CircuitKey {
    pub host: String,
    pub credential: Option<CredentialKey>,
    pub username: String,
    pub stamp: DateTime<Utc>,
}

impl Chosen {
    pub fn circuit_key(&self, host: &str) -> CircuitKey {
        CircuitKey {
            host: host.to_string(),
            credential: self.key.clone(),
            username: self.username.clone(),
            stamp: self.stamp,
        }
    }
}

/// What the server keeps about registries: the key that opens credentials, the settings, the
/// circuits and the pulls in flight.
pub struct Registries {
    pub key: SecretKey,
    pub settings: RegistrySettings,
    circuits: Mutex<HashMap<CircuitKey, Circuit>>,
    pub(crate) pulls: pulls::Pulls,
    pub(crate) ready: images::Ready,
}

/// The associated data a credential's secret is sealed with: the record it belongs to.
pub fn seal_context(key: &CredentialKey, username: &str) -> String {
    format!(
        "sprout registry credential\n{}\n{}\n{}\n{username}",
        key.host,
        key.app.as_deref().unwrap_or(""),
        key.source.as_deref().unwrap_or("")
    )
}

/// The server address Docker expects in a credential for `host`.
fn server_address(host: &str) -> String {
    if host == DOCKER_HUB { "https://index.docker.io/v1/".to_string() } else { host.to_string() }
}

impl Registries {
    pub fn new(key: SecretKey, settings: RegistrySettings) -> Registries {
        Registries {
            key,
            settings,
            circuits: Mutex::default(),
            pulls: pulls::Pulls::default(),
            ready: images::Ready::default(),
        }
    }

    /// Seals `password` into a record for `key`.
    pub fn seal(
        &self,
        key: CredentialKey,
        username: &str,
        password: &SecretString,
        now: DateTime<Utc>,
    ) -> RegistryCredentialRecord {
        RegistryCredentialRecord {
            sealed_secret: self.key.seal(password, &seal_context(&key, username)),
            key,
            username: username.to_string(),
            updated_at: now,
            last_success: None,
            last_failure: None,
            last_failure_message: None,
        }
    }

    /// The credential for registry `host` when application `app` pulls, with the imported config
    /// `config` (a Dockerrun's `authentication.key`) first; None: anonymous.
    pub async fn credential(
        &self,
        store: &dyn Store,
        host: &str,
        app: &str,
        config: Option<&str>,
    ) -> Result<Chosen, RegistryError> {
        let all = store.list_registry_credentials().await?;
        let find = |app: Option<&str>, source: Option<&str>| {
            all.iter().find(|c| c.key.host == host && c.key.app.as_deref() == app && c.key.source.as_deref() == source)
        };
        let imported = config.and_then(|name| find(Some(app), Some(name)).or_else(|| find(None, Some(name))));
        let Some(record) = imported.or_else(|| find(Some(app), None)).or_else(|| find(None, None)) else {
            return Ok(Chosen { key: None, username: String::new(), auth: None, stamp: DateTime::UNIX_EPOCH });
        };
        let what = format!("the credential of {} for {host}", record.username);
        let password = self.key.open(&record.sealed_secret, &seal_context(&record.key, &record.username), &what)?;
        Ok(Chosen {
            key: Some(record.key.clone()),
            username: record.username.clone(),
            auth: Some(RegistryAuth {
                username: record.username.clone(),
                password: password.expose_secret().to_string(),
                server: server_address(host),
            }),
            stamp: record.updated_at,
        })
    }

    /// Asks the circuit of `key` whether a call may go now.
    pub fn decide(&self, key: &CircuitKey, now: DateTime<Utc>) -> Attempt {
        self.circuits.lock().unwrap().entry(key.clone()).or_default().decide_attempt(now)
    }

    /// What holds calls to `host` back now, for any credential (for health and `registry list`).
    pub fn refusal_of(&self, key: &CircuitKey, now: DateTime<Utc>) -> Option<(Refusal, DateTime<Utc>)> {
        let circuits = self.circuits.lock().unwrap();
        circuits.get(key).and_then(|c| c.refusal(now)).map(|(r, until)| (r.clone(), until))
    }

    /// Every circuit of `host` is forgotten and every held pull tried again: a new credential
    /// is tried at once.
    pub fn close_circuits(&self, host: &str) {
        self.circuits.lock().unwrap().retain(|k, _| k.host != host);
        self.pulls.forget_holds();
    }

    /// Reports how a call that `decide` let go ended; returns when the next may go and whether
    /// this refusal opened the circuit. Records the outcome on the stored credential.
    pub async fn report(
        &self,
        store: &dyn Store,
        key: &CircuitKey,
        now: DateTime<Utc>,
        outcome: &CallOutcome,
    ) -> Option<(DateTime<Utc>, bool)> {
        let jitter = {
            let mut b = [0u8; 2];
            getrandom::fill(&mut b).expect("the OS random source is available");
            f64::from(u16::from_le_bytes(b)) / 65536.0
        };
        let result = {
            let mut circuits = self.circuits.lock().unwrap();
            let circuit = circuits.entry(key.clone()).or_default();
            match outcome {
                CallOutcome::Accepted => {
                    circuit.note_success();
                    None
                }
                CallOutcome::Refused(message) => Some(circuit.note_auth_failure(&self.settings.policy, now, message)),
                CallOutcome::Transient(message) => {
                    Some((circuit.note_transient_failure(&self.settings.policy, now, message, jitter), false))
                }
                CallOutcome::Other => {
                    circuit.note_other();
                    None
                }
            }
        };
        let noted = match outcome {
            CallOutcome::Accepted => Some(RegistryOutcome::Accepted),
            CallOutcome::Refused(message) => Some(RegistryOutcome::Refused(message.clone())),
            _ => None,
        };
        if let (Some(credential), Some(noted)) = (&key.credential, noted)
            && let Err(e) = store.note_registry_outcome(credential, now, &noted).await
        {
            tracing::warn!("cannot note the outcome of the credential for {}: {e}", key.host);
        }
        result
    }
}

/// How a registry call ended, for its circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The registry answered with the credential (the image, or its digest).
    Accepted,
    /// The registry refused the credential (or the lack of one).
    Refused(String),
    /// The registry did not answer, or failed in a way that may pass.
    Transient(String),
    /// Neither (the image does not exist, the engine failed): the circuit is not moved.
    Other,
}

/// Why a registry call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Secrets(#[from] SecretsError),
}

/// `at` as health causes and events show it.
pub fn clock_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S UTC").to_string()
}

/// The words for a circuit that holds calls back, as health shows them.
pub fn describe_refusal(host: &str, username: &str, why: &Refusal, until: DateTime<Utc>) -> String {
    match why {
        Refusal::Auth { at, .. } => {
            let whose = if username.is_empty() {
                "access without a credential".to_string()
            } else {
                format!("the credential of user {username}")
            };
            format!(
                "registry {host} refused {whose} at {}; next try {}; `sprout registry login {host} --username USER --password-stdin` to fix",
                clock_time(*at),
                clock_time(until)
            )
        }
        Refusal::Transient { at, message, .. } => {
            format!("registry {host} did not answer at {} ({message}); next try {}", clock_time(*at), clock_time(until))
        }
    }
}
