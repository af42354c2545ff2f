//! The routing state the control plane publishes: every environment's in-service instances and
//! hold bounds under each of its host names, rebuilt whole and swapped atomically into the load
//! balancer, custom domains (`sprout domains`) included. Environment controllers set their own
//! entry once per pass; `sprout swap` exchanges two environments' names in one publish.
//!
//! Not here: deciding who is in service (`sprout_plan::pass`), serving requests (`sprout-lb`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_lb::hold::HoldConfig;
use sprout_lb::{HttpsPolicy, LoadBalancer, Route, RoutingTable, Upstream};
use sprout_model::options::RoutingOptions;
use sprout_model::scaling::QueueSettings;
use sprout_plan::pass::RouteChange;

use crate::settings::Settings;

/// An environment's identity, the key of every per-environment map.
pub use sprout_model::environment::EnvId as EnvKey;

/// What the load balancer needs of one environment: its in-service instances, and how many
/// requests it may hold, how long, while it has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvRoute {
    pub upstreams: Vec<Upstream>,
    pub hold: Option<HoldConfig>,
    /// The environment's balancing (`loadbalancer.algorithm`); None: the load balancer's.
    pub balance: Option<sprout_lb::Balance>,
    /// The environment's `loadbalancer.idle_timeout`; None: the listener's.
    pub idle_timeout: Option<Duration>,
    /// The environment's `health.ignore_codes`.
    pub ignore_5xx: sprout_lb::Ignored5xx,
}

/// An environment's `loadbalancer.algorithm` as the load balancer's balancing.
pub fn balance_of(algorithm: sprout_model::options::Algorithm) -> sprout_lb::Balance {
    match algorithm {
        sprout_model::options::Algorithm::LeastOutstandingRequests => sprout_lb::Balance::LeastOutstanding,
        sprout_model::options::Algorithm::RoundRobin => sprout_lb::Balance::RoundRobin,
    }
}

/// The environment's queue settings as the load balancer's hold bounds.
pub fn hold_config(queue: &QueueSettings) -> HoldConfig {
    HoldConfig {
        max_requests: queue.max_requests as usize,
        max_wait: Duration::from_millis(queue.max_wait_ms),
        instance_limit: queue.max_in_flight_per_instance,
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<EnvKey, EnvRoute>,
    /// The names each environment answers to: its host prefix when it is not the environment's
    /// name (after a swap) and its custom domains. Absent: only its own name.
    names: HashMap<EnvKey, RoutingOptions>,
}

/// The published routing state of this server.
pub struct Routing {
    lb: Arc<LoadBalancer>,
    settings: Arc<Settings>,
    state: Mutex<State>,
}

fn key(app: &str, env: &str) -> EnvKey {
    EnvKey::new(app, env)
}

impl Routing {
    pub fn new(lb: Arc<LoadBalancer>, settings: Arc<Settings>) -> Self {
        Routing { lb, settings, state: Mutex::default() }
    }

    /// The instances of an environment in the table now.
    pub fn serving(&self, app: &str, env: &str) -> BTreeSet<String> {
        let state = self.state.lock().unwrap();
        state
            .routes
            .get(&key(app, env))
            .map(|r| r.upstreams.iter().map(|u| u.instance.clone()).collect())
            .unwrap_or_default()
    }

    /// Apply one pass's route change: names, in-service instances and queue bounds together, in
    /// at most one publish (none when nothing changed).
    pub fn publish(&self, app: &str, env: &str, change: RouteChange) {
        let key = key(app, env);
        let mut state = self.state.lock().unwrap();
        let (names, route) = match change {
            RouteChange::Remove => {
                // A worker says so every pass: publish only when something was there.
                let had_route = state.routes.remove(&key).is_some();
                if state.names.remove(&key).is_some() || had_route {
                    self.lb.publish(self.build(&state));
                }
                return;
            }
            RouteChange::Refuse => {
                // Terminating: nothing will come into service, so nothing is held either.
                let refuse = HoldConfig { max_requests: 0, max_wait: Duration::ZERO, instance_limit: None };
                (
                    state.names.get(&key).cloned(),
                    EnvRoute { upstreams: Vec::new(), hold: Some(refuse), ..EnvRoute::default() },
                )
            }
            RouteChange::Set { upstreams, queue, routing, load_balancer, ignore_codes } => {
                let upstreams = upstreams.into_iter().map(|(instance, addr)| Upstream { instance, addr }).collect();
                (
                    Some(routing).filter(|r| *r != RoutingOptions::default()),
                    EnvRoute {
                        upstreams,
                        hold: Some(hold_config(&queue)),
                        balance: Some(balance_of(load_balancer.algorithm)),
                        idle_timeout: load_balancer.idle_timeout_s.map(Duration::from_secs),
                        ignore_5xx: sprout_lb::Ignored5xx::from_codes(&ignore_codes),
                    },
                )
            }
        };
        let names_changed = match names {
            Some(n) => state.names.insert(key.clone(), n.clone()).as_ref() != Some(&n),
            None => state.names.remove(&key).is_some(),
        };
        if !names_changed && state.routes.get(&key) == Some(&route) {
            return;
        }
        state.routes.insert(key, route);
        self.lb.publish(self.build(&state));
    }

    /// Set an environment's in-service instances (and queue bounds) and publish the new table.
    pub fn set_in_service(&self, app: &str, env: &str, route: EnvRoute) {
        let mut state = self.state.lock().unwrap();
        if state.routes.get(&key(app, env)) == Some(&route) {
            return;
        }
        state.routes.insert(key(app, env), route);
        self.lb.publish(self.build(&state));
    }

    /// Set the names of one or more environments of `app` in one publish: a swap passes both,
    /// so no request sees a table where both or neither answer a name; a domain change passes
    /// one, so it serves at once rather than at the environment's next pass.
    pub fn set_names(&self, app: &str, changes: &[(&str, &RoutingOptions)]) {
        let mut state = self.state.lock().unwrap();
        for (env, routing) in changes {
            let routing = RoutingOptions { cname: routing.cname.clone().filter(|c| c != env), ..(*routing).clone() };
            if routing == RoutingOptions::default() {
                state.names.remove(&key(app, env));
            } else {
                state.names.insert(key(app, env), routing);
            }
        }
        self.lb.publish(self.build(&state));
    }

    fn build(&self, state: &State) -> RoutingTable {
        let mut table = RoutingTable::empty();
        for (id, r) in &state.routes {
            let (app, env) = (&id.app, &id.env);
            let names = state.names.get(id);
            let prefix = names.and_then(|n| n.cname.as_deref()).unwrap_or(env);
            let domains = names.map(|n| n.domains.clone()).unwrap_or_default();
            let https = HttpsPolicy {
                redirect: names.is_some_and(|n| n.https_redirect),
                hsts_max_age: names.and_then(|n| n.hsts_max_age),
            };
            for host in self.settings.hostnames(app, prefix).into_iter().chain(domains) {
                table.insert(
                    &host,
                    Route {
                        app: app.clone(),
                        env: env.clone(),
                        upstreams: r.upstreams.clone(),
                        hold: r.hold,
                        balance: r.balance,
                        https,
                        idle_timeout: r.idle_timeout,
                        ignore_5xx: r.ignore_5xx,
                    },
                );
            }
        }
        table
    }
}
