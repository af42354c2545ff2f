//! Instances being launched, in the background: a launch takes seconds (containers created and
//! started in waves), and the controller keeps ticking meanwhile, so the first instance ready
//! is probed and put in service without waiting for the others of its batch.
//!
//! While launching, an instance counts as capacity to come (Pending) and is neither judged (its
//! containers are half created) nor retired (its launch task owns it until it ends).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One launch in flight.
#[derive(Debug, Clone)]
pub struct Launching {
    /// The planner's deploy key (version and properties) of the instance.
    pub key: String,
    pub launched_at: i64,
}

/// Launches in flight and launches that failed since the last look.
#[derive(Debug, Clone, Default)]
pub struct Launches {
    inflight: Arc<Mutex<HashMap<String, Launching>>>,
    failed: Arc<Mutex<Vec<(String, String)>>>,
}

impl Launches {
    pub fn begin(&self, id: &str, launching: Launching) {
        self.inflight.lock().unwrap().insert(id.to_string(), launching);
    }

    /// A launch ended, with the error when it failed (the launch cleaned up after itself).
    pub fn end(&self, id: &str, error: Option<String>) {
        self.inflight.lock().unwrap().remove(id);
        if let Some(e) = error {
            self.failed.lock().unwrap().push((id.to_string(), e));
        }
    }

    pub fn snapshot(&self) -> HashMap<String, Launching> {
        self.inflight.lock().unwrap().clone()
    }

    pub fn is_empty(&self) -> bool {
        self.inflight.lock().unwrap().is_empty()
    }

    /// The launches that failed since the last call: (instance, error).
    pub fn take_failures(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.failed.lock().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_inflight_and_counts_failures_once() {
        let l = Launches::default();
        l.begin("i-1", Launching { key: "v1".into(), launched_at: 5 });
        l.begin("i-2", Launching { key: "v1".into(), launched_at: 5 });
        assert_eq!(l.snapshot().len(), 2);
        l.end("i-1", None);
        l.end("i-2", Some("boom".into()));
        assert!(l.is_empty());
        assert_eq!(l.take_failures(), vec![("i-2".to_string(), "boom".to_string())]);
        assert!(l.take_failures().is_empty());
    }
}
