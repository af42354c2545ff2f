//! What the console's graphs show beside the load balancer's own request metrics: instances in
//! service and desired, and requests held, one point per second per environment, for the last
//! 15 minutes. The load balancer keeps request figures (`sprout_lb::Metrics`); these are the
//! control plane's, so a sampler task reads them once a second (one store read for every
//! environment, whether or not a page is open: the graphs show the past when a page opens).
//!
//! Capacity changes seldom, so only changes are kept (with the span of seconds recorded) and
//! read back one point per second: 900 points for each of hundreds of environments was memory
//! spent on repeating one value.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};

/// Points kept per environment (15 minutes).
pub const KEPT: usize = 900;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub in_service: u32,
    pub desired: u32,
    pub held: u32,
}

#[derive(Default)]
pub struct History {
    map: Mutex<HashMap<EnvKey, Points>>,
}

/// One environment's recorded seconds: the first and last, and the capacity from each change
/// on (the first entry is in effect from `first` or earlier).
#[derive(Debug, Default)]
struct Points {
    first: i64,
    last: i64,
    changes: VecDeque<(i64, Capacity)>,
}

impl Points {
    fn record(&mut self, at: i64, c: Capacity) {
        if self.changes.is_empty() {
            self.first = at;
        } else if at <= self.last {
            return;
        }
        self.last = at;
        if self.changes.back().is_none_or(|(_, last)| *last != c) {
            self.changes.push_back((at, c));
        }
        // A change older than the window is needed only while no later one is at or before
        // the window's start.
        let start = at - KEPT as i64 + 1;
        self.first = self.first.max(start);
        while self.changes.get(1).is_some_and(|(t, _)| *t <= start) {
            self.changes.pop_front();
        }
    }

    fn since(&self, after: i64) -> Vec<(i64, Capacity)> {
        let mut out = Vec::new();
        let mut changes = self.changes.iter().peekable();
        let mut current = None;
        for t in (after + 1).max(self.first)..=self.last {
            while let Some((_, c)) = changes.next_if(|(at, _)| *at <= t) {
                current = Some(*c);
            }
            if let Some(c) = current {
                out.push((t, c));
            }
        }
        out
    }
}

impl History {
    /// Records the second `at` for every environment in `now` (environments not in it are
    /// forgotten).
    pub fn record(&self, at: i64, now: Vec<(EnvKey, Capacity)>) {
        let mut map = self.map.lock().unwrap();
        let mut next = HashMap::with_capacity(now.len());
        for (key, c) in now {
            let mut points = map.remove(&key).unwrap_or_default();
            points.record(at, c);
            next.insert(key, points);
        }
        *map = next;
    }

    /// The points of one environment after `after`, oldest first.
    pub fn since(&self, key: &EnvKey, after: i64) -> Vec<(i64, Capacity)> {
        self.map.lock().unwrap().get(key).map_or_else(Vec::new, |p| p.since(after))
    }
}

/// The capacity of every environment now: desired from the store, in service from the
/// controllers' snapshots, held requests from the load balancer.
pub async fn sample(ctx: &Ctx) -> Result<Vec<(EnvKey, Capacity)>, String> {
    let envs = ctx.store.list_environments(None).await.map_err(|e| e.to_string())?;
    let held: HashMap<(String, String), usize> = ctx.lb.held_requests().into_iter().collect();
    let snaps = ctx.snapshots.lock().unwrap();
    Ok(envs
        .iter()
        .map(|e| {
            let key = e.id();
            let in_service = snaps.get(&key).map_or(0, |s| s.instances.iter().filter(|i| i.in_service).count() as u32);
            let held = held.get(&(e.app.clone(), e.name.clone())).copied().unwrap_or(0) as u32;
            (key, Capacity { in_service, desired: e.desired_instances, held })
        })
        .collect())
}

/// Samples once a second until `shutdown`.
pub async fn run(history: std::sync::Arc<History>, ctx: Ctx, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match sample(&ctx).await {
            Ok(now) => history.record(ctx.clock.now().timestamp(), now),
            Err(e) => tracing::debug!("console history: cannot read environments: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_fifteen_minutes_and_forgets_gone_environments() {
        let h = History::default();
        let a = EnvKey::new("a", "prod");
        let c = Capacity { in_service: 1, desired: 2, held: 0 };
        for t in 0..1000 {
            h.record(t, vec![(a.clone(), c)]);
        }
        let all = h.since(&a, -1);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0].0, 100);
        assert_eq!(h.since(&a, 995).len(), 4);
        // Changes read back where they happened, each second once.
        let d = Capacity { desired: 3, ..c };
        h.record(1000, vec![(a.clone(), d)]);
        h.record(1001, vec![(a.clone(), c)]);
        assert_eq!(h.since(&a, 998), [(999, c), (1000, d), (1001, c)]);
        assert_eq!(h.since(&a, -1).len(), KEPT);
        assert_eq!(h.map.lock().unwrap()[&a].changes.len(), 3);
        h.record(1001 + KEPT as i64, vec![(a.clone(), c)]);
        assert_eq!(h.map.lock().unwrap()[&a].changes.len(), 1, "changes out of the window are dropped");
        assert!(h.since(&a, -1).iter().all(|(_, p)| *p == c));
        h.record(5000, vec![]);
        assert!(h.since(&a, -1).is_empty());
    }
}
