//! The suite's environment checks: create, read, list order, update every mutable field, delete.

use std::collections::BTreeMap;

use sprout_store::{EnvStatus, EnvironmentRecord, Store, StoreError};

use super::{assert_conflict, assert_not_found, at, environment};

pub(super) async fn environments(store: &dyn Store) {
    assert_eq!(store.list_environments(None).await.unwrap(), vec![]);
    let production = environment("adserver", "production");
    let staging =
        EnvironmentRecord { deploy_deadline: None, variables: BTreeMap::new(), ..environment("adserver", "staging") };
    let billing = environment("billing", "production");
    // Inserted out of order so that the ordering is the store's doing.
    for env in [&staging, &billing, &production] {
        store.create_environment(env).await.unwrap();
    }

    assert_eq!(store.get_environment("adserver", "production").await.unwrap(), production);
    assert_eq!(store.get_environment("adserver", "staging").await.unwrap(), staging);
    assert_eq!(
        store.list_environments(None).await.unwrap(),
        vec![production.clone(), staging.clone(), billing.clone()],
        "ordered by app, then name"
    );
    assert_eq!(store.list_environments(Some("adserver")).await.unwrap(), vec![production.clone(), staging.clone()]);
    assert_eq!(store.list_environments(Some("nope")).await.unwrap(), vec![]);

    assert_conflict(store.create_environment(&production).await, "environment", "adserver/production");
    assert_not_found(store.create_environment(&environment("nope", "production")).await, "application", "nope");
    assert_not_found(store.get_environment("adserver", "nope").await, "environment", "adserver/nope");

    // Every mutable field changes, including optional ones going both ways.
    let mut updated = EnvironmentRecord {
        version_label: "v3".to_string(),
        last_good_version: Some("v2".to_string()),
        desired_instances: 7,
        status: EnvStatus::Updating,
        variables: BTreeMap::from([("MODE".to_string(), "canary".to_string())]),
        deploy_deadline: None,
        last_error: Some("health check failed on instance 3".to_string()),
        updated_at: at(120),
        ..production.clone()
    };
    store.update_environment(&mut updated).await.unwrap();
    assert_eq!(updated.revision, 1, "the write raised the revision");
    assert_eq!(store.get_environment("adserver", "production").await.unwrap(), updated);
    let mut back = EnvironmentRecord {
        status: EnvStatus::Ready,
        deploy_deadline: Some(at(900)),
        last_error: None,
        options: Default::default(),
        deploy_state: None,
        updated_at: at(130),
        ..updated.clone()
    };
    store.update_environment(&mut back).await.unwrap();
    assert_eq!(back.revision, 2);
    assert_eq!(store.get_environment("adserver", "production").await.unwrap(), back);
    assert_eq!(store.get_environment("billing", "production").await.unwrap(), billing, "untouched");

    assert_not_found(
        store.update_environment(&mut environment("adserver", "nope")).await,
        "environment",
        "adserver/nope",
    );
    assert_eq!(store.list_environments(Some("adserver")).await.unwrap().len(), 2, "update never inserts");

    store.delete_environment("adserver", "staging").await.unwrap();
    assert_not_found(store.get_environment("adserver", "staging").await, "environment", "adserver/staging");
    assert_not_found(store.delete_environment("adserver", "staging").await, "environment", "adserver/staging");
    assert_eq!(store.list_environments(Some("adserver")).await.unwrap(), vec![back]);
    a_write_from_a_stale_read_is_refused(store, "adserver", "production").await;
}

/// Two writers read the same revision: the first write lands, the second is refused as stale and
/// changes nothing, and succeeds once it has read again.
async fn a_write_from_a_stale_read_is_refused(store: &dyn Store, app: &str, env: &str) {
    let mut controller = store.get_environment(app, env).await.unwrap();
    let read_at = controller.revision;
    let mut user = controller.clone();

    user.version_label = "v-user".to_string();
    store.update_environment(&mut user).await.unwrap();

    controller.status = EnvStatus::Terminating;
    match store.update_environment(&mut controller).await {
        Err(StoreError::Stale { kind, name }) => {
            assert_eq!((kind, name), ("environment", format!("{app}/{env}")));
        }
        other => panic!("expected a stale write to be refused, got {other:?}"),
    }
    assert_eq!(controller.revision, read_at, "a refused write leaves the revision as read");
    let stored = store.get_environment(app, env).await.unwrap();
    assert_eq!(stored.version_label, "v-user", "the first writer's change survived");
    assert_ne!(stored.status, EnvStatus::Terminating, "nothing of the stale write landed");

    let mut fresh = stored;
    let status = fresh.status;
    fresh.version_label = "v3".to_string();
    store.update_environment(&mut fresh).await.unwrap();
    let stored = store.get_environment(app, env).await.unwrap();
    assert_eq!((stored.version_label.as_str(), stored.status, stored.revision), ("v3", status, read_at + 2));
}
