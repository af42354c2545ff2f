//! Which node of a cluster a new instance goes to: spread over the nodes that may take it (ready,
//! active, matching the environment's `placement.constraints`), the node with the fewest of the
//! environment's instances first, then the one with the least memory reserved, then by id so the
//! choice is stable.
//!
//! Pure: takes the nodes as the engine shows them, returns a node id or why there is none. Not
//! here: asking the engine (`sprout-docker`'s swarm engine) or pinning containers to the node.

pub use sprout_model::placement::{BadConstraint, Constraint, NodeView, parse_constraints};

/// Why no node could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no node can take the instance: {why}")]
pub struct NoNode {
    pub why: String,
}

/// The node for a new instance of an environment, or why there is none.
pub fn choose_node(nodes: &[NodeView], constraints: &[Constraint]) -> Result<String, NoNode> {
    let eligible = nodes.iter().filter(|n| n.ready && n.active && constraints.iter().all(|c| c.matches(n)));
    let best = eligible.min_by(|a, b| {
        (a.env_instances, a.reserved_memory_bytes, &a.id).cmp(&(b.env_instances, b.reserved_memory_bytes, &b.id))
    });
    match best {
        Some(n) => Ok(n.id.clone()),
        None => {
            let usable = nodes.iter().filter(|n| n.ready && n.active).count();
            let why = if nodes.is_empty() {
                "the cluster shows no node".to_string()
            } else if usable == 0 {
                format!("all {} nodes are down, drained or paused", nodes.len())
            } else {
                let list: Vec<String> = constraints.iter().map(|c| c.to_string()).collect();
                format!("none of the {usable} ready, active nodes matches placement.constraints {}", list.join(", "))
            };
            Err(NoNode { why })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn node(id: &str, instances: usize, mib: u64) -> NodeView {
        NodeView {
            id: id.into(),
            hostname: format!("host-{id}"),
            role: "worker".into(),
            ready: true,
            active: true,
            labels: BTreeMap::new(),
            env_instances: instances,
            reserved_memory_bytes: mib << 20,
        }
    }

    #[test]
    fn fewest_of_the_environments_instances_first_then_least_memory_then_id() {
        let nodes = [node("a", 2, 10), node("b", 1, 500), node("c", 1, 100)];
        assert_eq!(choose_node(&nodes, &[]).unwrap(), "c");
        let nodes = [node("b", 0, 0), node("a", 0, 0)];
        assert_eq!(choose_node(&nodes, &[]).unwrap(), "a");
    }

    #[test]
    fn down_drained_and_paused_nodes_get_nothing() {
        let mut down = node("a", 0, 0);
        down.ready = false;
        let mut drained = node("b", 0, 0);
        drained.active = false;
        assert_eq!(choose_node(&[down.clone(), drained.clone(), node("c", 5, 900)], &[]).unwrap(), "c");
        let err = choose_node(&[down, drained], &[]).unwrap_err();
        assert!(err.to_string().contains("all 2 nodes are down, drained or paused"), "{err}");
    }

    #[test]
    fn constraints_on_labels_role_and_hostname_filter_nodes() {
        let mut a = node("a", 0, 0);
        a.labels.insert("zone".into(), "east".into());
        let mut m = node("m", 0, 0);
        m.role = "manager".into();
        let nodes = [a, m, node("z", 0, 0)];
        let pick = |c: &str| choose_node(&nodes, &parse_constraints(c).unwrap());
        assert_eq!(pick("node.labels.zone==east").unwrap(), "a");
        assert_eq!(pick("node.labels.zone!=east, node.role!=worker").unwrap(), "m");
        assert_eq!(pick("node.hostname==host-z").unwrap(), "z");
        let err = pick("node.labels.zone==west").unwrap_err().to_string();
        assert!(err.contains("none of the 3 ready, active nodes matches placement.constraints node.labels.zone==west"));
    }

    #[test]
    fn constraints_outside_the_known_attributes_are_refused_with_the_syntax() {
        for bad in ["zone=east", "engine.labels.x==1", "node.labels.==x", "node.role==", "node.id<5"] {
            let err = parse_constraints(bad).unwrap_err().to_string();
            assert!(err.contains("node.labels.KEY==VALUE"), "{bad}: {err}");
        }
        assert!(parse_constraints("").unwrap().is_empty());
    }
}
