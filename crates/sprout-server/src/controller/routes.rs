//! Publishing the routing table: every environment's in-service instances under each of its
//! host names, rebuilt whole and swapped atomically into the load balancer.

use sprout_lb::{Route, RoutingTable, Upstream};

use crate::context::Ctx;

/// Set an environment's in-service instances and publish the new table.
pub fn set_in_service(ctx: &Ctx, app: &str, env: &str, upstreams: Vec<Upstream>) {
    let table = {
        let mut routes = ctx.routes.lock().unwrap();
        let key = (app.to_string(), env.to_string());
        if routes.get(&key) == Some(&upstreams) {
            return;
        }
        routes.insert(key, upstreams);
        build(ctx, &routes)
    };
    ctx.lb.publish(table);
}

/// Forget an environment entirely (terminated): its hosts answer 404 afterwards.
pub fn remove_environment(ctx: &Ctx, app: &str, env: &str) {
    let table = {
        let mut routes = ctx.routes.lock().unwrap();
        routes.remove(&(app.to_string(), env.to_string()));
        build(ctx, &routes)
    };
    ctx.lb.publish(table);
}

fn build(ctx: &Ctx, routes: &std::collections::HashMap<crate::context::EnvKey, Vec<Upstream>>) -> RoutingTable {
    let mut table = RoutingTable::empty();
    for ((app, env), ups) in routes {
        for host in ctx.settings.hostnames(app, env) {
            table.insert(&host, Route { app: app.clone(), env: env.clone(), upstreams: ups.clone() });
        }
    }
    table
}
