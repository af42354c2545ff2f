//! Serving client connections on one single-threaded runtime per core, the way nginx runs one
//! worker process per core.
//!
//! Why not the caller's multi-threaded runtime: on the 2-core benchmark machine, a request there
//! crosses threads several times (the client connection's task, the instance connection's task,
//! work stealing between them), and every crossing is a wake-up through the kernel. Here a client
//! connection, and the instance connections it opens, live on one thread for good, so handing a
//! request from one task to the other is a local wake-up. Measured with `scripts/bench lb`; see
//! docs/benchmarks.md.
//!
//! One acceptor (on the caller's runtime) deals connections to the workers in turn; with
//! keep-alive clients that is rare work, and dealing evenly beats letting the workers race for a
//! shared listening socket, where one of them can win most connections. This module does not
//! speak HTTP; `server::Connections` does, on whichever runtime it runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::LoadBalancer;
use crate::server::{Accepted, Connections, Listeners, accept};

type Handoff = (std::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit, Option<tokio_rustls::TlsAcceptor>);

/// Accepts on `listeners` and serves every connection on one of `count` worker threads; returns
/// once shutdown is requested and every worker has drained (or hit `drain_deadline`).
pub(crate) async fn serve_on_workers(
    lb: Arc<LoadBalancer>,
    listeners: Listeners,
    slots: &Arc<tokio::sync::Semaphore>,
    shutdown: CancellationToken,
    drain_deadline: Duration,
    count: usize,
) -> std::io::Result<()> {
    let mut workers = Vec::with_capacity(count);
    let mut finished = Vec::with_capacity(count);
    for index in 0..count {
        let (handoff, incoming) = mpsc::unbounded_channel::<Handoff>();
        let (done, done_rx) = oneshot::channel();
        let lb = lb.clone();
        std::thread::Builder::new()
            .name(format!("sprout-lb-{index}"))
            .spawn(move || {
                crate::pool::set_worker(index);
                let _ = done.send(run_worker(&lb, incoming, drain_deadline));
            })
            .map_err(|err| {
                std::io::Error::new(
                    err.kind(),
                    format!("load balancer: cannot start worker thread {index}: {err}; set LbConfig::workers to 0 to serve on the caller's runtime"),
                )
            })?;
        workers.push(handoff);
        finished.push(done_rx);
    }

    let mut turn = 0;
    while let Some(Accepted { stream, peer, slot, tls }) = accept(&listeners, slots, &shutdown).await {
        // Leaves the socket non-blocking, as the worker's runtime needs it.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(%peer, error = %err, "cannot hand a client connection to a worker");
                continue;
            }
        };
        if workers[turn].send((stream, peer, slot, tls)).is_err() {
            tracing::warn!(worker = turn, "load balancer worker stopped; connection dropped");
        }
        turn = (turn + 1) % count;
    }
    drop(listeners);
    // Closing the hand-off channels is what tells the workers to drain.
    drop(workers);
    let mut result = Ok(());
    for done in finished {
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => result = Err(err),
            Err(_) => tracing::warn!("load balancer worker ended without reporting"),
        }
    }
    result
}

/// One worker: a single-threaded runtime serving the connections handed to it until the
/// hand-off closes, then draining them.
fn run_worker(
    lb: &Arc<LoadBalancer>,
    mut incoming: mpsc::UnboundedReceiver<Handoff>,
    drain_deadline: Duration,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let connections = Connections::new(lb);
        while let Some((stream, peer, slot, tls)) = incoming.recv().await {
            match TcpStream::from_std(stream) {
                Ok(stream) => connections.serve_accepted(Accepted { stream, peer, slot, tls }),
                Err(err) => tracing::warn!(%peer, error = %err, "cannot serve a client connection"),
            }
        }
        connections.drain(drain_deadline).await;
    });
    // Dropping the runtime cancels what the drain deadline cut short.
    Ok(())
}
