//! The routing state the control plane publishes: every environment's in-service instances and
//! hold bounds under each of its host names, rebuilt whole and swapped atomically into the load
//! balancer. Environment controllers set their own entry once per pass; `sprout swap` exchanges
//! two host prefixes in one publish.
//!
//! Not here: deciding who is in service (`sprout_plan::pass`), serving requests (`sprout-lb`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_lb::hold::HoldConfig;
use sprout_lb::{LoadBalancer, Route, RoutingTable, Upstream};
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
    /// Host prefix per environment when it is not the environment's name (after a swap).
    cnames: HashMap<EnvKey, String>,
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

    /// Apply one pass's route change: host prefix, in-service instances and queue bounds
    /// together, in at most one publish (none when nothing changed).
    pub fn publish(&self, app: &str, env: &str, change: RouteChange) {
        let key = key(app, env);
        let mut state = self.state.lock().unwrap();
        let (cname, route) = match change {
            RouteChange::Remove => {
                state.routes.remove(&key);
                state.cnames.remove(&key);
                return self.lb.publish(self.build(&state));
            }
            RouteChange::Refuse => {
                // Terminating: nothing will come into service, so nothing is held either.
                let refuse = HoldConfig { max_requests: 0, max_wait: Duration::ZERO, instance_limit: None };
                (state.cnames.get(&key).cloned(), EnvRoute { upstreams: Vec::new(), hold: Some(refuse) })
            }
            RouteChange::Set { upstreams, queue, cname } => {
                let upstreams = upstreams.into_iter().map(|(instance, addr)| Upstream { instance, addr }).collect();
                (cname, EnvRoute { upstreams, hold: Some(hold_config(&queue)) })
            }
        };
        let cname_changed = match &cname {
            Some(c) => state.cnames.insert(key.clone(), c.clone()).as_ref() != Some(c),
            None => state.cnames.remove(&key).is_some(),
        };
        if !cname_changed && state.routes.get(&key) == Some(&route) {
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

    /// Exchange two environments' host prefixes in one publish: no request sees a table where
    /// both or neither answer a name.
    pub fn swap_cnames(&self, app: &str, a: (&str, &str), b: (&str, &str)) {
        let mut state = self.state.lock().unwrap();
        for (env, cname) in [a, b] {
            if cname == env {
                state.cnames.remove(&key(app, env));
            } else {
                state.cnames.insert(key(app, env), cname.to_string());
            }
        }
        self.lb.publish(self.build(&state));
    }

    fn build(&self, state: &State) -> RoutingTable {
        let mut table = RoutingTable::empty();
        for (id, r) in &state.routes {
            let (app, env) = (&id.app, &id.env);
            let prefix = state.cnames.get(id).map(String::as_str).unwrap_or(env);
            for host in self.settings.hostnames(app, prefix) {
                table.insert(
                    &host,
                    Route { app: app.clone(), env: env.clone(), upstreams: r.upstreams.clone(), hold: r.hold },
                );
            }
        }
        table
    }
}
