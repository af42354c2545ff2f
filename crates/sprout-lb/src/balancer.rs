//! The load balancer as the control plane holds it: create it, publish routing tables to it,
//! serve on a listener, and read its counters, metrics and held requests. Publishing swaps the
//! request path's state in one atomic store. Not here: what a published table holds per route
//! (`published`), forwarding a request (`proxy`), accepting connections (`server`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::{DEFAULT_DRAIN_DEADLINE, LbConfig};
use crate::hold::Queue;
use crate::metrics::Metrics;
use crate::pool::Pool;
use crate::published::{Carried, HostState, Published};
use crate::routing::RoutingTable;
use crate::server;
use crate::stats::{Counters, LbStats, RouteStats};

/// The load balancer: its settings, the published routing table and what outlives table swaps.
pub struct LoadBalancer {
    pub(crate) config: LbConfig,
    pub(crate) published: ArcSwap<Published>,
    /// Per-host state that outlives table swaps. Locked only by `publish` and `stats`.
    hosts: Mutex<HashMap<String, HostState>>,
    pub(crate) unrouted: Counters,
    metrics: Metrics,
    /// Keep-alive connections per instance address, shared by every route that reaches it.
    /// Locked only by `publish`; the request path holds its route's `Arc<Pool>`s.
    pools: Mutex<HashMap<std::net::SocketAddr, Arc<Pool>>>,
    /// Bumped on every publish; held requests wait on it.
    pub(crate) generation: tokio::sync::watch::Sender<u64>,
    /// Requests waiting in `hold`, per environment. Locked only by `publish`.
    queues: Mutex<HashMap<(String, String), Arc<Queue>>>,
    /// Signalled when a request starts waiting for an environment with no instance in service
    /// (scaled to zero, or its last instance being replaced): the control plane orders one at
    /// once rather than at its next look (`LoadBalancer::demand`).
    pub(crate) demand: tokio::sync::Notify,
    /// The certificates the HTTPS listener serves (`tls`).
    pub(crate) certificates: crate::tls::Certificates,
    /// ACME HTTP-01 challenges answered on the plain-HTTP listener (`tls`).
    pub(crate) challenges: crate::tls::Challenges,
}

impl LoadBalancer {
    pub fn new(config: LbConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            published: ArcSwap::from_pointee(Published::empty()),
            hosts: Mutex::new(HashMap::new()),
            unrouted: Counters::default(),
            metrics: Metrics::default(),
            pools: Mutex::new(HashMap::new()),
            generation: tokio::sync::watch::Sender::new(0),
            queues: Mutex::new(HashMap::new()),
            demand: tokio::sync::Notify::new(),
            certificates: crate::tls::Certificates::default(),
            challenges: crate::tls::Challenges::default(),
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
        let carried = Carried { hosts: &mut hosts, pools: &mut pools, queues: &mut queues };
        let published = Published::build(table, carried, &self.metrics, self.config.workers);
        self.published.store(Arc::new(published));
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
        let listeners = server::Listeners { plain: Some(listener), tls: None };
        server::serve(self, listeners, shutdown, DEFAULT_DRAIN_DEADLINE).await
    }

    /// Like [`LoadBalancer::serve`] with a chosen drain deadline.
    pub async fn serve_with_drain_deadline(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
        drain_deadline: Duration,
    ) -> std::io::Result<()> {
        let listeners = server::Listeners { plain: Some(listener), tls: None };
        server::serve(self, listeners, shutdown, drain_deadline).await
    }

    /// Serves plain HTTP on `http` and HTTPS on `https` (either may be absent) until `shutdown`
    /// is cancelled, then drains like [`LoadBalancer::serve`]. Both listeners deal connections
    /// to the same workers and route through the same table.
    pub async fn serve_listeners(
        self: Arc<Self>,
        http: Option<tokio::net::TcpListener>,
        https: Option<tokio::net::TcpListener>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<()> {
        let tls = match https {
            Some(listener) => Some((listener, crate::tls::acceptor(&self)?)),
            None => None,
        };
        let listeners = server::Listeners { plain: http, tls };
        server::serve(self, listeners, shutdown, DEFAULT_DRAIN_DEADLINE).await
    }

    /// The certificates the HTTPS listener serves; publish a new set with
    /// [`Certificates::publish`](crate::Certificates::publish).
    pub fn certificates(&self) -> &crate::tls::Certificates {
        &self.certificates
    }

    /// The ACME HTTP-01 challenges answered on the plain-HTTP listener.
    pub fn challenges(&self) -> &crate::tls::Challenges {
        &self.challenges
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

    /// Resolves when a request has started waiting for an environment with no instance in
    /// service since the last call; `held_requests` then says which. A signal given while
    /// nobody waits is kept for the next call, so none is lost.
    pub async fn demand(&self) {
        self.demand.notified().await;
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
    use crate::routing::{Route, Upstream};

    fn table(host: &str, instances: &[&str]) -> RoutingTable {
        let upstreams = instances
            .iter()
            .map(|instance| Upstream { instance: (*instance).to_owned(), addr: "127.0.0.1:9".parse().unwrap() })
            .collect();
        let mut table = RoutingTable::empty();
        table.insert(
            host,
            Route {
                app: "app".into(),
                env: "prod".into(),
                upstreams,
                hold: None,
                balance: None,
                https: Default::default(),
                idle_timeout: None,
                ignore_5xx: Default::default(),
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
