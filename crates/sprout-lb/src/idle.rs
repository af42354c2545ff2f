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

use tokio::sync::Notify;
use tokio::time::Instant;

/// The start of the last request on one connection, and the idle timeout of the environment it
/// last asked for, shared between its service and its task.
#[derive(Clone)]
pub(crate) struct Activity {
    opened: Instant,
    shared: Arc<Shared>,
}

struct Shared {
    /// Milliseconds from `opened` to the start of the last request. One relaxed store per
    /// request: the request path pays nothing else for the idle timeout.
    last_ms: AtomicU64,
    /// The idle timeout of the environment the last request was routed to, in milliseconds;
    /// 0: the listener's own. Written only when it changes (a load per request otherwise).
    route_timeout_ms: AtomicU64,
    /// Wakes the idle watch when `route_timeout_ms` changes, so a shorter timeout is kept to.
    changed: Notify,
}

impl Activity {
    pub(crate) fn new() -> Self {
        let shared = Shared { last_ms: AtomicU64::new(0), route_timeout_ms: AtomicU64::new(0), changed: Notify::new() };
        Self { opened: Instant::now(), shared: Arc::new(shared) }
    }

    /// Records that a request started now.
    pub(crate) fn request_started(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.shared.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Records the idle timeout of the environment a request was routed to (None: the
    /// listener's). An HTTP/1 connection serves one host in practice, so this changes once.
    pub(crate) fn routed(&self, timeout: Option<Duration>) {
        let ms = timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        if self.shared.route_timeout_ms.load(Ordering::Relaxed) != ms {
            self.shared.route_timeout_ms.store(ms, Ordering::Relaxed);
            self.shared.changed.notify_one();
        }
    }

    /// Resolves once no request has started for the timeout: the routed environment's, else
    /// `default`.
    pub(crate) async fn idle(&self, default: Duration) {
        loop {
            let last = self.shared.last_ms.load(Ordering::Relaxed);
            let route_ms = self.shared.route_timeout_ms.load(Ordering::Relaxed);
            let timeout = if route_ms == 0 { default } else { Duration::from_millis(route_ms) };
            let due = self.opened + Duration::from_millis(last) + timeout;
            tokio::select! {
                () = tokio::time::sleep_until(due) => {
                    if self.shared.last_ms.load(Ordering::Relaxed) == last
                        && self.shared.route_timeout_ms.load(Ordering::Relaxed) == route_ms
                    {
                        return;
                    }
                }
                () = self.shared.changed.notified() => {}
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

    #[tokio::test(start_paused = true)]
    async fn the_routed_environments_timeout_wins_shorter_or_longer() {
        let activity = Activity::new();
        let watcher = activity.clone();
        let idle = tokio::spawn(async move { watcher.idle(Duration::from_secs(60)).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        activity.request_started();
        activity.routed(Some(Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!idle.is_finished(), "4 s after the request, under the environment's 5 s");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(idle.is_finished(), "closed at the environment's 5 s, not the listener's 60 s");

        let activity = Activity::new();
        let watcher = activity.clone();
        let idle = tokio::spawn(async move { watcher.idle(Duration::from_secs(60)).await });
        activity.request_started();
        activity.routed(Some(Duration::from_secs(300)));
        tokio::time::sleep(Duration::from_secs(200)).await;
        assert!(!idle.is_finished(), "kept past the listener's 60 s for an environment that asks 300 s");
        tokio::time::sleep(Duration::from_secs(101)).await;
        assert!(idle.is_finished());
    }
}
