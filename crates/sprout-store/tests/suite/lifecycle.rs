//! The suite's version-lifecycle checks: recorded images, lifecycle policies, version deletion.
//! Runs after `versions`, so adserver has v1, v2, v3 and billing has v1.

use std::collections::BTreeMap;

use sprout_store::{ImageRecord, LifecyclePolicy, Store};

use super::assert_not_found;

pub(super) async fn lifecycle(store: &dyn Store) {
    images(store).await;
    policies(store).await;
    deletion(store).await;
}

async fn images(store: &dyn Store) {
    assert_eq!(store.get_version_images("adserver", "v1").await.unwrap(), None, "none until deployed");
    let images = BTreeMap::from([
        (
            "adserver/app:latest".to_string(),
            ImageRecord { id: "sha256:aaa".to_string(), size_bytes: 400 << 20, digest: Some("sha256:d1".into()) },
        ),
        (
            "nginx:1.27".to_string(),
            ImageRecord { id: "sha256:bbb".to_string(), size_bytes: u64::from(u32::MAX) + 7, digest: None },
        ),
    ]);
    store.set_version_images("adserver", "v1", &images).await.unwrap();
    assert_eq!(store.get_version_images("adserver", "v1").await.unwrap(), Some(images.clone()));
    assert_eq!(store.get_version_images("adserver", "v2").await.unwrap(), None, "only that version");
    assert_eq!(
        store.get_version_images("billing", "v1").await.unwrap(),
        None,
        "same label in another application is another version"
    );
    assert_not_found(store.get_version_images("adserver", "v9").await, "version", "adserver/v9");
    assert_not_found(store.set_version_images("adserver", "v9", &images).await, "version", "adserver/v9");
    // The version record itself is unchanged by recording its images.
    assert_eq!(store.get_version("adserver", "v1").await.unwrap().label, "v1");
}

async fn policies(store: &dyn Store) {
    assert_eq!(store.get_lifecycle("adserver").await.unwrap(), LifecyclePolicy::default());
    let policy = LifecyclePolicy { max_count: Some(200), max_age_days: None };
    store.set_lifecycle("adserver", &policy).await.unwrap();
    assert_eq!(store.get_lifecycle("adserver").await.unwrap(), policy);
    assert_eq!(store.get_lifecycle("billing").await.unwrap(), LifecyclePolicy::default());
    let both = LifecyclePolicy { max_count: Some(3), max_age_days: Some(30) };
    store.set_lifecycle("adserver", &both).await.unwrap();
    assert_eq!(store.get_lifecycle("adserver").await.unwrap(), both, "overwritten");
    assert_not_found(store.get_lifecycle("nope").await, "application", "nope");
    assert_not_found(store.set_lifecycle("nope", &both).await, "application", "nope");

    // Host access policies live beside lifecycle policies, one per application.
    assert_eq!(store.get_host_access("adserver").await.unwrap(), sprout_store::HostAccessPolicy::default());
    let monitor = sprout_store::HostAccessPolicy {
        allow_host_paths: vec!["/var/run/docker.sock".into(), "/proc".into()],
        allow_privileged: false,
    };
    store.set_host_access("adserver", &monitor).await.unwrap();
    assert_eq!(store.get_host_access("adserver").await.unwrap(), monitor);
    assert_eq!(store.get_lifecycle("adserver").await.unwrap(), both, "the lifecycle policy is untouched");
    assert_eq!(store.get_host_access("billing").await.unwrap(), sprout_store::HostAccessPolicy::default());
    store.set_host_access("adserver", &sprout_store::HostAccessPolicy::default()).await.unwrap();
    assert_eq!(store.get_host_access("adserver").await.unwrap(), sprout_store::HostAccessPolicy::default(), "reset");
    assert_not_found(store.get_host_access("nope").await, "application", "nope");
    assert_not_found(store.set_host_access("nope", &monitor).await, "application", "nope");

    // Saved configurations too: one map per application, replaced whole.
    assert!(store.get_saved_configurations("adserver").await.unwrap().is_empty());
    let saved = sprout_store::SavedConfiguration {
        name: "base".into(),
        source_environment: Some("production".into()),
        created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        instances: 2,
        options: [("health.path".to_string(), "/health".to_string())].into_iter().collect(),
        variables: [("MODE".to_string(), "live".to_string())].into_iter().collect(),
        scheduled_actions: Vec::new(),
    };
    let map: sprout_store::SavedConfigurations = [("base".to_string(), saved)].into_iter().collect();
    store.set_saved_configurations("adserver", &map).await.unwrap();
    assert_eq!(store.get_saved_configurations("adserver").await.unwrap(), map);
    assert!(store.get_saved_configurations("billing").await.unwrap().is_empty());
    assert_eq!(store.get_host_access("adserver").await.unwrap(), sprout_store::HostAccessPolicy::default());
    assert_not_found(store.get_saved_configurations("nope").await, "application", "nope");
    assert_not_found(store.set_saved_configurations("nope", &map).await, "application", "nope");
}

async fn deletion(store: &dyn Store) {
    store.delete_version("adserver", "v2").await.unwrap();
    let labels: Vec<String> = store.list_versions("adserver").await.unwrap().into_iter().map(|v| v.label).collect();
    assert_eq!(labels, ["v3", "v1"]);
    assert_not_found(store.get_version("adserver", "v2").await, "version", "adserver/v2");
    assert_not_found(store.delete_version("adserver", "v2").await, "version", "adserver/v2");
    assert_eq!(store.list_versions("billing").await.unwrap().len(), 1, "other applications untouched");
    // The label is free again once deleted.
    let again =
        sprout_store::VersionRecord { label: "v2".to_string(), ..store.get_version("adserver", "v3").await.unwrap() };
    store.create_version(&again).await.unwrap();
    assert_eq!(store.get_version_images("adserver", "v2").await.unwrap(), None, "a new version has no images");
    store.delete_version("adserver", "v2").await.unwrap();
}
