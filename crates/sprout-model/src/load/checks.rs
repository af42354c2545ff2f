//! Rules that need the whole file at once: at least one essential container, no start-order
//! cycle among links, volumesFrom and dependsOn, and the (warning-level) web container on
//! host port 80.
//!
//! Not per-field checks: those run while walking, where the field's path is at hand.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::ctx::Ctx;
use super::walk::Shared;
use crate::{Dockerrun, WEB_HOST_PORT};

pub(crate) fn check_file(ctx: &mut Ctx, root: &Value, dockerrun: &Dockerrun, shared: &Shared) {
    essential(ctx, root);
    cycles(ctx, shared);
    // With errors the file is not usable yet, and the missing web container is often one of
    // them (a compose `ports` key); the warning would only repeat it.
    let failed = ctx.failed();
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
    // Starting from containers in file order makes the reported cycle read from the first one.
    for (cycle, path) in find_cycles(&shared.edges) {
        let mut names: Vec<String> = cycle.iter().map(|n| format!("`{n}`")).collect();
        names.push(format!("`{}`", cycle[0]));
        ctx.error_hint(
            path,
            format!("start-order cycle: {}", names.join(" -> ")),
            "links, volumesFrom and dependsOn decide start order; remove one of these references",
        );
    }
}

/// Every distinct cycle among `edges` (from, to, path), each with the path of the edge that
/// closes it. A depth-first search with an explicit stack: the chain of references is the
/// user's to make as long as they like, and a recursive walk would overflow the thread's stack.
fn find_cycles(edges: &[(String, String, String)]) -> Vec<(Vec<&str>, &str)> {
    let mut graph: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (from, to, path) in edges {
        graph.entry(from).or_default().push((to, path));
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    let mut found: Vec<(Vec<&str>, &str)> = Vec::new();
    // The current path from the start: each node with the index of its next edge to follow,
    // and where each node sits on it.
    let mut stack: Vec<(&str, usize)> = Vec::new();
    let mut on_stack: HashMap<&str, usize> = HashMap::new();
    for (start, _, _) in edges {
        if done.contains(start.as_str()) {
            continue;
        }
        stack.push((start, 0));
        on_stack.insert(start, 0);
        while let Some((node, next_edge)) = stack.last_mut() {
            let node = *node;
            let Some(&(next, path)) = graph.get(node).and_then(|out| out.get(*next_edge)) else {
                stack.pop();
                on_stack.remove(node);
                done.insert(node);
                continue;
            };
            *next_edge += 1;
            if let Some(&at) = on_stack.get(next) {
                let cycle: Vec<&str> = stack[at..].iter().map(|(n, _)| *n).collect();
                let mut key = cycle.clone();
                key.sort_unstable();
                if reported.insert(key) {
                    found.push((cycle, path));
                }
            } else if !done.contains(next) {
                on_stack.insert(next, stack.len());
                stack.push((next, 0));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: usize, to: usize) -> (String, String, String) {
        (format!("c{from}"), format!("c{to}"), format!("containerDefinitions[{from}].dependsOn[0]"))
    }

    #[test]
    fn finds_each_cycle_once_from_the_first_container() {
        let edges = vec![edge(0, 1), edge(1, 2), edge(2, 0), edge(2, 3), edge(3, 3), edge(1, 0)];
        let found = find_cycles(&edges);
        let names: Vec<Vec<&str>> = found.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(names, vec![vec!["c0", "c1", "c2"], vec!["c3"], vec!["c0", "c1"]]);
        assert_eq!(found[0].1, "containerDefinitions[2].dependsOn[0]");
    }

    /// Issue 11: a recursive search overflowed the stack on a chain this long. Test threads run
    /// on a 2 MiB stack unless `RUST_MIN_STACK` says otherwise; this one always does.
    #[test]
    fn a_30000_long_chain_is_searched_without_recursion() {
        let n = 30_000;
        let found = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut edges: Vec<_> = (0..n - 1).map(|i| edge(i, i + 1)).collect();
                edges.push(edge(n - 1, 0));
                find_cycles(&edges).into_iter().map(|(c, p)| (c.len(), p.to_string())).collect::<Vec<_>>()
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(found, vec![(n, format!("containerDefinitions[{}].dependsOn[0]", n - 1))]);
    }
}
