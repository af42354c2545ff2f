//! The cluster's nodes: what placement weighs (each node's state, availability, labels, the
//! environment's instances on it and the memory Sprout's services reserve there) and what
//! `sprout nodes` shows.
//!
//! Not here: the choice itself (`sprout_plan::placement::choose_node`, pure).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Node, NodeState, Service};
use bollard::query_parameters::{ListNetworksOptions, ListServicesOptions};
use sprout_engine::{EngineError, NetworkSpec, NodeInstance, NodeStatus, Result};
use sprout_model::names::{LABEL_APP, LABEL_ENV, LABEL_INSTANCE, LABEL_MANAGED};
use sprout_plan::placement::{NodeView, choose_node, parse_constraints};

use super::{LABEL_NODE, SwarmEngine, service};
use crate::error::classify;

/// Sprout's instance networks: (labels) of each, as placed.
type Placed = Vec<HashMap<String, String>>;

impl SwarmEngine {
    pub(super) async fn node_map(&self) -> Result<HashMap<String, Node>> {
        let nodes =
            self.docker().list_nodes(None).await.map_err(|e| classify(e, self.target("list_nodes", "node", "")))?;
        Ok(nodes.into_iter().filter_map(|n| Some((n.id.clone()?, n))).collect())
    }

    /// The labels of every placed instance network of Sprout's.
    async fn placed(&self) -> Result<Placed> {
        let filters = HashMap::from([("label".to_string(), vec![LABEL_NODE.to_string(), LABEL_MANAGED.to_string()])]);
        let networks = self
            .docker()
            .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
            .await
            .map_err(|e| classify(e, self.target("list_networks", "network", "")))?;
        Ok(networks.into_iter().filter_map(|n| n.labels).collect())
    }

    /// Memory reserved by Sprout's services on each node (by the node they are pinned to).
    async fn reserved(&self) -> Result<HashMap<String, u64>> {
        let filters = HashMap::from([("label".to_string(), vec![LABEL_MANAGED.to_string()])]);
        let services: Vec<Service> = self
            .docker()
            .list_services(Some(ListServicesOptions { filters: Some(filters), ..Default::default() }))
            .await
            .map_err(|e| classify(e, self.target("list_services", "container", "")))?;
        let mut out: HashMap<String, u64> = HashMap::new();
        for s in &services {
            if let Some(node) = service::pinned_node(s) {
                *out.entry(node).or_default() += service::reserved_memory(s);
            }
        }
        Ok(out)
    }

    /// The node for a new instance network (`spec`'s labels name the environment).
    pub(super) async fn place(&self, spec: &NetworkSpec) -> Result<String> {
        let refuse =
            |message: String| EngineError::Permanent { operation: "create_network", name: spec.name.clone(), message };
        let constraints = parse_constraints(&spec.placement.join(",")).map_err(|e| refuse(e.to_string()))?;
        let nodes = self.node_map().await?;
        let placed = self.placed().await?;
        let reserved = self.reserved().await?;
        let same_env = |l: &HashMap<String, String>| {
            l.get(LABEL_APP) == spec.labels.get(LABEL_APP) && l.get(LABEL_ENV) == spec.labels.get(LABEL_ENV)
        };
        let views: Vec<NodeView> = nodes
            .values()
            .map(|n| NodeView {
                id: n.id.clone().unwrap_or_default(),
                hostname: n.description.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default(),
                role: n.spec.as_ref().and_then(|s| s.role).map(|r| r.to_string()).unwrap_or_default(),
                ready: !service::node_lost(Some(n)),
                active: service::node_active(n),
                labels: n.spec.as_ref().and_then(|s| s.labels.clone()).unwrap_or_default().into_iter().collect(),
                env_instances: placed.iter().filter(|l| same_env(l) && l.get(LABEL_NODE) == n.id.as_ref()).count(),
                reserved_memory_bytes: n.id.as_ref().and_then(|id| reserved.get(id)).copied().unwrap_or(0),
            })
            .collect();
        choose_node(&views, &constraints).map_err(|e| refuse(e.to_string()))
    }

    pub(super) async fn node_statuses(&self) -> Result<Vec<NodeStatus>> {
        let nodes = self.node_map().await?;
        let placed = self.placed().await?;
        let reserved = self.reserved().await?;
        let mut out: Vec<NodeStatus> = nodes
            .values()
            .map(|n| {
                let id = n.id.clone().unwrap_or_default();
                let mut instances: Vec<NodeInstance> = placed
                    .iter()
                    .filter(|l| l.get(LABEL_NODE) == Some(&id))
                    .filter_map(|l| {
                        Some(NodeInstance {
                            app: l.get(LABEL_APP)?.clone(),
                            env: l.get(LABEL_ENV)?.clone(),
                            id: l.get(LABEL_INSTANCE)?.clone(),
                        })
                    })
                    .collect();
                instances.sort();
                let resources = n.description.as_ref().and_then(|d| d.resources.clone()).unwrap_or_default();
                NodeStatus {
                    hostname: n.description.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default(),
                    address: service::node_address(n),
                    role: n.spec.as_ref().and_then(|s| s.role).map(|r| r.to_string()).unwrap_or_default(),
                    state: match n.status.as_ref().and_then(|s| s.state) {
                        Some(NodeState::READY) => "ready",
                        Some(NodeState::DOWN) => "down",
                        Some(NodeState::DISCONNECTED) => "disconnected",
                        _ => "unknown",
                    }
                    .to_string(),
                    availability: n
                        .spec
                        .as_ref()
                        .and_then(|s| s.availability)
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "active".into()),
                    labels: n
                        .spec
                        .as_ref()
                        .and_then(|s| s.labels.clone())
                        .unwrap_or_default()
                        .into_iter()
                        .collect::<BTreeMap<_, _>>(),
                    instances,
                    reserved_memory_bytes: reserved.get(&id).copied().unwrap_or(0),
                    memory_bytes: resources.memory_bytes.unwrap_or(0).max(0) as u64,
                    millicpus: resources.nano_cpus.unwrap_or(0).max(0) as u64 / 1_000_000,
                    id,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.role, &a.address, &a.id).cmp(&(&b.role, &b.address, &b.id)));
        Ok(out)
    }
}
