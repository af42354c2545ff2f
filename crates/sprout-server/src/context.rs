//! What every controller and API handler shares: the store, the engine, the clock, the load
//! balancer, the server's settings and the latest observed snapshot of each environment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sprout_engine::Engine;
use sprout_lb::LoadBalancer;
use sprout_store::Store;
use tokio::sync::Notify;

use crate::clock::Clock;
use sprout_plan::snapshot::EnvSnapshot;

pub use crate::settings::Settings;

pub use crate::routing::EnvKey;

#[derive(Clone)]
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub engine: Arc<dyn Engine>,
    pub clock: Arc<dyn Clock>,
    pub lb: Arc<LoadBalancer>,
    pub prober: Arc<dyn crate::probe::Prober>,
    pub settings: Arc<Settings>,
    pub snapshots: Arc<Mutex<HashMap<EnvKey, EnvSnapshot>>>,
    /// The routing state this server publishes to its load balancer.
    pub routing: Arc<crate::routing::Routing>,
    /// Woken when environments come or go (the supervisor) or everything should look again.
    pub kick: Arc<Notify>,
    /// One wake-up per environment: a change to one environment (a request, a launch or probe
    /// that ended) wakes that environment's controller only.
    pub wakers: Arc<Mutex<HashMap<EnvKey, Arc<Notify>>>>,
    /// Per-environment request rates for the autoscaler (the load balancer's, or a fake).
    pub metrics: Arc<dyn crate::request_rates::MetricSource>,
    /// Permits for instance launches (`Settings::launch_concurrency`).
    pub launch_slots: Arc<tokio::sync::Semaphore>,
    /// Registry credentials' key, circuits, pulls in flight and mirrors. `Ctx::new` gives a
    /// key that lives as long as the process; `server::start` puts the data directory's.
    pub registries: Arc<crate::registry::Registries>,
    /// Subnets of the instance network pool in use (`Settings::instance_pool`).
    pub networks: Arc<crate::network_pool::NetworkPool>,
    /// The engine's containers and networks, one list shared by every controller.
    pub look: Arc<crate::instance::look::SharedLook>,
    /// Whether the engine's event stream is live (`controller::watch`).
    pub events_live: crate::controller::watch::EventsLive,
    /// The quiet environments, woken when requests come (`controller::watch`).
    pub quiet: crate::controller::watch::Quiet,
    /// Alert memories and the notification sender's wake-up (`notify`).
    pub notifier: Arc<crate::notify::Notifier>,
    /// Held while saved configurations are read, changed and written back: they are stored as
    /// one document per application, so two saves at once would otherwise lose one.
    pub saved_configurations: Arc<tokio::sync::Mutex<()>>,
    /// ACME: settings, account, the certificate controller's wake-up (`acme`).
    pub acme: Arc<crate::acme::Acme>,
}

impl Ctx {
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<dyn Engine>,
        clock: Arc<dyn Clock>,
        lb: Arc<LoadBalancer>,
        settings: Settings,
    ) -> Self {
        let metrics = Arc::new(crate::request_rates::LbMetrics::new(lb.clone()));
        let settings = Arc::new(settings);
        let routing = Arc::new(crate::routing::Routing::new(lb.clone(), settings.clone()));
        Ctx {
            store,
            engine,
            clock,
            lb,
            prober: Arc::new(crate::probe::HttpProber),
            snapshots: Arc::default(),
            routing,
            kick: Arc::new(Notify::new()),
            wakers: Arc::default(),
            launch_slots: Arc::new(tokio::sync::Semaphore::new(settings.launch_concurrency)),
            registries: Arc::new(crate::registry::Registries::new(
                crate::secrets::SecretKey::ephemeral(),
                Default::default(),
            )),
            networks: Arc::new(crate::network_pool::NetworkPool::new(settings.instance_pool)),
            look: Arc::default(),
            events_live: Default::default(),
            quiet: Default::default(),
            notifier: Arc::default(),
            saved_configurations: Arc::default(),
            acme: Arc::default(),
            metrics,
            settings,
        }
    }

    /// The wake-up of environment `env` of `app` (created on first use).
    pub fn waker(&self, app: &str, env: &str) -> Arc<Notify> {
        self.wakers.lock().unwrap().entry(EnvKey::new(app, env)).or_default().clone()
    }

    /// Wake the controller of one environment: it passes at once (a permit is kept if it is
    /// busy, so a change during its pass is never missed).
    pub fn wake(&self, app: &str, env: &str) {
        self.waker(app, env).notify_one();
    }

    /// Record an event, and queue the notifications it makes (`notify`); a store failure is
    /// logged, never fatal to the controller.
    pub async fn emit(&self, app: &str, env: Option<&str>, event: crate::events::Event) {
        tracing::info!(app, env, kind = event.kind(), "{}", event.message());
        if let Err(e) = self.store.append_event(&crate::events::record(&event, app, env, self.clock.now())).await {
            tracing::warn!("could not record event: {e}");
        }
        if let Some(env) = env {
            crate::notify::on_event(self, app, env, &event).await;
        }
    }
}
