//! Rules that need the whole file at once: at least one essential container, no start-order
//! cycle among links, volumesFrom and dependsOn, and the (warning-level) web container on
//! host port 80.
//!
//! Not per-field checks: those run while walking, where the field's path is at hand.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ctx::Ctx;
use super::walk::Shared;
use crate::{Dockerrun, WEB_HOST_PORT};

pub(crate) fn check_file(ctx: &mut Ctx, root: &Value, dockerrun: &Dockerrun, shared: &Shared) {
    essential(ctx, root);
    cycles(ctx, shared);
    // With errors the file is not usable yet, and the missing web container is often one of
    // them (a compose `ports` key); the warning would only repeat it.
    let failed = ctx.diags.iter().any(|d| d.severity == crate::Severity::Error);
    if !failed && !dockerrun.container_definitions.is_empty() && dockerrun.web_container().is_none() {
        ctx.warn(
            "containerDefinitions",
            format!("no container maps host port {WEB_HOST_PORT}, so the load balancer has nowhere to send traffic"),
            Some(format!(
                "add {{\"hostPort\": {WEB_HOST_PORT}, \"containerPort\": <port>}} to the web container's portMappings; \
                 the server refuses to deploy a version without one"
            )),
        );
    }
}

/// Read from the raw document so that a container with other errors still counts.
fn essential(ctx: &mut Ctx, root: &Value) {
    let Some(items) = root.get("containerDefinitions").and_then(Value::as_array) else {
        return;
    };
    let objects: Vec<&Value> = items.iter().filter(|c| c.is_object()).collect();
    if !objects.is_empty() && objects.iter().all(|c| c.get("essential") == Some(&Value::Bool(false))) {
        ctx.error_hint(
            "containerDefinitions",
            "no container is essential, so nothing tells Sprout that an instance has failed",
            "set \"essential\": true on the main container (omitting `essential` also means true)",
        );
    }
}

/// Docker starts a container after the ones it links to, takes volumes from or depends on; a
/// cycle can never start. Each cycle is reported once, at the reference that closes it.
fn cycles(ctx: &mut Ctx, shared: &Shared) {
    let mut graph: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (from, to, path) in &shared.edges {
        graph.entry(from).or_default().push((to, path));
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    let mut found: Vec<(Vec<&str>, &str)> = Vec::new();
    // Starting from containers in file order makes the reported cycle read from the first one.
    for (start, _, _) in &shared.edges {
        let mut stack: Vec<&str> = Vec::new();
        visit(start.as_str(), &graph, &mut stack, &mut done, &mut found);
    }
    for (cycle, path) in found {
        let mut key = cycle.clone();
        key.sort_unstable();
        if reported.insert(key) {
            let mut names: Vec<String> = cycle.iter().map(|n| format!("`{n}`")).collect();
            names.push(format!("`{}`", cycle[0]));
            ctx.error_hint(
                path,
                format!("start-order cycle: {}", names.join(" -> ")),
                "links, volumesFrom and dependsOn decide start order; remove one of these references",
            );
        }
    }
}

fn visit<'g>(
    node: &'g str,
    graph: &BTreeMap<&'g str, Vec<(&'g str, &'g str)>>,
    stack: &mut Vec<&'g str>,
    done: &mut BTreeSet<&'g str>,
    found: &mut Vec<(Vec<&'g str>, &'g str)>,
) {
    if done.contains(node) {
        return;
    }
    stack.push(node);
    for &(next, path) in graph.get(node).into_iter().flatten() {
        if let Some(at) = stack.iter().position(|n| *n == next) {
            found.push((stack[at..].to_vec(), path));
        } else {
            visit(next, graph, stack, done, found);
        }
    }
    stack.pop();
    done.insert(node);
}
