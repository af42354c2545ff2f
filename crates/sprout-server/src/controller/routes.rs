//! Publishing the routing table: every environment's in-service instances under each of its
//! host names, rebuilt whole and swapped atomically into the load balancer.

use sprout_lb::hold::HoldConfig;
use sprout_lb::{Route, RoutingTable, Upstream};
use sprout_model::scaling::QueueSettings;

use sprout_plan::pass::RouteChange;

use crate::context::Ctx;

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
        max_wait: std::time::Duration::from_millis(queue.max_wait_ms),
        instance_limit: queue.max_in_flight_per_instance,
    }
}

/// Apply one pass's route change: host prefix, in-service instances and queue bounds together,
/// in at most one publish (none when nothing changed).
pub fn publish(ctx: &Ctx, app: &str, env: &str, change: RouteChange) {
    let key = (app.to_string(), env.to_string());
    let (cname, route) = match change {
        RouteChange::Remove => return remove_environment(ctx, app, env),
        RouteChange::Refuse => {
            // Terminating: nothing will come into service, so nothing is held either.
            let refuse = HoldConfig { max_requests: 0, max_wait: std::time::Duration::ZERO, instance_limit: None };
            (ctx.cnames.lock().unwrap().get(&key).cloned(), EnvRoute { upstreams: Vec::new(), hold: Some(refuse) })
        }
        RouteChange::Set { upstreams, queue, cname } => {
            let upstreams = upstreams.into_iter().map(|(instance, addr)| Upstream { instance, addr }).collect();
            (cname, EnvRoute { upstreams, hold: Some(hold_config(&queue)) })
        }
    };
    let table = {
        let mut routes = ctx.routes.lock().unwrap();
        let mut cnames = ctx.cnames.lock().unwrap();
        let cname_changed = match &cname {
            Some(c) => cnames.insert(key.clone(), c.clone()).as_ref() != Some(c),
            None => cnames.remove(&key).is_some(),
        };
        if !cname_changed && routes.get(&key) == Some(&route) {
            return;
        }
        routes.insert(key, route);
        drop(cnames);
        build(ctx, &routes)
    };
    ctx.lb.publish(table);
}

/// Set an environment's in-service instances (and queue bounds) and publish the new table.
pub fn set_in_service(ctx: &Ctx, app: &str, env: &str, route: EnvRoute) {
    let table = {
        let mut routes = ctx.routes.lock().unwrap();
        let key = (app.to_string(), env.to_string());
        if routes.get(&key) == Some(&route) {
            return;
        }
        routes.insert(key, route);
        build(ctx, &routes)
    };
    ctx.lb.publish(table);
}

/// Forget an environment entirely (terminated): its hosts answer 404 afterwards.
pub fn remove_environment(ctx: &Ctx, app: &str, env: &str) {
    let table = {
        let mut routes = ctx.routes.lock().unwrap();
        routes.remove(&(app.to_string(), env.to_string()));
        ctx.cnames.lock().unwrap().remove(&(app.to_string(), env.to_string()));
        build(ctx, &routes)
    };
    ctx.lb.publish(table);
}

/// Exchange two environments' host prefixes in one publish: no request sees a table where both
/// or neither answer a name.
pub fn swap_cnames(ctx: &Ctx, app: &str, a: (&str, &str), b: (&str, &str)) {
    let table = {
        let mut cnames = ctx.cnames.lock().unwrap();
        for (env, cname) in [a, b] {
            let key = (app.to_string(), env.to_string());
            if cname == env {
                cnames.remove(&key);
            } else {
                cnames.insert(key, cname.to_string());
            }
        }
        drop(cnames);
        build(ctx, &ctx.routes.lock().unwrap())
    };
    ctx.lb.publish(table);
}

fn build(ctx: &Ctx, routes: &std::collections::HashMap<crate::context::EnvKey, EnvRoute>) -> RoutingTable {
    let cnames = ctx.cnames.lock().unwrap();
    let mut table = RoutingTable::empty();
    for ((app, env), r) in routes {
        let prefix = cnames.get(&(app.clone(), env.clone())).map(String::as_str).unwrap_or(env);
        for host in ctx.settings.hostnames(app, prefix) {
            table.insert(
                &host,
                Route { app: app.clone(), env: env.clone(), upstreams: r.upstreams.clone(), hold: r.hold },
            );
        }
    }
    table
}
