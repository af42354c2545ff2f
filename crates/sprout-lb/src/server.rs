//! Accepting client connections: HTTP/1.1 and HTTP/2 (prior knowledge) on one port, with a
//! header read timeout, an idle timeout (`idle.rs`), and a graceful drain when shutdown is
//! requested.
//!
//! Each request is handed to `proxy`; this module knows nothing about routes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::idle::Activity;
use crate::{LoadBalancer, proxy};

/// Pause after a failed accept: errors like EMFILE repeat at once if retried in a tight loop.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// The bytes every HTTP/2 prior-knowledge connection opens with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How often to look again at a connection that has sent only part of the HTTP/2 preface.
const PREFACE_POLL: Duration = Duration::from_millis(10);

/// What the load balancer listens on: plain HTTP, HTTPS (with its TLS acceptor), or both. Both
/// deal their connections to the same workers, so an HTTPS request is served as a plain one is.
pub(crate) struct Listeners {
    pub(crate) plain: Option<TcpListener>,
    pub(crate) tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
}

/// One accepted client connection: the slot it holds while served, and its TLS acceptor when it
/// came to the HTTPS listener (the handshake runs in its own task, on its worker).
pub(crate) struct Accepted {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) slot: OwnedSemaphorePermit,
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

pub(crate) async fn serve(
    lb: Arc<LoadBalancer>,
    listeners: Listeners,
    shutdown: CancellationToken,
    drain_deadline: Duration,
) -> std::io::Result<()> {
    let clock = {
        let (lb, shutdown) = (lb.clone(), shutdown.clone());
        tokio::spawn(async move { crate::metrics::run_clock(lb.metrics(), shutdown).await })
    };
    let slots = Arc::new(Semaphore::new(lb.config.max_connections.max(1)));
    let served = match lb.config.workers {
        0 => serve_here(lb, listeners, &slots, shutdown, drain_deadline).await,
        n => crate::workers::serve_on_workers(lb, listeners, &slots, shutdown, drain_deadline, n).await,
    };
    clock.abort();
    served
}

/// Accepts and serves every connection on the caller's runtime.
async fn serve_here(
    lb: Arc<LoadBalancer>,
    listeners: Listeners,
    slots: &Arc<Semaphore>,
    shutdown: CancellationToken,
    drain_deadline: Duration,
) -> std::io::Result<()> {
    let connections = Connections::new(&lb);
    while let Some(accepted) = accept(&listeners, slots, &shutdown).await {
        connections.serve_accepted(accepted);
    }
    drop(listeners);
    connections.drain(drain_deadline).await;
    Ok(())
}

/// The next client connection on either listener with the slot it holds while served, or None
/// once shutdown is requested. With every slot taken it waits for one before accepting.
pub(crate) async fn accept(
    listeners: &Listeners,
    slots: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Option<Accepted> {
    let slot = tokio::select! {
        () = shutdown.cancelled() => return None,
        slot = slots.clone().acquire_owned() => slot.ok()?,
    };
    let never = || std::future::pending::<std::io::Result<(TcpStream, SocketAddr)>>();
    loop {
        let (accepted, tls) = tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = async {
                match &listeners.plain {
                    Some(l) => l.accept().await,
                    None => never().await,
                }
            } => (accepted, None),
            accepted = async {
                match &listeners.tls {
                    Some((l, _)) => l.accept().await,
                    None => never().await,
                }
            } => (accepted, listeners.tls.as_ref().map(|(_, acceptor)| acceptor.clone())),
        };
        match accepted {
            Ok((stream, peer)) => return Some(Accepted { stream, peer, slot, tls }),
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
}

/// Serves client connections on the current runtime and drains them at shutdown.
pub(crate) struct Connections {
    lb: Arc<LoadBalancer>,
    builder: auto::Builder<TokioExecutor>,
    /// Cancelled when the load balancer drains: every connection then closes gracefully.
    closing: CancellationToken,
    tasks: TaskTracker,
}

impl Connections {
    pub(crate) fn new(lb: &Arc<LoadBalancer>) -> Self {
        let builder = client_builder(lb);
        Self { lb: lb.clone(), builder, closing: CancellationToken::new(), tasks: TaskTracker::new() }
    }
}

/// How client connections are served: HTTP/1.1 with a header read timeout, and HTTP/2.
pub(crate) fn client_builder(lb: &LoadBalancer) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(lb.config.client_header_timeout)
        // A client may send its request and close its writing side at once (`curl -T`,
        // scripts, `nc -N`); it still expects the answer. Without this hyper takes the early
        // EOF for an abandoned request whenever it arrives before the answer is ready, which
        // on worker threads (connections handed over after their bytes arrived) is always.
        .half_close(true)
        .writev(false)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    builder
}

impl Connections {
    /// Serves an accepted connection, plain or TLS, in its own task on the current runtime.
    pub(crate) fn serve_accepted(&self, accepted: Accepted) {
        let Accepted { stream, peer, slot, tls } = accepted;
        match tls {
            None => self.serve(stream, peer, slot),
            Some(acceptor) => crate::tls::serve_tls_connection(self, stream, peer, slot, acceptor),
        }
    }

    /// Serves one client connection in its own task on the current runtime.
    pub(crate) fn serve(&self, stream: TcpStream, peer: SocketAddr, slot: OwnedSemaphorePermit) {
        // Small responses (errors, redirects) should not wait on Nagle.
        let _ = stream.set_nodelay(true);
        let header_timeout = self.lb.config.client_header_timeout;
        let client_ip = self.client_addr(peer);
        let run = self.runner(peer, client_ip);
        self.tasks.spawn(async move {
            // Held for as long as the connection is served.
            let _slot = slot;
            if !protocol_known_in_time(&stream, header_timeout).await {
                tracing::debug!(%peer, "client sent no usable request head in time");
                return;
            }
            run.serve(stream).await;
        });
    }

    /// The client as requests of its connection name it.
    pub(crate) fn client_addr(&self, peer: SocketAddr) -> crate::headers::ClientAddr {
        // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`; instances expect
        // `a.b.c.d`. Rendered once here rather than on every request of the connection.
        let ip = peer.ip().to_canonical();
        let trusted = self.lb.config.trusted_proxies.iter().any(|net| net.contains(&ip));
        crate::headers::ClientAddr::new(ip, trusted)
    }

    /// What serving one connection needs, once its first bytes (or TLS handshake) are in.
    pub(crate) fn runner(&self, peer: SocketAddr, client_ip: crate::headers::ClientAddr) -> Runner {
        Runner { lb: self.lb.clone(), builder: self.builder.clone(), closing: self.closing.clone(), peer, client_ip }
    }

    /// Spawns a connection's task on the tracker drained at shutdown.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// How long a TLS client has for its handshake: as long as for a request head.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.lb.config.client_header_timeout
    }

    /// Cancelled when the load balancer drains.
    pub(crate) fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Lets in-flight requests finish, for at most `drain_deadline`.
    pub(crate) async fn drain(self, drain_deadline: Duration) {
        self.closing.cancel();
        self.tasks.close();
        tokio::select! {
            () = self.tasks.wait() => tracing::debug!("all client connections drained"),
            () = tokio::time::sleep(drain_deadline) => {
                tracing::warn!(?drain_deadline, "drain deadline passed with requests still in flight");
            }
        }
    }
}

/// One client connection ready to serve: HTTP/1.1 or HTTP/2 over any byte stream (TCP, TLS),
/// with the idle timeout and the graceful close at drain.
pub(crate) struct Runner {
    lb: Arc<LoadBalancer>,
    builder: auto::Builder<TokioExecutor>,
    closing: CancellationToken,
    peer: SocketAddr,
    client_ip: crate::headers::ClientAddr,
}

impl Runner {
    /// The same connection, come over TLS for `sni`.
    pub(crate) fn over_tls(mut self, sni: Option<Arc<str>>) -> Self {
        self.client_ip.https = true;
        self.client_ip.sni = sni;
        self
    }

    pub(crate) async fn serve<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Runner { lb, builder, closing, peer, client_ip } = self;
        let idle_timeout = lb.config.client_idle_timeout;
        let activity = Activity::new();
        let service = {
            let activity = activity.clone();
            service_fn(move |req| {
                activity.request_started();
                let (lb, client_ip, activity) = (lb.clone(), client_ip.clone(), activity.clone());
                async move { Ok::<_, Infallible>(proxy::handle(&lb, req, &client_ip, Some(&activity)).await) }
            })
        };
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        let mut connection = std::pin::pin!(connection);
        let mut asked_to_close = false;
        let ended = loop {
            tokio::select! {
                ended = connection.as_mut() => break ended,
                () = closing.cancelled(), if !asked_to_close => {}
                () = activity.idle(idle_timeout), if !asked_to_close => {
                    tracing::debug!(%peer, "closing an idle client connection");
                }
            }
            // Graceful either way: in-flight requests finish, then the connection closes.
            connection.as_mut().graceful_shutdown();
            asked_to_close = true;
        };
        // Clients that send garbage or vanish end up here; that is their problem, not ours.
        if let Err(err) = ended {
            tracing::debug!(%peer, error = %err, "client connection ended with an error");
        }
    }
}

/// Waits until the first bytes tell HTTP/1 from HTTP/2, for at most `timeout`.
///
/// hyper-util's auto builder reads the version without any timeout, so a client that sends
/// `PRI * HTTP/2.0` and stops would hold the connection forever; HTTP/1's header read timeout only
/// starts once the auto builder has chosen HTTP/1. Peeking leaves the bytes for hyper to read.
/// Returns false when the client closed or stalled.
async fn protocol_known_in_time(stream: &TcpStream, timeout: Duration) -> bool {
    let sniff = async {
        let mut buf = [0u8; H2_PREFACE.len()];
        loop {
            let n = stream.peek(&mut buf).await?;
            if n == 0 {
                return Ok(false);
            }
            if n == H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] {
                return Ok(true);
            }
            // Peek returns at once while bytes are buffered, so wait before looking again. Real
            // HTTP/2 clients send the whole preface in one segment and never get here.
            tokio::time::sleep(PREFACE_POLL).await;
        }
    };
    matches!(tokio::time::timeout(timeout, sniff).await, Ok(Ok::<_, std::io::Error>(true)))
}
