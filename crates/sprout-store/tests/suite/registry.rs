//! Registry credentials: stored per host, scope and source, replaced whole by a login or an
//! import, removed by scope, and noted with their last success and failure.

use sprout_store::{CredentialKey, RegistryCredentialRecord, RegistryOutcome, Store};

use super::at;

fn key(host: &str, app: Option<&str>, source: Option<&str>) -> CredentialKey {
    CredentialKey { host: host.into(), app: app.map(Into::into), source: source.map(Into::into) }
}

fn credential(key: CredentialKey, username: &str, secret: &[u8]) -> RegistryCredentialRecord {
    RegistryCredentialRecord {
        key,
        username: username.into(),
        sealed_secret: secret.to_vec(),
        updated_at: at(70),
        last_success: None,
        last_failure: None,
        last_failure_message: None,
    }
}

fn keys(list: &[RegistryCredentialRecord]) -> Vec<CredentialKey> {
    list.iter().map(|c| c.key.clone()).collect()
}

pub async fn registry(store: &dyn Store) {
    assert_eq!(store.list_registry_credentials().await.unwrap(), vec![]);
    let global = key("quay.io", None, None);
    let for_app = key("quay.io", Some("adserver"), None);
    let imported = key("quay.io", Some("adserver"), Some("prod-auth"));
    let other = key("127.0.0.1:5000", None, None);
    for (k, user) in [(&imported, "robot"), (&for_app, "ci"), (&global, "ops"), (&other, "ci")] {
        store.set_registry_credential(&credential(k.clone(), user, b"\x00sealed\xff")).await.unwrap();
    }
    let list = store.list_registry_credentials().await.unwrap();
    assert_eq!(keys(&list), [other.clone(), global.clone(), for_app.clone(), imported.clone()], "host, scope, source");
    assert_eq!(list[2].sealed_secret, b"\x00sealed\xff", "bytes kept exactly");

    // Outcomes are noted; a new secret forgets them.
    store.note_registry_outcome(&for_app, at(80), &RegistryOutcome::Accepted).await.unwrap();
    let refused = RegistryOutcome::Refused("unauthorized: authentication required".into());
    store.note_registry_outcome(&for_app, at(90), &refused).await.unwrap();
    store.note_registry_outcome(&key("gone.io", None, None), at(90), &refused).await.unwrap();
    let c = store.list_registry_credentials().await.unwrap().into_iter().find(|c| c.key == for_app).unwrap();
    assert_eq!((c.last_success, c.last_failure), (Some(at(80)), Some(at(90))));
    assert_eq!(c.last_failure_message.as_deref(), Some("unauthorized: authentication required"));
    store.set_registry_credential(&credential(for_app.clone(), "ci", b"new")).await.unwrap();
    let c = store.list_registry_credentials().await.unwrap().into_iter().find(|c| c.key == for_app).unwrap();
    assert_eq!((c.sealed_secret.as_slice(), c.last_success, c.last_failure), (&b"new"[..], None, None));

    // An import replaces the whole config of its scope, and only that.
    let fresh = [
        credential(key("ghcr.io", Some("adserver"), Some("prod-auth")), "bot", b"g"),
        credential(key("docker.io", Some("adserver"), Some("prod-auth")), "bot", b"d"),
    ];
    store.replace_registry_config("prod-auth", Some("adserver"), &fresh).await.unwrap();
    let list = store.list_registry_credentials().await.unwrap();
    assert!(!keys(&list).contains(&imported), "replaced: {list:?}");
    assert_eq!(list.len(), 5);
    let mismatched = [credential(key("x.io", None, Some("prod-auth")), "bot", b"x")];
    assert!(store.replace_registry_config("prod-auth", Some("adserver"), &mismatched).await.is_err());
    assert_eq!(store.list_registry_credentials().await.unwrap().len(), 5, "nothing changed");

    // A logout removes the host's credentials of one scope, whatever their source.
    assert_eq!(store.delete_registry_credentials("quay.io", Some("adserver")).await.unwrap(), 1);
    assert_eq!(store.delete_registry_credentials("quay.io", Some("adserver")).await.unwrap(), 0);
    assert_eq!(store.delete_registry_credentials("ghcr.io", Some("adserver")).await.unwrap(), 1);
    let list = store.list_registry_credentials().await.unwrap();
    assert_eq!(keys(&list), [other, key("docker.io", Some("adserver"), Some("prod-auth")), global]);
}
