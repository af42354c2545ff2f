//! Environment secrets on the server: sealing a value for its record, the versions that make
//! an instance current, and opening them all for a launch. A value is in the clear only here,
//! in memory, on its way into a container's environment; the store, events, logs and API
//! answers see names and versions.
//!
//! Not here: the routes (`api::secrets`) nor the cipher (`secrets`).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use sprout_store::{Store, StoreError};

use crate::context::Ctx;

/// The associated data a secret is sealed with: a value copied onto another secret's record
/// (another environment, another name) does not open.
pub fn context(app: &str, env: &str, name: &str) -> String {
    format!("secret {app}/{env}/{name}")
}

/// Each secret's name and how many times it has been set: what `config_hash_with` takes.
pub async fn versions(store: &dyn Store, app: &str, env: &str) -> Result<BTreeMap<String, i64>, StoreError> {
    Ok(store.list_secrets(app, env).await?.into_iter().map(|s| (s.name, s.version)).collect())
}

/// Every secret of the environment, opened. An error names the secret that does not open.
pub async fn open_all(ctx: &Ctx, app: &str, env: &str) -> Result<BTreeMap<String, String>, String> {
    let records = ctx.store.list_secrets(app, env).await.map_err(|e| format!("cannot read the secrets: {e}"))?;
    let mut out = BTreeMap::new();
    for r in records {
        let what = format!("secret {} of {app}/{env}", r.name);
        let value =
            ctx.registries.key.open(&r.sealed, &context(app, env, &r.name), &what).map_err(|e| e.to_string())?;
        out.insert(r.name, value.expose_secret().to_string());
    }
    Ok(out)
}

/// Seals `value` for the secret `name` of `app`/`env`.
pub fn seal(ctx: &Ctx, (app, env, name): (&str, &str, &str), value: &SecretString) -> Vec<u8> {
    ctx.registries.key.seal(value, &context(app, env, name))
}

/// The Sprout secrets `def`'s containers name that the environment does not have, sorted.
pub fn missing<'d>(def: &'d sprout_model::Dockerrun, have: &BTreeMap<String, i64>) -> Vec<&'d str> {
    def.secret_names().into_iter().filter(|n| !have.contains_key(*n)).collect()
}
