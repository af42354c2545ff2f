//! Component tests of the autoscale controller: FakeEngine, an in-memory store, a passing
//! prober and a fake metric stream. Real time (the autoscaler ticks each second); every wait is
//! bounded and nothing asserts on durations.
#![allow(clippy::disallowed_methods)] // component tests still run on the system clock (see docs/architecture.md)

mod common;

use std::sync::Arc;
use std::time::Duration;

use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_model::scaling::{ScalingSettings, ScheduledAction};
use sprout_server::clock::SystemClock;
use sprout_server::controller::autoscale::FixedMetrics;
use sprout_server::probe::Prober;
use sprout_server::{Ctx, Settings};
use sprout_store::{
    Application, CapacityOptions, EnvOptions, EnvStatus, EnvironmentRecord, SqliteStore, Store, VersionRecord,
};
use tokio_util::sync::CancellationToken;

const DEF: &str = r#"{
  "AWSEBDockerrunVersion": 2,
  "containerDefinitions": [
    {"name": "web", "image": "web:1", "essential": true, "memory": 32,
     "portMappings": [{"hostPort": 80, "containerPort": 80}]}
  ]
}"#;

struct Passing;

#[async_trait::async_trait]
impl Prober for Passing {
    async fn probe(&self, _a: std::net::SocketAddr, _p: &str, _t: Duration) -> Result<(), String> {
        Ok(())
    }
}

struct Harness {
    ctx: Ctx,
    fake: Arc<FakeEngine>,
    metrics: Arc<FixedMetrics>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn harness(options: EnvOptions, desired: u32) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeEngine::new());
    fake.add_image("web:1");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let mut settings = Settings::new(dir.path().to_path_buf(), "stest".into());
    settings.tick = Duration::from_millis(50);
    settings.drain = Duration::from_millis(10);
    settings.stop_timeout = Duration::from_millis(100);
    let engine: Arc<dyn Engine> = fake.clone();
    let mut ctx = Ctx::new(store, engine, Arc::new(SystemClock), LoadBalancer::new(LbConfig::default()), settings);
    ctx.prober = Arc::new(Passing);
    let metrics = Arc::new(FixedMetrics::default());
    ctx.metrics = metrics.clone();
    let now = chrono::Utc::now();
    ctx.store.create_application(&Application { name: "shop".into(), created_at: now }).await.unwrap();
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", DEF).unwrap().dockerrun;
    ctx.store
        .create_version(&VersionRecord {
            app: "shop".into(),
            label: "v1".into(),
            description: String::new(),
            bundle_digest: "sha256:v1".into(),
            bundle_path: dir.path().display().to_string(),
            definition: serde_json::to_string(&def).unwrap(),
            created_at: now,
        })
        .await
        .unwrap();
    ctx.store
        .create_environment(&EnvironmentRecord {
            app: "shop".into(),
            name: "prod".into(),
            version_label: "v1".into(),
            last_good_version: None,
            desired_instances: desired,
            status: EnvStatus::Launching,
            variables: Default::default(),
            deploy_deadline: Some(now + chrono::Duration::seconds(60)),
            last_error: None,
            options,
            deploy_state: None,
            created_at: now,
            updated_at: now,
            revision: 0,
        })
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    tokio::spawn(sprout_server::controller::supervise(ctx.clone(), cancel.clone()));
    Harness { ctx, fake, metrics, cancel, _dir: dir }
}

fn instances(fake: &FakeEngine) -> usize {
    fake.containers()
        .into_iter()
        .filter_map(|c| c.labels.get("sprout.instance").cloned())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

async fn env(h: &Harness) -> EnvironmentRecord {
    h.ctx.store.get_environment("shop", "prod").await.unwrap()
}

async fn messages(h: &Harness, kind: &str) -> Vec<String> {
    let list = h.ctx.store.recent_events("shop", Some("prod"), 500).await.unwrap();
    list.into_iter().filter(|e| e.kind == kind).map(|e| e.message).collect()
}

/// Wait (bounded, 30 s: scale-in waits out a stabilisation window) until `cond` holds.
async fn until<F, Fut>(what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    common::until_within(30, what, cond).await
}

fn band(min: u32, max: u32, scaling: ScalingSettings) -> EnvOptions {
    EnvOptions { capacity: CapacityOptions { min: Some(min), max: Some(max) }, scaling, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_above_target_scales_out_then_quiet_scales_in_with_reasons() {
    let scaling =
        ScalingSettings { target_rps: Some(10.0), scale_in_window_s: 3, scale_in_cooldown_s: 0, ..Default::default() };
    let h = harness(band(1, 5, scaling), 1).await;
    until("Ready with 1 instance", || async { env(&h).await.status == EnvStatus::Ready && instances(&h.fake) == 1 })
        .await;

    h.metrics.set_rps("shop", "prod", 42.0);
    until("desired 5 and 5 instances", || async { env(&h).await.desired_instances == 5 && instances(&h.fake) == 5 })
        .await;
    let out = messages(&h, "ScalingDecision").await;
    assert!(
        out.iter().any(|m| m.contains("Scaling out") && m.contains("42 requests/s") && m.contains("desired 1 -> 5")),
        "{out:?}"
    );

    h.metrics.set_rps("shop", "prod", 0.0);
    until("back to 1 instance", || async { env(&h).await.desired_instances == 1 && instances(&h.fake) == 1 }).await;
    let ins = messages(&h, "ScalingDecision").await;
    assert!(ins.iter().any(|m| m.contains("Scaling in") && m.contains("desired 5 -> 1")), "{ins:?}");
    let retired = messages(&h, "InstanceRetired").await;
    assert_eq!(retired.iter().filter(|m| m.contains("scale-in")).count(), 4, "{retired:?}");
    assert!(messages(&h, "InstanceUnhealthy").await.is_empty(), "scale-in is planned, never an alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_waits_while_a_deploy_runs_and_says_so() {
    let h = harness(band(1, 4, ScalingSettings { target_rps: Some(10.0), ..Default::default() }), 1).await;
    until("Ready", || async { env(&h).await.status == EnvStatus::Ready }).await;
    // A deploy that cannot finish (its version is unknown here, so nothing launches): the
    // environment stays Updating for as long as the test looks.
    let deadline = chrono::Utc::now() + chrono::Duration::seconds(60);
    sprout_store::change_environment(&*h.ctx.store, "shop", "prod", |e| {
        e.version_label = "v2-never-uploaded".into();
        e.status = EnvStatus::Updating;
        e.deploy_deadline = Some(deadline);
    })
    .await
    .unwrap();
    h.metrics.set_rps("shop", "prod", 40.0);
    until("a ScalingWaits event", || async { !messages(&h, "ScalingWaits").await.is_empty() }).await;
    // Whatever the reconciler does with Updating, the autoscaler has not touched the count.
    assert!(messages(&h, "ScalingDecision").await.is_empty());
    assert!(messages(&h, "ScalingWaits").await[0].contains("deploy is in progress"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_action_sets_the_band_and_desired_count() {
    let at = chrono::Utc::now() + chrono::Duration::seconds(6);
    let action = ScheduledAction {
        name: "rush".into(),
        recurrence: None,
        time_zone: "Europe/Berlin".into(),
        start: Some(at),
        end: None,
        min: Some(2),
        max: Some(6),
        desired: Some(3),
        suspended: false,
    };
    let h = harness(band(1, 1, ScalingSettings { scheduled_actions: vec![action], ..Default::default() }), 1).await;
    until("3 instances after the action", || async { env(&h).await.desired_instances == 3 && instances(&h.fake) == 3 })
        .await;
    let e = env(&h).await;
    assert_eq!(e.options.capacity, CapacityOptions { min: Some(2), max: Some(6) });
    let fired = messages(&h, "ScheduledActionFired").await;
    assert_eq!(fired.len(), 1, "fires once: {fired:?}");
    assert!(
        fired[0].contains("rush") && fired[0].contains("Europe/Berlin") && fired[0].contains("desired 1 -> 3"),
        "{fired:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_is_acted_on_before_its_first_second_closes() {
    let h = harness(band(1, 5, ScalingSettings { target_rps: Some(10.0), ..Default::default() }), 1).await;
    until("Ready with 1 instance", || async { env(&h).await.status == EnvStatus::Ready && instances(&h.fake) == 1 })
        .await;
    // No closed second shows any load: only the open second does (45 requests so far, over
    // twice the capacity of one instance at 10/s).
    h.metrics.set_open("shop", "prod", 45.0);
    until("desired 5", || async { env(&h).await.desired_instances == 5 }).await;
    let out = messages(&h, "ScalingDecision").await;
    assert!(out.iter().any(|m| m.contains("45 requests in the first") && m.contains("desired 1 -> 5")), "{out:?}");
    until("5 instances", || async { instances(&h.fake) == 5 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_queue_settings_reach_the_load_balancer() {
    let mut scaling = ScalingSettings::default();
    scaling.queue.max_requests = 7;
    scaling.queue.max_wait_ms = 1500;
    let h = harness(band(1, 1, scaling), 1).await;
    let want = Some(sprout_lb::hold::HoldConfig {
        max_requests: 7,
        max_wait: Duration::from_millis(1500),
        instance_limit: None,
    });
    until("the routing table carries the environment's hold bounds", || async {
        let table = h.ctx.lb.table();
        !table.routes.is_empty() && table.routes.values().all(|r| r.env == "prod" && r.hold == want)
    })
    .await;
}

/// Instance ids in the load balancer's table for the environment.
fn routed(h: &Harness) -> std::collections::HashSet<String> {
    h.ctx.lb.table().routes.values().flat_map(|r| r.upstreams.iter().map(|u| u.instance.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_pool_waits_out_of_rotation_and_serves_first_on_scale_out() {
    let scaling = ScalingSettings { target_rps: Some(10.0), warm_pool: 1, ..Default::default() };
    let h = harness(band(1, 5, scaling), 1).await;
    until("1 serving and 1 warm", || async {
        env(&h).await.status == EnvStatus::Ready && instances(&h.fake) == 2 && routed(&h).len() == 1
    })
    .await;
    let warm: Vec<String> = {
        let snaps = h.ctx.snapshots.lock().unwrap();
        let snap = &snaps[&sprout_model::environment::EnvId::new("shop", "prod")];
        snap.instances.iter().filter(|i| !i.in_service).map(|i| i.id.clone()).collect()
    };
    assert_eq!(warm.len(), 1);
    {
        let snaps = h.ctx.snapshots.lock().unwrap();
        let w = snaps[&sprout_model::environment::EnvId::new("shop", "prod")]
            .instances
            .iter()
            .find(|i| i.id == warm[0])
            .unwrap()
            .clone();
        assert!(w.causes.iter().any(|c| c.contains("warm pool")), "{:?}", w.causes);
    }
    assert!(!routed(&h).contains(&warm[0]), "a warm instance takes no traffic");

    h.metrics.set_rps("shop", "prod", 42.0);
    // The warm instance is put in service by the scale-out; the pool is refilled behind it.
    until("the warm instance in service", || async { routed(&h).contains(&warm[0]) }).await;
    until("5 serving and 1 warm again", || async { routed(&h).len() == 5 && instances(&h.fake) == 6 }).await;
}
