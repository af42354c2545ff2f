//! Placement constraints (`placement.constraints`, Swarm's syntax for the node attributes Sprout
//! evaluates itself) and what placement knows of a node.
//!
//! Pure: parsing and matching. Not here: choosing a node (`sprout_plan::placement`).

use std::collections::BTreeMap;

/// What placement needs of one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// Ready to run tasks (Swarm's `ready` state).
    pub ready: bool,
    /// Availability `active` (not `drain` or `pause`).
    pub active: bool,
    pub labels: BTreeMap<String, String>,
    /// Instances of the environment being placed already on the node.
    pub env_instances: usize,
    /// Memory reserved (or limited, where no reservation is set) by every Sprout container on it.
    pub reserved_memory_bytes: u64,
}

/// A constraint Sprout cannot evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "placement constraint '{constraint}' is not understood: write node.labels.KEY==VALUE, node.role==worker, node.hostname==NAME or node.id==ID (or != for each)"
)]
pub struct BadConstraint {
    pub constraint: String,
}

/// One parsed constraint: an attribute, equal or not, a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    attribute: String,
    equal: bool,
    value: String,
}

impl Constraint {
    /// `node.labels.zone==a`, `node.role!=manager`: Swarm's constraint syntax, the node
    /// attributes Sprout evaluates itself.
    pub fn parse(text: &str) -> Result<Constraint, BadConstraint> {
        let bad = || BadConstraint { constraint: text.to_string() };
        let (attribute, value, equal) = match (text.split_once("=="), text.split_once("!=")) {
            (Some((a, v)), None) => (a, v, true),
            (None, Some((a, v))) => (a, v, false),
            _ => return Err(bad()),
        };
        let (attribute, value) = (attribute.trim(), value.trim());
        let known = matches!(attribute, "node.role" | "node.hostname" | "node.id")
            || attribute.strip_prefix("node.labels.").is_some_and(|k| !k.is_empty());
        if !known || value.is_empty() {
            return Err(bad());
        }
        Ok(Constraint { attribute: attribute.to_string(), equal, value: value.to_string() })
    }

    /// Does the node satisfy it? A missing label is unequal to every value.
    pub fn matches(&self, node: &NodeView) -> bool {
        let actual = match self.attribute.as_str() {
            "node.role" => Some(node.role.as_str()),
            "node.hostname" => Some(node.hostname.as_str()),
            "node.id" => Some(node.id.as_str()),
            a => a.strip_prefix("node.labels.").and_then(|k| node.labels.get(k)).map(String::as_str),
        };
        (actual == Some(self.value.as_str())) == self.equal
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.attribute, if self.equal { "==" } else { "!=" }, self.value)
    }
}

/// Parse a `placement.constraints` value: constraints separated by commas or semicolons.
pub fn parse_constraints(text: &str) -> Result<Vec<Constraint>, BadConstraint> {
    text.split([',', ';']).map(str::trim).filter(|c| !c.is_empty()).map(Constraint::parse).collect()
}
