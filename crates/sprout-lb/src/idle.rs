//! When a client connection counts as idle: no request has started on it for the idle timeout.
//!
//! HTTP/1's header read timeout already bounds a client that sends nothing, but an HTTP/2
//! connection with no open stream sends only pings and would stay open for ever, holding one of
//! the `max_connections` slots. The connection task closes a connection gracefully once
//! [`Activity::idle`] resolves: HTTP/2 gets a GOAWAY and in-flight streams finish, HTTP/1 finishes
//! the response in progress and closes, so an idle close never cuts an exchange short.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The start of the last request on one connection, shared between its service and its task.
#[derive(Clone)]
pub(crate) struct Activity {
    opened: Instant,
    /// Milliseconds from `opened` to the start of the last request. One relaxed store per
    /// request: the request path pays nothing else for the idle timeout.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self { opened: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }

    /// Records that a request started now.
    pub(crate) fn request_started(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no request has started for `timeout`.
    pub(crate) async fn idle(&self, timeout: Duration) {
        loop {
            let last = self.last_ms.load(Ordering::Relaxed);
            let due = self.opened + Duration::from_millis(last) + timeout;
            tokio::time::sleep_until(due).await;
            if self.last_ms.load(Ordering::Relaxed) == last {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_after_the_timeout_since_the_last_request() {
        let activity = Activity::new();
        let timeout = Duration::from_secs(60);
        let watcher = activity.clone();
        let idle = tokio::spawn(async move { watcher.idle(timeout).await });
        tokio::time::sleep(Duration::from_secs(50)).await;
        activity.request_started();
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert!(!idle.is_finished(), "a request 50 s ago keeps the connection open");
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert!(idle.is_finished(), "60 s after the last request the connection is idle");
    }
}
