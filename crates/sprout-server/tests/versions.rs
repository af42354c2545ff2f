//! Component tests for versions: images resolved and pinned at deploy, deletion refused while in
//! use, lifecycle policies applied after each new version. FakeEngine, in-memory store, the API
//! handlers called directly; every wait is bounded and nothing asserts on durations.
#![allow(clippy::disallowed_methods)] // version ages are stamped on the wall clock the lifecycle reads

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::api::environments::{self, NewEnvironment};
use sprout_server::api::lifecycle::{self as lifecycle_api, SetPolicy};
use sprout_server::clock::SystemClock;
use sprout_server::lifecycle::{VersionError, delete_version};
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvStatus, SqliteStore, Store, VersionRecord};
use tokio_util::sync::CancellationToken;

const DEF: &str = r#"{
  "AWSEBDockerrunVersion": 2,
  "containerDefinitions": [
    {"name": "app", "image": "app:1", "essential": true, "memory": 64},
    {"name": "web", "image": "web:1", "essential": true, "memory": 32, "links": ["app"],
     "portMappings": [{"hostPort": 80, "containerPort": 80}]}
  ]
}"#;

struct Harness {
    ctx: Ctx,
    fake: Arc<FakeEngine>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn harness(controllers: bool) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeEngine::new());
    fake.add_image_with_size("app:1", 450 * 1024 * 1024);
    fake.add_image_with_size("web:1", 100 * 1024 * 1024);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let mut settings = Settings::new(dir.path().to_path_buf(), "vtest".into());
    settings.tick = Duration::from_millis(50);
    settings.drain = Duration::from_millis(10);
    settings.stop_timeout = Duration::from_millis(100);
    let engine: Arc<dyn Engine> = fake.clone();
    let ctx = Ctx::new(store, engine, Arc::new(SystemClock), LoadBalancer::new(LbConfig::default()), settings);
    let cancel = CancellationToken::new();
    if controllers {
        tokio::spawn(sprout_server::controller::supervise(ctx.clone(), cancel.clone()));
    }
    let _ = ctx.store.create_application(&Application { name: "shop".into(), created_at: chrono::Utc::now() }).await;
    Harness { ctx, fake, cancel, _dir: dir }
}

/// A version whose bundle is a real directory under the bundles dir, named by its digest.
async fn add_version(h: &Harness, label: &str, digest: &str, age_days: i64) {
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", DEF).unwrap().dockerrun;
    let bundle = h.ctx.settings.bundles_dir().join(digest);
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("Dockerrun.aws.json"), DEF).unwrap();
    h.ctx
        .store
        .create_version(&VersionRecord {
            app: "shop".into(),
            label: label.into(),
            description: String::new(),
            bundle_digest: format!("sha256:{digest}"),
            bundle_path: bundle.display().to_string(),
            definition: serde_json::to_string(&def).unwrap(),
            created_at: chrono::Utc::now() - chrono::Duration::days(age_days),
        })
        .await
        .unwrap();
}

async fn create_env(h: &Harness, name: &str, version: &str) -> Result<(), String> {
    let req = NewEnvironment {
        name: name.into(),
        version: version.into(),
        instances: 1,
        variables: Default::default(),
        timeout_s: None,
        deploy: None,
        cfg: None,
        tier: None,
    };
    environments::create(State(h.ctx.clone()), Path("shop".into()), Json(req))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn labels(h: &Harness) -> Vec<String> {
    h.ctx.store.list_versions("shop").await.unwrap().into_iter().map(|v| v.label).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_recorded_at_create_and_containers_run_the_recorded_ids() {
    let h = harness(true).await;
    add_version(&h, "v1", "d1", 0).await;
    let app_id = h.fake.inspect_image("app:1").await.unwrap().id;
    create_env(&h, "prod", "v1").await.unwrap();

    let images = h.ctx.store.get_version_images("shop", "v1").await.unwrap().expect("recorded at create");
    assert_eq!(images["app:1"].id, app_id);
    assert_eq!(images["web:1"].size_bytes, 100 * 1024 * 1024);
    let (total, warning) = sprout_server::version_images::size_report(&images);
    assert_eq!(total, 550 * 1024 * 1024);
    assert!(warning.is_some_and(|w| w.contains("app:1")), "550 MB is over the 500 MB budget");

    let mut ran = None;
    for _ in 0..200 {
        ran = h
            .fake
            .containers()
            .into_iter()
            .find(|c| c.labels.get("sprout.container").map(String::as_str) == Some("app"));
        if ran.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let ran = ran.expect("the app container was created");
    let spec = h.fake.container_spec(&ran.name).unwrap();
    assert_eq!(spec.image, app_id, "created from the recorded id, not the tag");

    // The tag moves (a new build replaces app:1, and the old image is gone): deploying v1
    // again is refused rather than running other code under the same version.
    h.fake.remove_image("app:1");
    h.fake.add_image("app:1");
    let err = create_env(&h, "staging", "v1").await.unwrap_err();
    assert!(err.contains(&app_id) && err.contains("no longer on this engine"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_version_in_use_is_refused_naming_the_environments() {
    let h = harness(false).await;
    add_version(&h, "v1", "d1", 0).await;
    add_version(&h, "v2", "shared", 0).await;
    add_version(&h, "v3", "shared", 0).await;
    create_env(&h, "prod", "v1").await.unwrap();

    match delete_version(&h.ctx, "shop", "v1").await {
        Err(VersionError::InUse { environments, .. }) => assert_eq!(environments, ["prod"]),
        other => panic!("expected InUse, got {other:?}"),
    }
    let bundles = h.ctx.settings.bundles_dir();
    delete_version(&h.ctx, "shop", "v2").await.unwrap();
    assert!(bundles.join("shared").exists(), "v3 still uses the bundle");
    delete_version(&h.ctx, "shop", "v3").await.unwrap();
    assert!(!bundles.join("shared").exists(), "last user gone: bundle removed");
    assert_eq!(labels(&h).await, ["v1"]);
    assert!(bundles.join("d1").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_keeps_running_last_good_and_deploying_versions() {
    let h = harness(false).await;
    // v1 oldest .. v6 newest.
    for (i, label) in ["v1", "v2", "v3", "v4", "v5", "v6"].iter().enumerate() {
        add_version(&h, label, &format!("d{label}"), 60 - i as i64).await;
    }
    create_env(&h, "prod", "v1").await.unwrap();
    sprout_store::change_environment(&*h.ctx.store, "shop", "prod", |prod| {
        prod.last_good_version = Some("v2".into());
        prod.status = EnvStatus::Updating;
        prod.deploy_state = Some(serde_json::json!({"batches": [{"target": "v3"}]}));
    })
    .await
    .unwrap();

    let set = |max_count, max_age_days| {
        lifecycle_api::set(State(h.ctx.clone()), Path("shop".into()), Json(SetPolicy { max_count, max_age_days }))
    };
    assert!(set(Some(0), None).await.is_err(), "a count of 0 is refused");
    let view = set(Some(2), None).await.unwrap().0;
    assert_eq!(view.deleted, ["v4"], "v5, v6 are the newest two; v1-v3 are in use");
    let left: BTreeSet<String> = labels(&h).await.into_iter().collect();
    assert_eq!(left, ["v1", "v2", "v3", "v5", "v6"].map(String::from).into());
    assert!(!h.ctx.settings.bundles_dir().join("dv4").exists());
    assert_eq!(h.ctx.store.get_lifecycle("shop").await.unwrap().max_count, Some(2));

    // The deploy ends: v3 is no longer mentioned anywhere, so a new version lets it go.
    sprout_store::change_environment(&*h.ctx.store, "shop", "prod", |prod| {
        prod.deploy_state = None;
        prod.status = EnvStatus::Ready;
    })
    .await
    .unwrap();
    add_version(&h, "v7", "dv7", 0).await;
    let deleted = sprout_server::lifecycle::apply_lifecycle(&h.ctx, "shop").await.unwrap();
    assert_eq!(deleted, ["v3", "v5"]);
    let events = h.ctx.store.recent_events("shop", None, 10).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "VersionDeleted" && e.message.contains("v3")));
}
