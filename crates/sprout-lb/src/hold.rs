//! Holding requests while capacity starts: a request for an environment with no in-service
//! instance waits, in a bounded queue and for a bounded time, for a routing table that gives the
//! environment one, instead of being refused with 503 at once. This is what turns a scale-out
//! from zero, or an environment whose last instance is being replaced, into a short delay
//! rather than errors.
//!
//! The same queue holds requests that find every instance at the environment's per-instance
//! limit of requests in flight (when it has one), until one has room or a new one comes.
//!
//! Off the hot path: only requests that found no instance, or no room, come here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::LoadBalancer;
use crate::published::{Published, RouteState};

/// How many requests may wait, and how long each may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldConfig {
    /// Requests of one environment waiting at once; beyond it, 503 at once.
    pub max_requests: usize,
    /// How long a request waits for an instance before it gets the 503.
    pub max_wait: Duration,
    /// Requests one instance may have in flight; a request that finds every instance at the
    /// limit waits (within the bounds above) for a slot or a new instance. None: no limit.
    pub instance_limit: Option<u32>,
}

impl Default for HoldConfig {
    fn default() -> Self {
        HoldConfig { max_requests: 1024, max_wait: Duration::from_secs(2), instance_limit: None }
    }
}

/// One environment's held requests: how many wait, and the signal that a request of the
/// environment ended (a slot freed) while some wait for one. Kept across table swaps.
#[derive(Default)]
pub(crate) struct Queue {
    held: AtomicUsize,
    freed: Notify,
}

impl Queue {
    /// Requests waiting now.
    pub(crate) fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A request of the environment ended: the next held request may find room. Costs one
    /// load when nobody waits; called only for environments with an instance limit.
    pub(crate) fn slot_freed(&self) {
        if self.len() > 0 {
            self.freed.notify_one();
        }
    }
}

/// Counts a held request while it waits.
struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a request routed by `state` can go to an instance now: the environment has one in
/// service, and, under a per-instance limit, one below it.
pub(crate) fn has_room(state: &RouteState) -> bool {
    !state.route.upstreams.is_empty()
        && state
            .route
            .hold
            .and_then(|h| h.instance_limit)
            .is_none_or(|limit| state.upstream_series.iter().any(|s| s.in_flight() < i64::from(limit)))
}

/// Wait until a published table gives `host` (routed by `state`) an instance with room: any
/// instance at all, and under the instance limit when there is one. That table, or None when
/// the environment's queue is full or the wait ran out.
pub(crate) async fn wait_for_instance(lb: &LoadBalancer, host: &str, state: &RouteState) -> Option<Arc<Published>> {
    let config = state.route.hold.unwrap_or(lb.config.hold);
    if config.max_wait.is_zero() {
        return None;
    }
    // The count is the environment's, kept across publishes, so its bound holds whichever
    // table a waiting request came in on.
    let queue = &*state.queue;
    let held = &queue.held;
    if held.fetch_add(1, Ordering::Relaxed) >= config.max_requests {
        held.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let _held = Held(held);
    if state.route.upstreams.is_empty() {
        // Nothing in service: held requests are demand the control plane must hear now.
        lb.demand.notify_one();
    }
    // Subscribe before looking, so a publish between the look and the wait is not missed.
    let mut changes = lb.generation.subscribe();
    let deadline = tokio::time::Instant::now() + config.max_wait;
    loop {
        // Listen for a freed slot before looking, for the same reason. A request of an
        // environment with an instance limit signals when it ends (`Flight`), one waiter each;
        // a waiter that times out after being signalled passes the signal on (tokio's `Notify`).
        let freed = queue.freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        let published = lb.published.load_full();
        if published.find(host).is_some_and(has_room) {
            return Some(published);
        }
        // A new table may bring an instance; a freed slot (only ever signalled under a limit)
        // may bring room.
        let wake = async {
            tokio::select! {
                () = &mut freed => {}
                _ = changes.changed() => {}
            }
        };
        if tokio::time::timeout_at(deadline, wake).await.is_err() {
            return None;
        }
    }
}
