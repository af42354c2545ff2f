//! Sprout's load balancer: the data plane in front of every environment.
//!
//! It routes each request by host to one of the environment's in-service instances (least
//! outstanding requests by default, round-robin as an option), forwards it over pooled keep-alive
//! connections with bodies streamed both ways, and measures what it answered, per second, per
//! environment and per instance ([`Metrics`]). It serves HTTP/1.1 and HTTP/2 (prior knowledge) on plain TCP.
//!
//! It does not decide which instances are in service, run health checks or drain instances: the
//! control plane does that and publishes a whole new [`RoutingTable`] with
//! [`LoadBalancer::publish`]. The request path reads the table through an `ArcSwap` and takes no
//! lock.

mod balance;
mod direct;
mod error;
mod flight;
mod headers;
pub mod hold;
mod metrics;
mod pool;
mod proxy;
mod routing;
mod server;
mod stats;
mod workers;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;

pub use balance::Balance;
pub use error::{ProxyError, error_response};
pub use metrics::{Histogram, MINUTES_KEPT, Metrics, SECONDS_KEPT, Second, SeriesTotals};
pub use pool::UpstreamError;
pub use proxy::ProxyBody;
pub use routing::{Route, RoutingTable, Upstream, normalize_host};
pub use stats::{LbStats, RouteStats, StatusCounts};

use stats::Counters;

/// How long `serve` lets in-flight requests finish after shutdown is requested.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct LbConfig {
    /// Time to open a TCP connection to an instance; past it the attempt counts as refused.
    pub connect_timeout: Duration,
    /// Time from sending a request to receiving the instance's response head (504 past it).
    pub response_timeout: Duration,
    /// Time a client has to send a complete request head (HTTP/1).
    pub client_header_timeout: Duration,
    /// How requests are spread over an environment's instances.
    pub balance: Balance,
    /// Threads serving client connections, each with its own single-threaded runtime (see
    /// `workers.rs` for why). 0 serves on the runtime that calls `serve`. Default: one per core.
    pub workers: usize,
    /// Requests for an environment without an in-service instance wait this long, this many
    /// at most, for one to appear (see `hold.rs`).
    pub hold: hold::HoldConfig,
}

impl Default for LbConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            client_header_timeout: Duration::from_secs(10),
            balance: Balance::default(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hold: hold::HoldConfig::default(),
        }
    }
}

pub struct LoadBalancer {
    config: LbConfig,
    published: ArcSwap<Published>,
    /// Per-host state that outlives table swaps. Locked only by `publish` and `stats`.
    hosts: Mutex<HashMap<String, HostState>>,
    unrouted: Counters,
    metrics: Metrics,
    /// Keep-alive connections per instance address, shared by every route that reaches it.
    /// Locked only by `publish`; the request path holds its route's `Arc<Pool>`s.
    pools: Mutex<HashMap<std::net::SocketAddr, Arc<pool::Pool>>>,
    /// Bumped on every publish; held requests wait on it.
    generation: tokio::sync::watch::Sender<u64>,
    /// Requests waiting in `hold`, per environment. Locked only by `publish`.
    queues: Mutex<HashMap<(String, String), Arc<hold::Queue>>>,
}

/// A published table together with the request-path handles for each of its routes.
pub(crate) struct Published {
    table: Arc<RoutingTable>,
    routes: HashMap<String, RouteState>,
}

/// What the request path needs for one route: the route and lock-free counters.
pub(crate) struct RouteState {
    route: Arc<Route>,
    next: Arc<AtomicUsize>,
    totals: Arc<Counters>,
    /// One per `route.upstreams` entry, in the same order.
    upstreams: Vec<Arc<Counters>>,
    /// The environment's per-second metrics.
    series: Arc<metrics::Series>,
    /// One per `route.upstreams` entry, in the same order; their in-flight counts drive
    /// least-outstanding balancing.
    upstream_series: Vec<Arc<metrics::Series>>,
    /// One per `route.upstreams` entry, in the same order: its keep-alive connections.
    pools: Vec<Arc<pool::Pool>>,
    /// The environment's requests waiting in `hold`, and the signal that one may go on.
    queue: Arc<hold::Queue>,
}

/// Per-host state kept across table swaps, so round-robin and counters continue after a publish.
struct HostState {
    app: String,
    env: String,
    next: Arc<AtomicUsize>,
    totals: Arc<Counters>,
    upstreams: HashMap<String, Arc<Counters>>,
}

impl LoadBalancer {
    pub fn new(config: LbConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            published: ArcSwap::from_pointee(Published {
                table: Arc::new(RoutingTable::empty()),
                routes: HashMap::new(),
            }),
            hosts: Mutex::new(HashMap::new()),
            unrouted: Counters::default(),
            metrics: Metrics::default(),
            pools: Mutex::new(HashMap::new()),
            generation: tokio::sync::watch::Sender::new(0),
            queues: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &LbConfig {
        &self.config
    }

    /// Swaps in a new table atomically. Requests already routed finish on the instance they
    /// picked; the next request sees the new table.
    pub fn publish(&self, table: RoutingTable) {
        // Holding the lock across the store keeps concurrent publishes in one order, so the
        // table that wins is the one whose host state was built last.
        let mut hosts = self.lock_hosts();
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let routes = table
            .routes
            .iter()
            .map(|(host, route)| {
                let state = hosts.entry(host.clone()).or_insert_with(|| HostState {
                    app: route.app.clone(),
                    env: route.env.clone(),
                    next: Arc::default(),
                    totals: Arc::default(),
                    upstreams: HashMap::new(),
                });
                state.app.clone_from(&route.app);
                state.env.clone_from(&route.env);
                let upstreams = route
                    .upstreams
                    .iter()
                    .map(|upstream| state.upstreams.entry(upstream.instance.clone()).or_default().clone())
                    .collect();
                let upstream_series = route
                    .upstreams
                    .iter()
                    .map(|u| self.metrics.instance_handle(&route.app, &route.env, &u.instance))
                    .collect();
                let route_state = RouteState {
                    route: route.clone(),
                    next: state.next.clone(),
                    totals: state.totals.clone(),
                    upstreams,
                    series: self.metrics.env_handle(&route.app, &route.env),
                    upstream_series,
                    pools: route
                        .upstreams
                        .iter()
                        .map(|u| {
                            pools.entry(u.addr).or_insert_with(|| pool::Pool::new(u.addr, self.config.workers)).clone()
                        })
                        .collect(),
                    queue: queues.entry((route.app.clone(), route.env.clone())).or_default().clone(),
                };
                (host.clone(), route_state)
            })
            .collect();
        // Idle connections to instances no longer routed close now; requests still running on
        // them hold their pool until they end.
        let routed: std::collections::HashSet<_> =
            table.routes.values().flat_map(|route| route.upstreams.iter().map(|u| u.addr)).collect();
        pools.retain(|addr, _| routed.contains(addr));
        // A queue nobody routes to and nobody waits on goes with its environment.
        queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        self.published.store(Arc::new(Published { table: Arc::new(table), routes }));
        drop((pools, queues));
        drop(hosts);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn table(&self) -> Arc<RoutingTable> {
        self.published.load().table.clone()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and lets in-flight requests
    /// finish for up to [`DEFAULT_DRAIN_DEADLINE`].
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<()> {
        server::serve(self, listener, shutdown, DEFAULT_DRAIN_DEADLINE).await
    }

    /// Like [`LoadBalancer::serve`] with a chosen drain deadline.
    pub async fn serve_with_drain_deadline(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
        drain_deadline: Duration,
    ) -> std::io::Result<()> {
        server::serve(self, listener, shutdown, drain_deadline).await
    }

    /// Per-second metrics per environment and instance.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Requests held now (waiting for an instance, or for room on one), per environment.
    pub fn held_requests(&self) -> Vec<((String, String), usize)> {
        let queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = queues.iter().map(|(k, queue)| (k.clone(), queue.len())).collect();
        out.sort();
        out
    }

    /// Counters so far, per route and per instance.
    pub fn stats(&self) -> LbStats {
        let hosts = self.lock_hosts();
        let routes = hosts
            .iter()
            .map(|(host, state)| {
                let stats = RouteStats {
                    app: state.app.clone(),
                    env: state.env.clone(),
                    totals: state.totals.snapshot(),
                    upstreams: state
                        .upstreams
                        .iter()
                        .map(|(instance, counters)| (instance.clone(), counters.snapshot()))
                        .collect(),
                };
                (host.clone(), stats)
            })
            .collect();
        LbStats { routes, unrouted: self.unrouted.snapshot() }
    }

    fn lock_hosts(&self) -> MutexGuard<'_, HashMap<String, HostState>> {
        // A panic while holding this lock leaves plain counters behind; they are still usable.
        self.hosts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(host: &str, instances: &[&str]) -> RoutingTable {
        let upstreams = instances
            .iter()
            .map(|instance| Upstream { instance: (*instance).to_owned(), addr: "127.0.0.1:9".parse().unwrap() })
            .collect();
        let mut table = RoutingTable::empty();
        table.insert(host, Route { app: "app".into(), env: "prod".into(), upstreams, hold: None });
        table
    }

    #[test]
    fn round_robin_and_counters_survive_a_publish() {
        let lb = LoadBalancer::new(LbConfig::default());
        lb.publish(table("a.example", &["i-1", "i-2"]));
        let before = lb.published.load_full();
        before.routes["a.example"].upstreams[1].record(http::StatusCode::OK);
        before.routes["a.example"].next.fetch_add(7, std::sync::atomic::Ordering::Relaxed);

        lb.publish(table("A.example", &["i-2", "i-3"]));
        let after = lb.published.load_full();
        let (old, new) = (&before.routes["a.example"], &after.routes["a.example"]);
        assert!(Arc::ptr_eq(&old.next, &new.next));
        assert!(Arc::ptr_eq(&old.totals, &new.totals));
        // i-2 moved from index 1 to index 0 and kept its counters.
        assert!(Arc::ptr_eq(&old.upstreams[1], &new.upstreams[0]));
        assert_eq!(lb.table().routes["a.example"].upstreams[1].instance, "i-3");

        let stats = lb.stats();
        assert_eq!(stats.routes["a.example"].upstreams["i-2"].status_2xx, 1);
        assert_eq!(stats.routes["a.example"].upstreams.len(), 3, "i-1 stays listed");
    }
}
