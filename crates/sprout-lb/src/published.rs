//! The routing table as the request path holds it once published: for each host, its route
//! together with the lock-free handles a request needs (counters, per-second series, pooled
//! connections, the hold queue), and the per-host state that outlives table swaps so round-robin
//! turns and counters carry on after a publish. `Published::build` makes one from a new table.
//! Not here: the table itself as the control plane writes it (`routing`), swapping it in
//! (`LoadBalancer::publish`), or forwarding (`proxy`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::hold::Queue;
use crate::metrics::{Metrics, Series};
use crate::pool::Pool;
use crate::routing::{Route, RoutingTable};
use crate::stats::Counters;

/// A published table together with the request-path handles for each of its routes.
pub(crate) struct Published {
    pub(crate) table: Arc<RoutingTable>,
    /// Exact hosts.
    pub(crate) routes: HashMap<String, RouteState>,
    /// One-level wildcard routes (`*.ads.example.com`), keyed by what follows `*.`, so a lookup
    /// borrows the request's host and allocates nothing.
    pub(crate) wildcards: HashMap<String, RouteState>,
}

/// What the request path needs for one route: the route and lock-free counters.
pub(crate) struct RouteState {
    pub(crate) route: Arc<Route>,
    pub(crate) next: Arc<AtomicUsize>,
    pub(crate) totals: Arc<Counters>,
    /// One per `route.upstreams` entry, in the same order.
    pub(crate) upstreams: Vec<Arc<Counters>>,
    /// The environment's per-second metrics.
    pub(crate) series: Arc<Series>,
    /// One per `route.upstreams` entry, in the same order; their in-flight counts drive
    /// least-outstanding balancing.
    pub(crate) upstream_series: Vec<Arc<Series>>,
    /// One per `route.upstreams` entry, in the same order: its keep-alive connections.
    pub(crate) pools: Vec<Arc<Pool>>,
    /// The environment's requests waiting in `hold`, and the signal that one may go on.
    pub(crate) queue: Arc<Queue>,
}

/// Per-host state kept across table swaps, so round-robin and counters continue after a publish.
pub(crate) struct HostState {
    pub(crate) app: String,
    pub(crate) env: String,
    pub(crate) next: Arc<AtomicUsize>,
    pub(crate) totals: Arc<Counters>,
    pub(crate) upstreams: HashMap<String, Arc<Counters>>,
}

/// What `Published::build` reuses from earlier tables and prunes: per-host state, connection
/// pools per instance address, and hold queues per environment.
pub(crate) struct Carried<'a> {
    pub(crate) hosts: &'a mut HashMap<String, HostState>,
    pub(crate) pools: &'a mut HashMap<SocketAddr, Arc<Pool>>,
    pub(crate) queues: &'a mut HashMap<(String, String), Arc<Queue>>,
}

impl Published {
    pub(crate) fn empty() -> Self {
        Published { table: Arc::new(RoutingTable::empty()), routes: HashMap::new(), wildcards: HashMap::new() }
    }

    /// The route for a normalised request host: its exact name first, else the wildcard one
    /// level up. A host with an exact route never looks at wildcards.
    #[inline]
    pub(crate) fn find(&self, host: &str) -> Option<&RouteState> {
        if let Some(state) = self.routes.get(host) {
            return Some(state);
        }
        if self.wildcards.is_empty() {
            return None;
        }
        let (first, parent) = host.split_once('.')?;
        if first.is_empty() { None } else { self.wildcards.get(parent) }
    }

    /// The request-path state for `table`, reusing what `carried` holds for hosts, instances
    /// and environments seen before, and dropping what no route reaches any more.
    pub(crate) fn build(table: RoutingTable, carried: Carried<'_>, metrics: &Metrics, workers: usize) -> Self {
        let Carried { hosts, pools, queues } = carried;
        let (wildcards, routes): (HashMap<_, _>, HashMap<_, _>) = table
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
                let upstream_series: Vec<Arc<Series>> = route
                    .upstreams
                    .iter()
                    .map(|u| metrics.instance_handle(&route.app, &route.env, &u.instance))
                    .collect();
                let series = metrics.env_handle(&route.app, &route.env);
                series.set_ignored(route.ignore_5xx);
                for s in &upstream_series {
                    s.set_ignored(route.ignore_5xx);
                }
                let route_state = RouteState {
                    route: route.clone(),
                    next: state.next.clone(),
                    totals: state.totals.clone(),
                    upstreams,
                    series,
                    upstream_series,
                    pools: route
                        .upstreams
                        .iter()
                        .map(|u| pools.entry(u.addr).or_insert_with(|| Pool::new(u.addr, workers)).clone())
                        .collect(),
                    queue: queues.entry((route.app.clone(), route.env.clone())).or_default().clone(),
                };
                (host.clone(), route_state)
            })
            .partition(|(host, _)| host.starts_with("*."));
        let wildcards = wildcards.into_iter().map(|(host, state)| (host[2..].to_string(), state)).collect();
        // Idle connections to instances no longer routed close now; requests still running on
        // them hold their pool until they end.
        let routed: HashSet<_> =
            table.routes.values().flat_map(|route| route.upstreams.iter().map(|u| u.addr)).collect();
        pools.retain(|addr, _| routed.contains(addr));
        // A queue nobody routes to and nobody waits on goes with its environment (the routes
        // just built hold one reference each).
        queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        Published { table: Arc::new(table), routes, wildcards }
    }
}
