//! Which routable instances serve and which wait warm: with a warm pool, only the desired
//! count of healthy instances is put in the load balancer, the rest wait out of rotation.
//!
//! Pure: the environment controller gathers the candidates (healthy, reachable, not leaving)
//! and applies the answer. Not here: judging health or building the routing table.

/// An instance that could serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub launched_at: i64,
    /// In the routing table now.
    pub serving: bool,
}

/// Ids to put in service and ids to keep warm, from `candidates`. `cap` is how many may serve
/// (None: all). Those serving now keep serving, so a change of count moves as few instances as
/// possible; among the rest the oldest come first. The order of `in_service` is the order of
/// `candidates`, so the table does not reshuffle from one pass to the next.
pub fn choose_rotation(candidates: &[Candidate], cap: Option<usize>) -> (Vec<String>, Vec<String>) {
    let Some(cap) = cap else {
        return (candidates.iter().map(|c| c.id.clone()).collect(), Vec::new());
    };
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (!candidates[i].serving, candidates[i].launched_at, candidates[i].id.clone()));
    let chosen: std::collections::HashSet<usize> = order.into_iter().take(cap).collect();
    let (mut serve, mut warm) = (Vec::new(), Vec::new());
    for (i, c) in candidates.iter().enumerate() {
        if chosen.contains(&i) { serve.push(c.id.clone()) } else { warm.push(c.id.clone()) }
    }
    (serve, warm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(id: &str, launched_at: i64, serving: bool) -> Candidate {
        Candidate { id: id.into(), launched_at, serving }
    }

    #[test]
    fn without_a_cap_everyone_serves() {
        let all = [c("a", 3, false), c("b", 1, true)];
        assert_eq!(choose_rotation(&all, None), (vec!["a".into(), "b".into()], vec![]));
    }

    #[test]
    fn serving_instances_keep_serving_then_the_oldest() {
        // b serves; a is older than c: with room for two, b and a serve, c waits warm.
        let all = [c("a", 1, false), c("b", 5, true), c("c", 3, false)];
        assert_eq!(choose_rotation(&all, Some(2)), (vec!["a".into(), "b".into()], vec!["c".into()]));
        // Scale-in to one: b stays, whatever its age.
        assert_eq!(choose_rotation(&all, Some(1)), (vec!["b".into()], vec!["a".into(), "c".into()]));
        // Scale-out past the candidates: all serve.
        assert_eq!(choose_rotation(&all, Some(5)).1, Vec::<String>::new());
    }

    proptest! {
        /// Exactly min(cap, n) serve, every candidate lands on one side, and no instance
        /// serving now is made warm while a non-serving one is put in service.
        #[test]
        fn the_cap_is_met_and_serving_ones_are_kept(
            xs in proptest::collection::vec((0i64..20, any::<bool>()), 0..12),
            cap in 0usize..14,
        ) {
            let all: Vec<Candidate> = xs.iter().enumerate().map(|(i, (t, s))| c(&format!("i{i}"), *t, *s)).collect();
            let (serve, warm) = choose_rotation(&all, Some(cap));
            prop_assert_eq!(serve.len(), cap.min(all.len()));
            prop_assert_eq!(serve.len() + warm.len(), all.len());
            let was = |id: &String| all.iter().find(|c| &c.id == id).unwrap().serving;
            if warm.iter().any(was) {
                prop_assert!(serve.iter().all(was), "a serving instance went warm while a new one serves");
            }
        }
    }
}
