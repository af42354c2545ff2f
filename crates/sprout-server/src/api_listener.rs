//! Serving the API on its listener: HTTP/1.1 only (the CLI, scripts and Prometheus speak it), with
//! a bound on how long a client may take to send a request head, so a client that opens
//! connections and sends half a head cannot hold them (axum's own `serve` sets no such bound).
//! Graceful: at shutdown, requests in flight finish, for at most a drain deadline. Over TLS when
//! given a certificate (`--api-tls-cert`/`--api-tls-key`), so CI can reach it across a network.
//! Connections may be upgraded (`sprout exec` and `sprout run` stream a process's input and
//! output over one: `api::commands`); an upgraded connection is the handler's, and ends with its
//! process.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long a client has to send a complete request head, on a new or a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests in flight may take to finish once shutdown is asked for.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The API's TLS configuration for one certificate chain and key (PEM): aws-lc-rs, TLS 1.3 and
/// 1.2, HTTP/1.1. The pair is checked as uploads are (`certs::check`): an expired certificate or
/// a key that does not match is refused at start, saying so.
pub fn tls_config(chain_pem: &str, key_pem: &str, now: chrono::DateTime<chrono::Utc>) -> Result<TlsAcceptor, String> {
    let checked = crate::certs::check(chain_pem, key_pem, now, sprout_store::CertSource::Upload)
        .map_err(|e| format!("the API's TLS certificate cannot be used: {e}"))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(std::sync::Arc::new(OneCertificate(checked.served.key.clone())));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(std::sync::Arc::new(config)))
}

pub use tokio_rustls::TlsAcceptor;

/// The API's one certificate, whatever name the client asked for (an address has none).
#[derive(Debug)]
struct OneCertificate(std::sync::Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for OneCertificate {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Serves one connection, with upgrades, until it ends; once `shutdown` is cancelled, the
/// request in flight finishes and the connection closes (an idle one at once).
async fn serve_one<IO, S, B>(
    builder: &hyper::server::conn::http1::Builder,
    io: IO,
    service: S,
    shutdown: CancellationToken,
    peer: std::net::SocketAddr,
) where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let ended = tokio::select! {
        r = connection.as_mut() => r,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, "API connection ended: {e}");
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve_api(listener: TcpListener, app: Router, shutdown: CancellationToken, header_timeout: Duration) {
    serve_api_tls(listener, app, None, shutdown, header_timeout).await
}

/// [`serve_api`], over TLS when `tls` is given.
pub async fn serve_api_tls(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
    header_timeout: Duration,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let connections = tokio_util::task::TaskTracker::new();
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
        let service = TowerToHyperService::new(app.clone());
        let (tls, builder, shutdown) = (tls.clone(), builder.clone(), shutdown.clone());
        connections.spawn(async move {
            let Some(tls) = tls else {
                return serve_one(&builder, TokioIo::new(stream), service, shutdown, peer).await;
            };
            // The handshake is bounded like a request head.
            let stream = match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return tracing::debug!(%peer, "API TLS handshake failed: {e}"),
                Err(_) => return tracing::debug!(%peer, "API TLS handshake did not finish in time"),
            };
            serve_one(&builder, TokioIo::new(stream), service, shutdown, peer).await
        });
    }
    drop(listener);
    connections.close();
    tokio::select! {
        () = connections.wait() => {}
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
