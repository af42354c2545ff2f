//! Orphans: instances on the engine that carry Sprout's labels but belong to no environment the
//! store knows (left by a terminated environment, a crash, or another data directory).

use std::collections::BTreeSet;

use sprout_model::environment::EnvId;

/// An instance found on the engine, by its labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundInstance {
    pub app: String,
    pub env: String,
    pub instance: String,
}

/// The found instances whose environment is not among `known`. Sorted, deduplicated.
pub fn plan_orphans(known: &BTreeSet<EnvId>, found: &[FoundInstance]) -> Vec<FoundInstance> {
    let mut out: BTreeSet<FoundInstance> = BTreeSet::new();
    for f in found {
        if !known.contains(&EnvId::new(&f.app, &f.env)) {
            out.insert(f.clone());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_environments_are_orphans() {
        let known: BTreeSet<_> = [EnvId::new("shop", "prod")].into();
        let f = |a: &str, e: &str, i: &str| FoundInstance { app: a.into(), env: e.into(), instance: i.into() };
        let found = vec![f("shop", "prod", "i1"), f("shop", "old", "i2"), f("shop", "old", "i2"), f("x", "prod", "i3")];
        assert_eq!(plan_orphans(&known, &found), vec![f("shop", "old", "i2"), f("x", "prod", "i3")]);
    }
}
