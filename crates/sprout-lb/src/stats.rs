//! Request counters per route and per instance, and the plain snapshot [`LbStats`] read from them.
//!
//! Counters are atomics handed to the request path when a table is published, so counting takes
//! no lock. They are kept by host (and by instance within a host) across table swaps, so a deploy
//! that republishes the table does not reset anyone's numbers. This is not a metrics exporter;
//! the control plane reads snapshots and exports what it wants.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

/// Live counters for one route, one instance, or the requests no route answered.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    status_1xx: AtomicU64,
    status_2xx: AtomicU64,
    status_3xx: AtomicU64,
    status_4xx: AtomicU64,
    status_5xx: AtomicU64,
    connect_failures: AtomicU64,
}

impl Counters {
    /// Counts one answered request by its status class.
    pub(crate) fn record(&self, status: StatusCode) {
        // Relaxed: these are independent tallies, nobody orders other memory by them.
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = match status.as_u16() {
            100..=199 => &self.status_1xx,
            200..=299 => &self.status_2xx,
            300..=399 => &self.status_3xx,
            400..=499 => &self.status_4xx,
            _ => &self.status_5xx,
        };
        class.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed connection attempt, whether or not a retry then saved the request.
    pub(crate) fn record_connect_failure(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatusCounts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatusCounts {
            requests: load(&self.requests),
            status_1xx: load(&self.status_1xx),
            status_2xx: load(&self.status_2xx),
            status_3xx: load(&self.status_3xx),
            status_4xx: load(&self.status_4xx),
            status_5xx: load(&self.status_5xx),
            connect_failures: load(&self.connect_failures),
        }
    }
}

/// Requests answered so far, by status class.
///
/// `requests` counts answers (one per client request for a route; one per attempt that got an
/// answer or a final error for an instance). `connect_failures` counts attempts that never
/// reached the instance, including those a retry on another instance then saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub requests: u64,
    /// Switching protocols (WebSocket upgrades).
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub connect_failures: u64,
}

/// Counters for one host's route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteStats {
    pub app: String,
    pub env: String,
    /// Every request for the host, including those the load balancer answered itself (503, 502).
    pub totals: StatusCounts,
    /// Instance id to its counters. Instances stay listed after they leave the table.
    pub upstreams: BTreeMap<String, StatusCounts>,
}

/// A snapshot of every counter since the load balancer started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LbStats {
    /// Host to its route's counters. Hosts stay listed after they leave the table.
    pub routes: BTreeMap<String, RouteStats>,
    /// Requests no route answered: unknown host (404) or no host at all (400).
    pub unrouted: StatusCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_counts_by_class() {
        let counters = Counters::default();
        for status in [101, 200, 204, 301, 404, 431, 502, 504] {
            counters.record(StatusCode::from_u16(status).unwrap());
        }
        counters.record_connect_failure();
        let snapshot = counters.snapshot();
        assert_eq!(
            snapshot,
            StatusCounts {
                requests: 8,
                status_1xx: 1,
                status_2xx: 2,
                status_3xx: 1,
                status_4xx: 2,
                status_5xx: 2,
                connect_failures: 1,
            }
        );
    }
}
