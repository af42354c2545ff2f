//! What every controller and API handler shares: the store, the engine, the clock, the load
//! balancer, the server's settings and the latest observed snapshot of each environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_engine::Engine;
use sprout_lb::LoadBalancer;
use sprout_store::Store;
use tokio::sync::Notify;

use crate::clock::Clock;
use sprout_plan::snapshot::EnvSnapshot;

/// Settings that shape the controllers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// This server's id, stamped on every object it creates.
    pub server_id: String,
    /// Extra domain environments answer under, beside `ENV.APP.localhost`.
    pub domain: Option<String>,
    /// The address the load balancer listens on (to print URLs).
    pub http_addr: String,
    /// How long a launched instance may take to pass its first probe.
    pub launch_timeout_s: u64,
    /// How long an instance leaving rotation keeps serving its in-flight requests.
    pub drain: Duration,
    /// SIGTERM to SIGKILL.
    pub stop_timeout: Duration,
    /// Default time a deploy may take before it is rolled back.
    pub deploy_timeout_s: u64,
    pub tick: Duration,
    pub bundle_limit_bytes: u64,
    /// Instance launches running at once across the server (the rest queue, counted as
    /// capacity to come). Default: one per two cores, at least one. Measured on two cores
    /// (docs/scaling.md): one launch at a time brings the first added instance into service
    /// 0.9 s sooner than two at a time, for the same instance-seconds of capacity over four.
    pub launch_concurrency: usize,
}

impl Settings {
    pub fn new(data_dir: PathBuf, server_id: String) -> Self {
        Settings {
            data_dir,
            server_id,
            domain: None,
            http_addr: "127.0.0.1:8080".into(),
            launch_timeout_s: 120,
            drain: Duration::from_secs(2),
            stop_timeout: Duration::from_secs(10),
            deploy_timeout_s: 600,
            tick: Duration::from_secs(1),
            bundle_limit_bytes: 512 * 1024 * 1024,
            launch_concurrency: (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1),
        }
    }
    pub fn bundles_dir(&self) -> PathBuf {
        self.data_dir.join("bundles")
    }
    pub fn instance_dir(&self, app: &str, env: &str, instance: &str) -> PathBuf {
        self.data_dir.join("instances").join(app).join(env).join(instance)
    }
    /// Host names an environment answers to.
    pub fn hostnames(&self, app: &str, env: &str) -> Vec<String> {
        let mut h = vec![format!("{env}.{app}.localhost")];
        if let Some(d) = &self.domain {
            h.push(format!("{env}.{app}.{d}"));
        }
        h
    }
    pub fn url(&self, app: &str, env: &str) -> String {
        let port = self.http_addr.rsplit(':').next().unwrap_or("80");
        format!("http://{env}.{app}.localhost:{port}/")
    }
}

pub type EnvKey = (String, String);

#[derive(Clone)]
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub engine: Arc<dyn Engine>,
    pub clock: Arc<dyn Clock>,
    pub lb: Arc<LoadBalancer>,
    pub prober: Arc<dyn crate::probe::Prober>,
    pub settings: Arc<Settings>,
    pub snapshots: Arc<Mutex<HashMap<EnvKey, EnvSnapshot>>>,
    /// In-service upstreams per environment; the routing table is rebuilt from it.
    pub routes: Arc<Mutex<HashMap<EnvKey, crate::controller::routes::EnvRoute>>>,
    /// Host prefix per environment when it is not the environment's name (after a swap).
    pub cnames: Arc<Mutex<HashMap<EnvKey, String>>>,
    /// Woken when environments come or go (the supervisor) or everything should look again.
    pub kick: Arc<Notify>,
    /// One wake-up per environment: a change to one environment (a request, a launch or probe
    /// that ended) wakes that environment's controller only.
    pub wakers: Arc<Mutex<HashMap<EnvKey, Arc<Notify>>>>,
    /// Per-environment request rates for the autoscaler (the load balancer's, or a fake).
    pub metrics: Arc<dyn crate::controller::autoscale::MetricSource>,
    /// Permits for instance launches (`Settings::launch_concurrency`).
    pub launch_slots: Arc<tokio::sync::Semaphore>,
}

impl Ctx {
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<dyn Engine>,
        clock: Arc<dyn Clock>,
        lb: Arc<LoadBalancer>,
        settings: Settings,
    ) -> Self {
        let metrics = Arc::new(crate::controller::autoscale::LbMetrics::new(lb.clone()));
        Ctx {
            store,
            engine,
            clock,
            lb,
            prober: Arc::new(crate::probe::HttpProber),
            snapshots: Arc::default(),
            routes: Arc::default(),
            cnames: Arc::default(),
            kick: Arc::new(Notify::new()),
            wakers: Arc::default(),
            launch_slots: Arc::new(tokio::sync::Semaphore::new(settings.launch_concurrency)),
            metrics,
            settings: Arc::new(settings),
        }
    }

    /// The wake-up of environment `env` of `app` (created on first use).
    pub fn waker(&self, app: &str, env: &str) -> Arc<Notify> {
        self.wakers.lock().unwrap().entry((app.to_string(), env.to_string())).or_default().clone()
    }

    /// Wake the controller of one environment: it passes at once (a permit is kept if it is
    /// busy, so a change during its pass is never missed).
    pub fn wake(&self, app: &str, env: &str) {
        self.waker(app, env).notify_one();
    }

    /// Record an event; a store failure is logged, never fatal to the controller.
    pub async fn emit(&self, app: &str, env: Option<&str>, event: crate::events::Event) {
        tracing::info!(app, env, kind = event.kind(), "{}", event.message());
        if let Err(e) = self.store.append_event(&crate::events::record(&event, app, env, self.clock.now())).await {
            tracing::warn!("could not record event: {e}");
        }
    }
}
