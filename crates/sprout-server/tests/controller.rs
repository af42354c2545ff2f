//! Component tests: the controllers against FakeEngine, an in-memory store and a scripted
//! prober. Real time with short ticks; every wait is bounded, nothing asserts on durations.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::clock::SystemClock;
use sprout_server::probe::Prober;
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvStatus, EnvironmentRecord, SqliteStore, Store, VersionRecord};
use tokio_util::sync::CancellationToken;

const DEF: &str = r#"{
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
struct ScriptedProber {
    failing: Mutex<HashSet<SocketAddr>>,
    fail_all: Mutex<bool>,
}

#[async_trait::async_trait]
impl Prober for ScriptedProber {
    async fn probe(&self, addr: SocketAddr, path: &str, _t: Duration) -> Result<(), String> {
        if *self.fail_all.lock().unwrap() || self.failing.lock().unwrap().contains(&addr) {
            Err(format!("GET {path} returned 500"))
        } else {
            Ok(())
        }
    }
}

struct Harness {
    ctx: Ctx,
    fake: Arc<FakeEngine>,
    prober: Arc<ScriptedProber>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeEngine::new());
    for i in ["app:1", "app:2", "web:1"] {
        fake.add_image(i);
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let mut settings = Settings::new(dir.path().to_path_buf(), "stest".into());
    settings.tick = Duration::from_millis(50);
    settings.drain = Duration::from_millis(10);
    settings.stop_timeout = Duration::from_millis(100);
    let engine: Arc<dyn Engine> = fake.clone();
    let mut ctx = Ctx::new(store, engine, Arc::new(SystemClock), LoadBalancer::new(LbConfig::default()), settings);
    let prober = Arc::new(ScriptedProber::default());
    ctx.prober = prober.clone();
    let cancel = CancellationToken::new();
    tokio::spawn(sprout_server::controller::supervise(ctx.clone(), cancel.clone()));
    Harness { ctx, fake, prober, cancel, _dir: dir }
}

async fn add_version(h: &Harness, label: &str, image: &str) {
    let now = chrono::Utc::now();
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

async fn create_env(h: &Harness, version: &str, n: u32) {
    let now = chrono::Utc::now();
    h.ctx
        .store
        .create_environment(&EnvironmentRecord {
            app: "shop".into(),
            name: "prod".into(),
            version_label: version.into(),
            last_good_version: None,
            desired_instances: n,
            status: EnvStatus::Launching,
            variables: [("STAGE".to_string(), "prod".to_string())].into(),
            deploy_deadline: Some(now + chrono::Duration::seconds(60)),
            last_error: None,
            options: Default::default(),
            deploy_state: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    h.ctx.kick.notify_waiters();
}

async fn env(h: &Harness) -> Option<EnvironmentRecord> {
    h.ctx.store.get_environment("shop", "prod").await.ok()
}

/// Wait (bounded) until `cond` holds.
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gave up waiting for: {what}");
}

fn instances(fake: &FakeEngine, version: Option<&str>) -> HashSet<String> {
    fake.containers()
        .into_iter()
        .filter(|c| version.is_none_or(|v| c.labels.get("sprout.version").map(String::as_str) == Some(v)))
        .filter_map(|c| c.labels.get("sprout.instance").cloned())
        .collect()
}

async fn ready(h: &Harness, version: &str, n: usize) -> bool {
    let e = env(h).await;
    e.is_some_and(|e| e.status == EnvStatus::Ready && e.version_label == version)
        && instances(&h.fake, None).len() == n
        && h.ctx.lb.table().lookup("prod.shop.localhost").is_some_and(|r| r.upstreams.len() == n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launches_instances_with_labels_links_and_variables_and_routes_them() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("environment Ready with 2 instances in service", || ready(&h, "v1", 2)).await;

    let e = env(&h).await.unwrap();
    assert_eq!(e.last_good_version.as_deref(), Some("v1"));
    let ids = instances(&h.fake, Some("v1"));
    assert_eq!(ids.len(), 2);
    let id = ids.iter().next().unwrap();
    let web = h.fake.container_spec(&format!("sprout-shop-prod-{id}-web")).expect("web container");
    let app = h.fake.container_spec(&format!("sprout-shop-prod-{id}-app")).expect("app container");
    assert!(app.aliases.contains(&"backend".to_string()), "link alias on the target: {:?}", app.aliases);
    assert!(web.env.contains(&("STAGE".to_string(), "prod".to_string())));
    assert_eq!(web.labels.get("sprout.server").map(String::as_str), Some("stest"));
    assert_eq!(web.ports[0].host_ip, "127.0.0.1");
    assert!(web.binds.iter().any(|b| b.target == "/var/log/nginx" && b.source.contains(id.as_str())));
    assert_eq!(app.memory_bytes, Some(64 * 1024 * 1024));
    // The app starts before the web container that links to it.
    let calls = h.fake.calls_matching("start_container");
    let pos = |n: &str| calls.iter().position(|c| c.ends_with(&format!("{id}-{n}"))).unwrap();
    assert!(pos("app") < pos("web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_essential_container_that_exits_gets_its_instance_replaced_a_job_exit_does_not() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 1).await;
    until("Ready", || ready(&h, "v1", 1)).await;
    let first = instances(&h.fake, None).into_iter().next().unwrap();

    h.fake.exit_container(&format!("sprout-shop-prod-{first}-job"), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(instances(&h.fake, None).contains(&first), "a non-essential exit is not a failure");

    h.fake.exit_container(&format!("sprout-shop-prod-{first}-app"), 137);
    until("a replacement in service and the failed instance gone", || async {
        let now = instances(&h.fake, None);
        now.len() == 1 && !now.contains(&first) && ready(&h, "v1", 1).await
    })
    .await;
    let events = h.ctx.store.recent_events("shop", Some("prod"), 100).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "InstanceUnhealthy" && e.message.contains("exited with code 137")), "{events:#?}");
    assert!(h.fake.networks().iter().all(|n| !n.name.contains(&first)), "the failed instance's network is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_replaces_every_instance_and_keeps_serving_meanwhile() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 2).await;
    until("v1 Ready", || ready(&h, "v1", 2)).await;

    let mut e = env(&h).await.unwrap();
    e.version_label = "v2".into();
    e.status = EnvStatus::Updating;
    e.deploy_deadline = Some(chrono::Utc::now() + chrono::Duration::seconds(60));
    h.ctx.store.update_environment(&e).await.unwrap();
    h.ctx.kick.notify_waiters();
    // Throughout the deploy the route never empties.
    for _ in 0..400 {
        let r = h.ctx.lb.table().lookup("prod.shop.localhost").cloned().unwrap();
        assert!(!r.upstreams.is_empty(), "no in-service instance during the deploy");
        if ready(&h, "v2", 2).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready(&h, "v2", 2).await);
    assert!(instances(&h.fake, Some("v1")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_never_passes_health_checks_is_rolled_back() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "bad", "app:2").await;
    create_env(&h, "v1", 1).await;
    until("v1 Ready", || ready(&h, "v1", 1)).await;
    let good = instances(&h.fake, None);
    let good_addr: HashSet<SocketAddr> =
        h.ctx.lb.table().lookup("prod.shop.localhost").unwrap().upstreams.iter().map(|u| u.addr).collect();

    // Every probe fails except the good instance's.
    *h.prober.fail_all.lock().unwrap() = false;
    let mut e = env(&h).await.unwrap();
    e.version_label = "bad".into();
    e.status = EnvStatus::Updating;
    e.deploy_deadline = Some(chrono::Utc::now() + chrono::Duration::milliseconds(800));
    h.ctx.store.update_environment(&e).await.unwrap();
    {
        // New instances will get other addresses: fail everything but the good one.
        let fake = h.fake.clone();
        let prober = h.prober.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                for c in fake.containers() {
                    for p in &c.ports {
                        let a: SocketAddr = format!("127.0.0.1:{}", p.host_port).parse().unwrap();
                        if !good_addr.contains(&a) {
                            prober.failing.lock().unwrap().insert(a);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    h.ctx.kick.notify_waiters();
    until("rolled back to v1 with an error recorded", || async {
        env(&h).await.is_some_and(|e| e.version_label == "v1" && e.last_error.is_some() && e.status == EnvStatus::Ready)
    })
    .await;
    assert_eq!(instances(&h.fake, Some("v1")), good, "the good instance kept serving throughout");
    let err = env(&h).await.unwrap().last_error.unwrap();
    assert!(err.contains("bad"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_removes_everything_and_orphans_are_swept() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("Ready", || ready(&h, "v1", 2)).await;

    let mut e = env(&h).await.unwrap();
    e.status = EnvStatus::Terminating;
    h.ctx.store.update_environment(&e).await.unwrap();
    h.ctx.kick.notify_waiters();
    until("environment gone", || async { env(&h).await.is_none() }).await;
    until("no container or network left", || async { h.fake.containers().is_empty() && h.fake.networks().is_empty() }).await;
    assert!(h.ctx.lb.table().lookup("prod.shop.localhost").is_none(), "the host answers 404 afterwards");

    // An instance of this server for an environment the store does not know is an orphan.
    let mut spec = sprout_engine::ContainerSpec { name: "sprout-shop-gone-i-1-app".into(), image: "app:1".into(), network: "n-orphan".into(), ..Default::default() };
    for (k, v) in [("sprout.server", "stest"), ("sprout.app", "shop"), ("sprout.env", "gone"), ("sprout.instance", "i-1")] {
        spec.labels.insert(k.into(), v.into());
    }
    h.fake.create_network(&sprout_engine::NetworkSpec { name: "n-orphan".into(), labels: Default::default() }).await.unwrap();
    h.fake.create_container(&spec).await.unwrap();
    sprout_server::controller::sweep_orphans(&h.ctx, &Default::default()).await;
    assert!(h.fake.containers().is_empty());
}
