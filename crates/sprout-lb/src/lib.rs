//! Sprout's load balancer: the data plane in front of every environment.
//!
//! It routes each request by host to one of the environment's in-service instances (round-robin),
//! forwards it over pooled keep-alive connections with bodies streamed both ways, and counts what
//! it answered. It serves HTTP/1.1 and HTTP/2 (prior knowledge) on plain TCP.
//!
//! It does not decide which instances are in service, run health checks or drain instances: the
//! control plane does that and publishes a whole new [`RoutingTable`] with
//! [`LoadBalancer::publish`]. The request path reads the table through an `ArcSwap` and takes no
//! lock.

mod error;
mod headers;
mod proxy;
mod routing;
mod server;
mod stats;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use error::{ProxyError, error_response};
pub use proxy::ProxyBody;
pub use routing::{Route, RoutingTable, Upstream, normalize_host};
pub use stats::{LbStats, RouteStats, StatusCounts};

use stats::Counters;

/// How long `serve` lets in-flight requests finish after shutdown is requested.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Idle upstream connections are closed after this; below nginx's 75 s keep-alive so the
/// instance rarely closes a connection we are about to reuse.
const UPSTREAM_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct LbConfig {
    /// Time to open a TCP connection to an instance; past it the attempt counts as refused.
    pub connect_timeout: Duration,
    /// Time from sending a request to receiving the instance's response head (504 past it).
    pub response_timeout: Duration,
    /// Time a client has to send a complete request head (HTTP/1).
    pub client_header_timeout: Duration,
}

impl Default for LbConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            client_header_timeout: Duration::from_secs(10),
        }
    }
}

pub struct LoadBalancer {
    config: LbConfig,
    published: ArcSwap<Published>,
    /// Per-host state that outlives table swaps. Locked only by `publish` and `stats`.
    hosts: Mutex<HashMap<String, HostState>>,
    unrouted: Counters,
    client: Client<HttpConnector, proxy::ReclaimBody>,
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
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(UPSTREAM_POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Arc::new(Self {
            config,
            published: ArcSwap::from_pointee(Published {
                table: Arc::new(RoutingTable::empty()),
                routes: HashMap::new(),
            }),
            hosts: Mutex::new(HashMap::new()),
            unrouted: Counters::default(),
            client,
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
                    .map(|upstream| {
                        state
                            .upstreams
                            .entry(upstream.instance.clone())
                            .or_default()
                            .clone()
                    })
                    .collect();
                let route_state = RouteState {
                    route: route.clone(),
                    next: state.next.clone(),
                    totals: state.totals.clone(),
                    upstreams,
                };
                (host.clone(), route_state)
            })
            .collect();
        self.published.store(Arc::new(Published {
            table: Arc::new(table),
            routes,
        }));
        drop(hosts);
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
        LbStats {
            routes,
            unrouted: self.unrouted.snapshot(),
        }
    }

    fn lock_hosts(&self) -> MutexGuard<'_, HashMap<String, HostState>> {
        // A panic while holding this lock leaves plain counters behind; they are still usable.
        self.hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(host: &str, instances: &[&str]) -> RoutingTable {
        let upstreams = instances
            .iter()
            .map(|instance| Upstream {
                instance: (*instance).to_owned(),
                addr: "127.0.0.1:9".parse().unwrap(),
            })
            .collect();
        let mut table = RoutingTable::empty();
        table.insert(
            host,
            Route {
                app: "app".into(),
                env: "prod".into(),
                upstreams,
            },
        );
        table
    }

    #[test]
    fn round_robin_and_counters_survive_a_publish() {
        let lb = LoadBalancer::new(LbConfig::default());
        lb.publish(table("a.example", &["i-1", "i-2"]));
        let before = lb.published.load_full();
        before.routes["a.example"].upstreams[1].record(http::StatusCode::OK);
        before.routes["a.example"]
            .next
            .fetch_add(7, std::sync::atomic::Ordering::Relaxed);

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
        assert_eq!(
            stats.routes["a.example"].upstreams.len(),
            3,
            "i-1 stays listed"
        );
    }
}
