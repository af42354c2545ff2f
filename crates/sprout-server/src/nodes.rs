//! Watching the nodes of a cluster engine (`--engine swarm`): when a node that was ready goes
//! down, each environment with instances on it gets one `NodeLost` event. A drained node gets
//! none: draining is an operator's plan, and its instances are replaced without an alert (the
//! controller asks `on_drained_nodes` when an instance's essential container stops).
//! The replacing itself is the controllers' (the lost node's containers are dead to them).
//!
//! Not here: placement (`sprout_plan::placement`, in the engine) or the health that follows.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sprout_engine::{EngineError, NodeStatus};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::events::Event;

/// How often the nodes are looked at.
const EVERY: Duration = Duration::from_secs(2);

/// One `NodeLost` to say: (app, env) and the event.
pub type Lost = ((String, String), Event);

/// The nodes that were ready before and are not now, as one event per environment with
/// instances on them (the instances as the earlier listing placed them). Pure.
pub fn lost(before: &[NodeStatus], now: &[NodeStatus]) -> Vec<Lost> {
    let mut out = Vec::new();
    for node in now.iter().filter(|n| n.state != "ready") {
        let Some(was) = before.iter().find(|b| b.id == node.id && b.state == "ready") else { continue };
        let mut by_env: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for i in was.instances.iter().chain(&node.instances) {
            by_env.entry((i.app.clone(), i.env.clone())).or_default().insert(i.id.clone());
        }
        let name = if node.address.is_empty() { node.id.clone() } else { format!("{} ({})", node.address, node.id) };
        for (key, instances) in by_env {
            out.push((key, Event::NodeLost { node: name.clone(), instances: instances.into_iter().collect() }));
        }
    }
    out
}

/// The instances of `app`/`env` placed on nodes that are drained or paused (the operator took
/// them out): their loss is planned, not an alert (`sprout_plan::pass`). Empty on an engine of
/// one machine, or when the nodes cannot be listed (a loss is then said as usual).
pub async fn on_drained_nodes(ctx: &Ctx, app: &str, env: &str) -> BTreeSet<String> {
    let Ok(nodes) = ctx.engine.nodes().await else { return BTreeSet::new() };
    drained(&nodes, app, env)
}

/// Pure part of `on_drained_nodes`.
pub fn drained(nodes: &[NodeStatus], app: &str, env: &str) -> BTreeSet<String> {
    nodes
        .iter()
        .filter(|n| n.availability != "active")
        .flat_map(|n| &n.instances)
        .filter(|i| i.app == app && i.env == env)
        .map(|i| i.id.clone())
        .collect()
}

/// Run until `shutdown`; returns at once when the engine is one machine.
pub async fn watch(ctx: Ctx, shutdown: CancellationToken) {
    let mut before = match ctx.engine.nodes().await {
        Ok(nodes) => nodes,
        Err(EngineError::Permanent { operation: "nodes", .. }) => return,
        Err(_) => Vec::new(),
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        let Ok(now) = ctx.engine.nodes().await else { continue };
        for ((app, env), event) in lost(&before, &now) {
            ctx.emit(&app, Some(&env), event).await;
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use sprout_engine::NodeInstance;

    use super::*;

    fn node(id: &str, state: &str, availability: &str, instances: &[(&str, &str)]) -> NodeStatus {
        NodeStatus {
            id: id.into(),
            address: format!("10.0.0.{}", id.len()),
            state: state.into(),
            availability: availability.into(),
            instances: instances
                .iter()
                .map(|(env, id)| NodeInstance { app: "shop".into(), env: env.to_string(), id: id.to_string() })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_node_going_down_is_one_event_per_environment_on_it_and_only_once() {
        let before = [node("a", "ready", "active", &[("prod", "i-1"), ("prod", "i-2"), ("stage", "i-3")])];
        let now = [node("a", "down", "active", &[("prod", "i-1"), ("prod", "i-2"), ("stage", "i-3")])];
        let events = lost(&before, &now);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].0, ("shop".to_string(), "prod".to_string()));
        assert!(matches!(&events[0].1, Event::NodeLost { instances, .. } if instances == &["i-1", "i-2"]));
        assert!(lost(&now, &now).is_empty(), "down again is not lost again");
    }

    #[test]
    fn a_drained_node_or_one_without_instances_says_nothing() {
        let before = [node("a", "ready", "active", &[("prod", "i-1")]), node("bb", "ready", "active", &[])];
        let now = [node("a", "ready", "drain", &[("prod", "i-1")]), node("bb", "down", "active", &[])];
        assert!(lost(&before, &now).is_empty());
        assert_eq!(drained(&now, "shop", "prod"), BTreeSet::from(["i-1".to_string()]));
        assert!(drained(&now, "shop", "stage").is_empty() && drained(&before, "shop", "prod").is_empty());
    }
}
