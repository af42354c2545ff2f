//! What the console's graphs show beside the load balancer's own request metrics: instances in
//! service and desired, and requests held, one point per second per environment, for the last
//! 15 minutes. The load balancer keeps request figures (`sprout_lb::Metrics`); these are the
//! control plane's, so a sampler task reads them once a second (one store read for every
//! environment, whether or not a page is open: the graphs show the past when a page opens).

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
    map: Mutex<HashMap<EnvKey, VecDeque<(i64, Capacity)>>>,
}

impl History {
    /// Records the second `at` for every environment in `now` (environments not in it are
    /// forgotten).
    pub fn record(&self, at: i64, now: Vec<(EnvKey, Capacity)>) {
        let mut map = self.map.lock().unwrap();
        let mut next = HashMap::with_capacity(now.len());
        for (key, c) in now {
            let mut points = map.remove(&key).unwrap_or_default();
            if points.back().is_none_or(|(t, _)| *t < at) {
                points.push_back((at, c));
            }
            while points.len() > KEPT {
                points.pop_front();
            }
            next.insert(key, points);
        }
        *map = next;
    }

    /// The points of one environment after `after`, oldest first.
    pub fn since(&self, key: &EnvKey, after: i64) -> Vec<(i64, Capacity)> {
        self.map
            .lock()
            .unwrap()
            .get(key)
            .map_or_else(Vec::new, |p| p.iter().filter(|(t, _)| *t > after).copied().collect())
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
        h.record(1000, vec![]);
        assert!(h.since(&a, -1).is_empty());
    }
}
