//! Component tests for private registries (issue 12): credentials stored sealed and never shown,
//! private images refused clearly without a login and pulled once with one, the seed's password
//! change replayed (one refusal per back-off window, running instances untouched, the deploy and
//! scale-out completing after `registry login`), and a registry outage not stopping a scale-out.
//! FakeEngine, in-memory store, paused time (the back-off passes virtually).

mod common;

use axum::Json;
use axum::extract::{Path, State};
use common::*;
use sprout_api::{ImportRequest, LoginRequest, LogoutRequest};
use sprout_server::api::environments::{self, NewEnvironment};
use sprout_server::api::registries;

const REGISTRY: &str = "127.0.0.1:5000";
const PRIVATE: &str = "127.0.0.1:5000/shop/app:2";
const PRIVATE_3: &str = "127.0.0.1:5000/shop/app:3";

async fn login(h: &Harness, password: &str) {
    let req = LoginRequest { host: REGISTRY.into(), username: "ci".into(), password: password.into(), app: None };
    let _ = registries::login(State(h.ctx.clone()), Json(req)).await.unwrap();
}

async fn create(h: &Harness, version: &str, instances: u32) -> Result<(), String> {
    let req = NewEnvironment {
        name: "prod".into(),
        version: version.into(),
        instances,
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

fn registry_calls(h: &Harness, image: &str) -> usize {
    h.fake
        .calls()
        .iter()
        .filter(|c| c.ends_with(image) && (c.starts_with("pull_image") || c.starts_with("registry_digest")))
        .count()
}

async fn in_service(h: &Harness, version: &str) -> usize {
    let key = sprout_server::context::EnvKey::new("shop", "prod");
    let snapshot = h.ctx.snapshots.lock().unwrap().get(&key).cloned();
    snapshot.map_or(0, |s| s.instances.iter().filter(|i| i.in_service && i.version == version).count())
}

async fn events_of(h: &Harness, kind: &str) -> Vec<String> {
    let all = h.ctx.store.recent_events("shop", Some("prod"), 1000).await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).map(|e| e.message).collect()
}

#[tokio::test(start_paused = true)]
async fn credentials_are_sealed_listed_without_secrets_and_removed() {
    let h = harness().await;
    login(&h, "hunter2-secret").await;
    let stored = h.ctx.store.list_registry_credentials().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].sealed_secret.windows(7).any(|w| w == b"hunter2"), "sealed at rest");
    let listed = registries::list(State(h.ctx.clone())).await.unwrap().0;
    let json = serde_json::to_string(&listed).unwrap();
    assert!(json.contains("\"ci\"") && !json.contains("hunter2"), "{json}");

    // An import under a name; a Dockerrun naming another is refused at upload and deploy.
    let config = serde_json::json!({"auths": {"quay.io": {"username": "robot", "password": "tok"}}});
    let req = ImportRequest { name: "prod-auth".into(), config, app: None };
    let _ = registries::import(State(h.ctx.clone()), Json(req)).await.unwrap();
    let mut def = sprout_model::load_dockerrun("D", &DEF.replace("IMAGE", "app:1")).unwrap().dockerrun;
    def.authentication = Some(sprout_model::Authentication { bucket: "my-bucket".into(), key: "other".into() });
    let err = registries::check_authentication(&h.ctx, "shop", &def).await.unwrap_err().to_string();
    assert!(err.contains("\"other\"") && err.contains("names no imported registry config"), "{err}");
    def.authentication = Some(sprout_model::Authentication { bucket: "ignored".into(), key: "prod-auth".into() });
    registries::check_authentication(&h.ctx, "shop", &def).await.unwrap();

    let req = LogoutRequest { host: REGISTRY.into(), app: None };
    assert_eq!(registries::logout(State(h.ctx.clone()), Json(req.clone())).await.unwrap().0.removed, 1);
    assert!(registries::logout(State(h.ctx.clone()), Json(req)).await.is_err(), "nothing left to remove");
}

#[tokio::test(start_paused = true)]
async fn a_private_image_is_refused_clearly_without_a_login_and_pulled_once_with_one() {
    let h = harness().await;
    h.fake.make_pullable(PRIVATE);
    h.fake.require_registry_login(REGISTRY, "ci", "s3cret");
    add_version(&h, "v2", PRIVATE).await;

    let err = create(&h, "v2", 4).await.unwrap_err();
    assert!(err.contains("registry 127.0.0.1:5000 refused access without a credential"), "{err}");

    login(&h, "s3cret").await;
    create(&h, "v2", 4).await.unwrap();
    until("4 instances of v2 in service", || async { in_service(&h, "v2").await == 4 }).await;
    // One look-up at create, one pull for four launches.
    assert_eq!(h.fake.calls_matching(&format!("pull_image {PRIVATE}")).len(), 1);
    let images = h.ctx.store.get_version_images("shop", "v2").await.unwrap().unwrap();
    assert!(images[PRIVATE].digest.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{images:?}");
    assert_eq!(events_of(&h, "ImagePulled").await.len(), 1);
    let creds = h.ctx.store.list_registry_credentials().await.unwrap();
    assert!(creds[0].last_success.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_changed_password_costs_one_refusal_per_window_and_login_lets_the_deploy_finish() {
    let h = harness().await;
    for image in [PRIVATE, PRIVATE_3] {
        h.fake.make_pullable(image);
    }
    h.fake.require_registry_login(REGISTRY, "ci", "old");
    add_version(&h, "v2", PRIVATE).await;
    add_version(&h, "v3", PRIVATE_3).await;
    login(&h, "old").await;
    create(&h, "v2", 3).await.unwrap();
    until("3 instances of v2 in service", || async { in_service(&h, "v2").await == 3 }).await;
    let running_before = instances(&h.fake, Some("v2"));

    // The password is changed at the registry; a deploy and a scale-out to 8 follow.
    h.fake.require_registry_login(REGISTRY, "ci", "new");
    let deploy = sprout_server::api::environments::deploy(
        State(h.ctx.clone()),
        Path(("shop".into(), "prod".into())),
        Json(sprout_api::DeployRequest { version: "v3".into(), timeout_s: Some(3600), deploy: None, release: None }),
    )
    .await;
    assert!(deploy.is_ok(), "a refused stored credential holds launches back, it does not refuse the deploy");
    change_env(&h, |e| e.desired_instances = 8).await;
    h.ctx.kick.notify_waiters();

    // Five minutes pass: attempts only at the window ends (0, 60, 180 s), the three running
    // instances untouched and in service, health saying why, one RegistryRefused event.
    tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    assert_eq!(registry_calls(&h, PRIVATE_3), 3, "{:?}", h.fake.calls_matching("pull_image"));
    assert_eq!(instances(&h.fake, Some("v2")), running_before);
    assert_eq!(in_service(&h, "v2").await, 3);
    assert!(instances(&h.fake, Some("v3")).is_empty());
    let refused = events_of(&h, "RegistryRefused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("user ci") && refused[0].contains("sprout registry login"), "{}", refused[0]);
    let key = sprout_server::context::EnvKey::new("shop", "prod");
    let causes = h.ctx.snapshots.lock().unwrap().get(&key).unwrap().causes.clone();
    assert!(
        causes.iter().any(|c| c.contains("refused the credential of user ci") && c.contains("next try")),
        "{causes:?}"
    );

    // Login with the new password: the circuit closes at once, the deploy and scale-out finish.
    login(&h, "new").await;
    until("8 instances of v3 in service", || async { in_service(&h, "v3").await == 8 }).await;
    assert_eq!(h.fake.calls_matching(&format!("pull_image {PRIVATE_3}")).len(), 3, "two refused, one pulled");
}

#[tokio::test(start_paused = true)]
async fn a_registry_outage_does_not_stop_a_scale_out_of_a_deployed_version() {
    let h = harness().await;
    h.fake.make_pullable(PRIVATE);
    add_version(&h, "v2", PRIVATE).await;
    create(&h, "v2", 1).await.unwrap();
    until("v2 in service", || async { in_service(&h, "v2").await == 1 }).await;
    h.fake.set_registry_down(REGISTRY, true);
    let calls = registry_calls(&h, PRIVATE);
    change_env(&h, |e| e.desired_instances = 6).await;
    h.ctx.kick.notify_waiters();
    until("6 instances of v2 in service", || async { in_service(&h, "v2").await == 6 }).await;
    assert_eq!(registry_calls(&h, PRIVATE), calls, "pinned and present: the registry is not asked");
}

/// A context with a mirror for the private registry, and no controllers: readiness is asked
/// directly, as each pass asks it.
fn mirrored(
    order: sprout_server::registry::MirrorOrder,
) -> (sprout_server::Ctx, std::sync::Arc<sprout_engine::FakeEngine>) {
    use std::sync::Arc;
    let fake = Arc::new(sprout_engine::FakeEngine::new());
    let settings = sprout_server::Settings::new(std::env::temp_dir(), "mtest".into());
    let mut ctx = sprout_server::Ctx::new(
        Arc::new(sprout_store::MemoryStore::new()),
        fake.clone(),
        Arc::new(sprout_server::clock::TokioClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap())),
        sprout_lb::LoadBalancer::new(sprout_lb::LbConfig::default()),
        settings,
    );
    let registry = sprout_server::registry::RegistrySettings {
        mirrors: [(REGISTRY.to_string(), "127.0.0.1:5001".to_string())].into(),
        order,
        policy: Default::default(),
    };
    ctx.registries =
        Arc::new(sprout_server::registry::Registries::new(sprout_server::secrets::SecretKey::ephemeral(), registry));
    (ctx, fake)
}

async fn ready_from_mirror(ctx: &sprout_server::Ctx) -> String {
    use sprout_server::registry::images::{Readiness, readiness};
    let def =
        sprout_model::load_dockerrun("D", &DEF.replace("IMAGE", PRIVATE).replace("web:1", PRIVATE)).unwrap().dockerrun;
    let mut last = String::new();
    for _ in 0..200 {
        match readiness(ctx, "shop", "prod", "v2", &def).await {
            Readiness::Ready => return String::new(),
            Readiness::Waiting(why) => last = why,
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    last
}

#[tokio::test(start_paused = true)]
async fn a_mirror_stands_in_for_its_registry_and_the_registry_for_its_mirror() {
    use sprout_engine::Engine;
    use sprout_server::registry::MirrorOrder;
    // The registry is down; its mirror has the image: pulled from the mirror, named as defined.
    let (ctx, fake) = mirrored(MirrorOrder::OriginFirst);
    let _ = ctx
        .store
        .create_application(&sprout_store::Application { name: "shop".into(), created_at: ctx.clock.now() })
        .await;
    fake.make_pullable(PRIVATE);
    fake.make_pullable("127.0.0.1:5001/shop/app:2");
    fake.set_registry_down(REGISTRY, true);
    add_version_to(&ctx, "v2").await;
    assert_eq!(ready_from_mirror(&ctx).await, "");
    assert!(fake.image_present(PRIVATE).await.unwrap(), "tagged with the name the definition gives");
    assert_eq!(fake.calls_matching("pull_image 127.0.0.1:5001/shop/app:2").len(), 1);

    // Mirror first, and the mirror lacks the image: the registry gives it.
    let (ctx, fake) = mirrored(MirrorOrder::MirrorFirst);
    let _ = ctx
        .store
        .create_application(&sprout_store::Application { name: "shop".into(), created_at: ctx.clock.now() })
        .await;
    fake.make_pullable(PRIVATE);
    add_version_to(&ctx, "v2").await;
    assert_eq!(ready_from_mirror(&ctx).await, "");
    let pulls = fake.calls_matching("pull_image");
    assert_eq!(pulls, ["pull_image 127.0.0.1:5001/shop/app:2", &format!("pull_image {PRIVATE}")], "{pulls:?}");
    let images = ctx.store.get_version_images("shop", "v2").await.unwrap().unwrap();
    assert!(images[PRIVATE].digest.is_some());
}

async fn add_version_to(ctx: &sprout_server::Ctx, label: &str) {
    let def =
        sprout_model::load_dockerrun("D", &DEF.replace("IMAGE", PRIVATE).replace("web:1", PRIVATE)).unwrap().dockerrun;
    ctx.store
        .create_version(&sprout_store::VersionRecord {
            app: "shop".into(),
            label: label.into(),
            description: String::new(),
            bundle_digest: "sha256:x".into(),
            bundle_path: "/nonexistent".into(),
            definition: serde_json::to_string(&def).unwrap(),
            created_at: ctx.clock.now(),
        })
        .await
        .unwrap();
}
