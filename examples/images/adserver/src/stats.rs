//! Counters the ad server keeps since it started: requests, impressions and clicks, in total and
//! by slot. The monitor container polls them through `GET /stats`.
//!
//! Not here: anything persistent; an instance is cattle and its counts die with it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Value, json};

#[derive(Debug, Default)]
struct BySlot {
    impressions: BTreeMap<String, u64>,
    clicks: BTreeMap<String, u64>,
}

#[derive(Debug)]
pub struct Stats {
    started: Instant,
    requests: AtomicU64,
    impressions: AtomicU64,
    clicks: AtomicU64,
    by_slot: Mutex<BySlot>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            impressions: AtomicU64::new(0),
            clicks: AtomicU64::new(0),
            by_slot: Mutex::new(BySlot::default()),
        }
    }

    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn impression(&self, slot: &str) {
        self.impressions.fetch_add(1, Ordering::Relaxed);
        *self.lock().impressions.entry(slot.to_string()).or_default() += 1;
    }

    pub fn click(&self, slot: &str) {
        self.clicks.fetch_add(1, Ordering::Relaxed);
        *self.lock().clicks.entry(slot.to_string()).or_default() += 1;
    }

    /// The `GET /stats` document.
    pub fn snapshot(&self, instance: &str) -> Value {
        let by = self.lock();
        json!({
            "instance": instance,
            "uptime_secs": self.started.elapsed().as_secs(),
            "requests": self.requests.load(Ordering::Relaxed),
            "impressions": self.impressions.load(Ordering::Relaxed),
            "clicks": self.clicks.load(Ordering::Relaxed),
            "impressions_by_slot": by.impressions,
            "clicks_by_slot": by.clicks,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BySlot> {
        // A panicking request thread must not take the counters down with it.
        self.by_slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}
