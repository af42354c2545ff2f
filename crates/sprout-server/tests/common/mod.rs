//! The component-test harness shared by the controller and deploy tests: the supervisor running
//! on FakeEngine, an in-memory store and a scripted prober, with short ticks and a clock that
//! follows tokio's (`TokioClock`), so tests may run on paused time. Every wait is bounded;
//! nothing asserts on durations.

#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // component tests still run on the system clock (see docs/architecture.md)

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::clock::TokioClock;
use sprout_server::probe::Prober;
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvStatus, EnvironmentRecord, MemoryStore, Store, VersionRecord};
use tokio_util::sync::CancellationToken;

pub const DEF: &str = r#"{
  "AWSEBDockerrunVersion": 2,
  "containerDefinitions": [
    {"name": "app", "image": "IMAGE", "essential": true, "memory": 64},
    {"name": "web", "image": "web:1", "essential": true, "memory": 32, "links": ["app:backend"],
     "portMappings": [{"hostPort": 80, "containerPort": 80}],
     "mountPoints": [{"sourceVolume": "awseb-logs-web", "containerPath": "/var/log/nginx"}]},
    {"name": "job", "image": "web:1", "essential": false, "memory": 16}
  ]
}"#;

/// Passes every probe except for addresses marked failing.
#[derive(Default)]
pub struct ScriptedProber {
    pub failing: Mutex<HashSet<SocketAddr>>,
    pub fail_all: Mutex<bool>,
    /// When set, only these addresses pass.
    pub only: Mutex<Option<HashSet<SocketAddr>>>,
    /// Instances of these versions fail (looked up on the engine by published port), however
    /// soon after their launch they are probed.
    pub fail_versions: Mutex<HashSet<String>>,
    pub engine: Mutex<Option<Arc<FakeEngine>>>,
    /// Probes of these addresses hang (far past any timeout) instead of answering.
    pub hanging: Mutex<HashSet<SocketAddr>>,
}

impl ScriptedProber {
    fn version_of(&self, addr: SocketAddr) -> Option<String> {
        let engine = self.engine.lock().unwrap().clone()?;
        engine
            .containers()
            .into_iter()
            .find(|c| c.ports.iter().any(|p| p.host_port == addr.port()))
            .and_then(|c| c.labels.get("sprout.version").cloned())
    }
}

#[async_trait::async_trait]
impl Prober for ScriptedProber {
    async fn probe(&self, addr: SocketAddr, path: &str, _t: Duration) -> Result<(), String> {
        if self.hanging.lock().unwrap().contains(&addr) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let excluded = self.only.lock().unwrap().as_ref().is_some_and(|only| !only.contains(&addr))
            || self.version_of(addr).is_some_and(|v| self.fail_versions.lock().unwrap().contains(&v));
        if excluded || *self.fail_all.lock().unwrap() || self.failing.lock().unwrap().contains(&addr) {
            Err(format!("GET {path} returned 500"))
        } else {
            Ok(())
        }
    }
}

pub struct Harness {
    pub ctx: Ctx,
    pub fake: Arc<FakeEngine>,
    pub prober: Arc<ScriptedProber>,
    pub cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn harness() -> Harness {
    harness_with(Arc::new(MemoryStore::new())).await
}

/// The harness over a store of the test's own (one that interferes, for instance).
pub async fn harness_with(store: Arc<dyn Store>) -> Harness {
    harness_configured(store, |_| {}).await
}

/// The harness with settings of the test's own (a tiny instance network pool, say).
pub async fn harness_configured(store: Arc<dyn Store>, configure: impl FnOnce(&mut Settings)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeEngine::new());
    for i in ["app:1", "app:2", "web:1"] {
        fake.add_image(i);
    }
    let mut settings = Settings::new(dir.path().to_path_buf(), "stest".into());
    settings.tick = Duration::from_millis(50);
    settings.drain = Duration::from_millis(10);
    settings.stop_timeout = Duration::from_millis(100);
    configure(&mut settings);
    let engine: Arc<dyn Engine> = fake.clone();
    let mut ctx = Ctx::new(
        store,
        engine,
        Arc::new(TokioClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap())),
        LoadBalancer::new(LbConfig::default()),
        settings,
    );
    let prober = Arc::new(ScriptedProber::default());
    *prober.engine.lock().unwrap() = Some(fake.clone());
    ctx.prober = prober.clone();
    let cancel = CancellationToken::new();
    tokio::spawn(sprout_server::controller::supervise(ctx.clone(), cancel.clone()));
    Harness { ctx, fake, prober, cancel, _dir: dir }
}

pub async fn add_version(h: &Harness, label: &str, image: &str) {
    let now = h.ctx.clock.now();
    let _ = h.ctx.store.create_application(&Application { name: "shop".into(), created_at: now }).await;
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", &DEF.replace("IMAGE", image)).unwrap().dockerrun;
    let bundle = h.ctx.settings.data_dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    h.ctx
        .store
        .create_version(&VersionRecord {
            app: "shop".into(),
            label: label.into(),
            description: String::new(),
            bundle_digest: format!("sha256:{label}"),
            bundle_path: bundle.display().to_string(),
            definition: serde_json::to_string(&def).unwrap(),
            created_at: now,
        })
        .await
        .unwrap();
}

pub async fn create_env(h: &Harness, version: &str, n: u32) {
    let now = h.ctx.clock.now();
    h.ctx
        .store
        .create_environment(&EnvironmentRecord {
            variables: [("STAGE".to_string(), "prod".to_string())].into(),
            deploy_deadline: Some(now + chrono::Duration::seconds(60)),
            ..EnvironmentRecord::launching("shop", "prod", version, n, now)
        })
        .await
        .unwrap();
    h.ctx.kick.notify_waiters();
}

pub async fn env(h: &Harness) -> Option<EnvironmentRecord> {
    h.ctx.store.get_environment("shop", "prod").await.ok()
}

/// Changes shop/prod as a user's request does: on a fresh read, again if the controller wrote
/// first (a plain read-modify-write would be refused as stale, or undo the controller's write).
pub async fn change_env(h: &Harness, change: impl Fn(&mut EnvironmentRecord)) -> EnvironmentRecord {
    sprout_store::change_environment(&*h.ctx.store, "shop", "prod", change).await.unwrap()
}

/// Deploys `version` to shop/prod as `sprout deploy` does, with a deadline `deadline_ms` away.
pub async fn start_deploy(h: &Harness, version: &str, deadline_ms: i64) {
    let deadline = h.ctx.clock.now() + chrono::Duration::milliseconds(deadline_ms);
    change_env(h, |e| {
        e.version_label = version.into();
        e.status = EnvStatus::Updating;
        e.deploy_deadline = Some(deadline);
    })
    .await;
    h.ctx.kick.notify_waiters();
}

/// Wait (bounded, 10 s) until `cond` holds.
pub async fn until<F, Fut>(what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until_within(10, what, cond).await
}

/// Wait at most `secs` seconds until `cond` holds, looking every 25 ms.
pub async fn until_within<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 40 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gave up after {secs}s waiting for: {what}");
}

pub fn instances(fake: &FakeEngine, version: Option<&str>) -> HashSet<String> {
    fake.containers()
        .into_iter()
        .filter(|c| version.is_none_or(|v| c.labels.get("sprout.version").map(String::as_str) == Some(v)))
        .filter_map(|c| c.labels.get("sprout.instance").cloned())
        .collect()
}

pub async fn ready(h: &Harness, version: &str, n: usize) -> bool {
    let e = env(h).await;
    e.is_some_and(|e| e.status == EnvStatus::Ready && e.version_label == version)
        && instances(&h.fake, None).len() == n
        && h.ctx.lb.table().lookup("prod.shop.localhost").is_some_and(|r| r.upstreams.len() == n)
}
