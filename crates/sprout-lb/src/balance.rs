//! Choosing an instance for a request: least outstanding requests (the default) or round-robin.
//!
//! Least outstanding requests sends each request to the instance with the fewest requests in
//! flight, so a slow instance gets less work instead of an equal share; ties (the usual case at
//! low load) go round-robin, so idle instances still share evenly. The choice reads one atomic
//! per instance and takes no lock. This module does not count in-flight requests; `metrics` does.

/// How a route's requests are spread over its instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// Fewest requests in flight; ties round-robin.
    #[default]
    LeastOutstanding,
    /// Each instance in turn, whatever its load.
    RoundRobin,
}

/// Picks an index in `0..count`, skipping `exclude` (an instance that just refused a connection)
/// when another exists. `turn` is the route's round-robin counter value for this request;
/// `in_flight(i)` reads instance `i`'s requests in flight.
pub(crate) fn pick(
    balance: Balance,
    count: usize,
    turn: usize,
    exclude: Option<usize>,
    in_flight: impl Fn(usize) -> i64,
) -> usize {
    debug_assert!(count > 0, "a route with no instance answers 503 before picking");
    let candidates =
        (0..count).map(|offset| (turn + offset) % count).filter(|index| Some(*index) != exclude || count == 1);
    match balance {
        Balance::RoundRobin => candidates.into_iter().next().unwrap_or(0),
        // `min_by_key` keeps the first of equal minimums, and candidates start at this turn's
        // instance, so ties rotate.
        Balance::LeastOutstanding => candidates.min_by_key(|index| in_flight(*index)).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_outstanding_prefers_the_least_busy() {
        let load = [3, 0, 2];
        for turn in 0..6 {
            assert_eq!(pick(Balance::LeastOutstanding, 3, turn, None, |i| load[i]), 1);
        }
        // Excluding the idle one leaves the one with 2 in flight.
        assert_eq!(pick(Balance::LeastOutstanding, 3, 0, Some(1), |i| load[i]), 2);
    }

    #[test]
    fn ties_rotate() {
        let picks: Vec<usize> = (0..6).map(|turn| pick(Balance::LeastOutstanding, 3, turn, None, |_| 0)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        let load = [1, 0, 0];
        let picks: Vec<usize> =
            (0..4).map(|turn| pick(Balance::LeastOutstanding, 3, turn, None, |i| load[i])).collect();
        assert_eq!(picks, [1, 1, 2, 1]);
    }

    #[test]
    fn round_robin_ignores_load_and_skips_the_excluded() {
        let load = [9, 0];
        assert_eq!(pick(Balance::RoundRobin, 2, 0, None, |i| load[i]), 0);
        assert_eq!(pick(Balance::RoundRobin, 2, 1, None, |i| load[i]), 1);
        assert_eq!(pick(Balance::RoundRobin, 2, 2, Some(0), |i| load[i]), 1);
        // A single instance is picked even when excluded: there is nothing else.
        assert_eq!(pick(Balance::RoundRobin, 1, 5, Some(0), |_| 0), 0);
    }
}
