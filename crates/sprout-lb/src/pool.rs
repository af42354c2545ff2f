//! Keep-alive HTTP/1.1 connections to instances: one small pool per instance address.
//!
//! This replaces hyper-util's legacy pooled client on the request path. Measured on the 2-core
//! benchmark machine (`scripts/bench lb`), the legacy client cost a pool lookup keyed by a
//! formatted authority, a boxed connector future and one spawned task per request just to put a
//! connection back once its response body ended. Here a connection goes back when its response
//! body ends (see [`PooledBody`]), the pool is a short `Mutex<Vec<_>>` held by the route (found at
//! publish time, never looked up per request), and the request body is sent as is, unboxed.
//!
//! Idle connections older than the idle timeout are dropped when next looked at, and an
//! instance's pool goes (closing its idle connections) when the instance leaves every route.
//!
//! This module does not choose the instance, time the response or retry on another instance;
//! `proxy` does. It only retries the one case that is always safe: a pooled connection the
//! instance had already closed handed the request back unsent, so it goes out on a new connection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::direct::DirectConn;

/// Idle connections kept per instance; more than this are closed when they come back. The
/// benchmark's 64 client connections need at most 64 upstream ones.
const MAX_IDLE: usize = 256;

/// How long a pooled connection that has not yet settled after its last exchange may take to
/// become ready; normally it needs one poll of its task, microseconds.
const FINISHING_WAIT: Duration = Duration::from_millis(5);

/// A direct connection idle for less than this is reused for a safe request without probing.
const UNPROBED_REUSE: Duration = Duration::from_secs(1);

/// Response head buffer; hyper's default grows from 8 KiB, which small answers never need.
const READ_BUF_EXACT: usize = 16 * 1024;

/// Why an instance could not be reached or did not answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No TCP connection within the connect timeout, or the instance refused it. Nothing of the
    /// request was sent, so another instance may take it.
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed after the connection was open.
    #[error(transparent)]
    Http(#[from] hyper::Error),
    /// The same, on the direct path (`direct.rs`).
    #[error(transparent)]
    Direct(#[from] crate::direct::DirectError),
}

/// One instance's idle connections, most recently used last, in one shard per worker thread.
///
/// A connection's driving task lives on the worker that opened it; handing it to a request on
/// another worker would turn every exchange into a cross-thread wake-up (an eventfd write), which
/// showed in the profile. So each worker reuses only its own connections; threads that are not
/// workers (`LbConfig::workers` = 0) share shard 0.
pub(crate) struct Pool {
    addr: SocketAddr,
    shards: Box<[Mutex<Vec<Idle>>]>,
    /// Idle connections of the direct path, sharded the same way.
    direct: Box<[Mutex<Vec<DirectIdle>>]>,
}

struct DirectIdle {
    conn: DirectConn,
    since: Instant,
}

thread_local! {
    /// This thread's shard: 0, or 1 + the worker's index (set by `workers`).
    static SHARD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Makes the current thread use shard `1 + worker` of every pool.
pub(crate) fn set_worker(worker: usize) {
    SHARD.set(worker + 1);
}

struct Idle {
    sender: SendRequest<Incoming>,
    since: Instant,
}

impl Pool {
    /// A pool for `addr` with room for `workers` worker threads.
    pub(crate) fn new(addr: SocketAddr, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            addr,
            shards: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(),
            direct: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    fn idle_direct(&self) -> MutexGuard<'_, Vec<DirectIdle>> {
        let shard = &self.direct[SHARD.get() % self.direct.len()];
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for the direct path, and whether it was reused (a reused one may turn out
    /// to have been closed by the instance just now).
    ///
    /// For a request that is `safe` to repeat, a connection used within the last second is
    /// taken without probing it: the probe costs a `recv` system call per request, and if the
    /// instance did hang up, the request goes out again on a new connection (see `proxy`).
    pub(crate) async fn checkout_direct(
        &self,
        connect_timeout: Duration,
        idle_timeout: Duration,
        safe: bool,
    ) -> Result<(DirectConn, bool), UpstreamError> {
        {
            let mut idle = self.idle_direct();
            while let Some(entry) = idle.pop() {
                let idle_for = entry.since.elapsed();
                let fresh = safe && idle_for < UNPROBED_REUSE;
                if idle_for < idle_timeout && (fresh || entry.conn.looks_alive()) {
                    return Ok((entry.conn, true));
                }
            }
        }
        Ok((DirectConn::new(self.open(connect_timeout).await?), false))
    }

    /// Puts a direct connection whose exchange ended cleanly back for the next request.
    pub(crate) fn checkin_direct(&self, conn: DirectConn) {
        let mut idle = self.idle_direct();
        if idle.len() < MAX_IDLE {
            idle.push(DirectIdle { conn, since: Instant::now() });
        }
    }

    /// A new connection for the direct path.
    pub(crate) async fn connect_direct(&self, connect_timeout: Duration) -> Result<DirectConn, UpstreamError> {
        Ok(DirectConn::new(self.open(connect_timeout).await?))
    }

    /// A new TCP connection to the instance, within the connect timeout.
    async fn open(&self, connect_timeout: Duration) -> Result<TcpStream, UpstreamError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
            Err(_elapsed) => {
                let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
                return Err(UpstreamError::Connect { addr, source });
            }
        };
        // Requests and answers are small and latency bound; Nagle would hold them back.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// This thread's idle connections. The lock is uncontended in practice: only this worker
    /// takes it, except `publish` dropping the pool.
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        let shard = &self.shards[SHARD.get() % self.shards.len()];
        // Only senders live behind this lock; a panic elsewhere leaves them usable.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection ready for a request: the most recently used idle one, else a new one.
    pub(crate) async fn checkout(
        self: &Arc<Self>,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> Result<SendRequest<Incoming>, UpstreamError> {
        let finishing = {
            let mut idle = self.idle();
            let mut finishing = None;
            while let Some(entry) = idle.pop() {
                // Closed: the instance hung up while the connection sat idle.
                if entry.sender.is_closed() || entry.since.elapsed() >= idle_timeout {
                    continue;
                }
                if entry.sender.is_ready() {
                    return Ok(entry.sender);
                }
                // Not ready yet: the body's reader ran before the connection's own task had its
                // turn to settle after the exchange. It will be ready at its next poll.
                finishing = Some(entry.sender);
                break;
            }
            finishing
        };
        // A connection still busy past this (an instance that answered before reading the whole
        // request body, say) is dropped rather than waited for.
        if let Some(mut sender) = finishing
            && let Ok(Ok(())) = tokio::time::timeout(FINISHING_WAIT, sender.ready()).await
        {
            return Ok(sender);
        }
        self.connect(connect_timeout).await
    }

    /// Opens a new connection and starts the task that drives it.
    pub(crate) async fn connect(&self, connect_timeout: Duration) -> Result<SendRequest<Incoming>, UpstreamError> {
        let addr = self.addr;
        let stream = self.open(connect_timeout).await?;
        let (sender, connection) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUF_EXACT))
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            // Ends when the instance or the last sender hangs up; either is normal.
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(%addr, error = %err, "instance connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Puts a connection whose exchange is over back for the next request.
    fn checkin(&self, sender: SendRequest<Incoming>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(Idle { sender, since: Instant::now() });
        }
    }
}

/// Sends `request` on `sender`, a connection from `pool.checkout`. If that connection turns out
/// to be closed before the request was written, the request comes back and goes out once on a
/// new connection.
pub(crate) async fn send(
    pool: &Arc<Pool>,
    mut sender: SendRequest<Incoming>,
    request: Request<Incoming>,
    connect_timeout: Duration,
) -> Result<Response<PooledBody>, UpstreamError> {
    let response = match sender.try_send_request(request).await {
        Ok(response) => response,
        Err(mut err) => match err.take_message() {
            Some(request) => {
                tracing::debug!(error = %err.error(), "pooled connection was closed; using a new one");
                sender = pool.connect(connect_timeout).await?;
                sender.send_request(request).await?
            }
            None => return Err(err.into_error().into()),
        },
    };
    // An upgraded connection belongs to the tunnel from now on, never to the pool.
    let back = (response.status() != http::StatusCode::SWITCHING_PROTOCOLS).then(|| (sender, pool.clone()));
    Ok(response.map(|body| PooledBody { inner: body, back }))
}

/// An instance's response body that puts its connection back in the pool once fully read.
///
/// HTTP/1.1 carries one exchange at a time, so the connection is free only when the body has
/// ended; a body dropped before its end (the client went away) takes the connection down with it,
/// which is what hyper does with a half-read response anyway.
pub struct PooledBody {
    inner: Incoming,
    back: Option<(SendRequest<Incoming>, Arc<Pool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((sender, pool)) = self.back.take() {
            pool.checkin(sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // hyper's server does not poll a body it knows is empty (`Content-Length: 0`, 204, HEAD),
        // so an ended body may be dropped without ever returning `None`.
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}
