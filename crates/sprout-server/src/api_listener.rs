//! Serving the API on its listener: HTTP/1.1 only (the CLI, scripts and Prometheus speak it), with
//! a bound on how long a client may take to send a request head, so a client that opens
//! connections and sends half a head cannot hold them (axum's own `serve` sets no such bound).
//! Graceful: at shutdown, requests in flight finish, for at most a drain deadline.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long a client has to send a complete request head, on a new or a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests in flight may take to finish once shutdown is asked for.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve_api(listener: TcpListener, app: Router, shutdown: CancellationToken, header_timeout: Duration) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("API accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(%peer, "API connection ended: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!("API requests still in flight at the drain deadline"),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_partial_request_head_is_closed_at_the_timeout_and_whole_ones_are_served() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve_api(listener, app, shutdown.clone(), Duration::from_millis(300)));

        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut buf = Vec::new();
        // Closed by the server (bounded wait: the test fails rather than hangs if it is not).
        let read = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a partial head was kept open");

        let mut whole = tokio::net::TcpStream::connect(addr).await.unwrap();
        whole.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        whole.read_to_end(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
        shutdown.cancel();
    }
}
