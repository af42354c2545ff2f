//! An entry point for the fuzzer (`crates/sprout-fuzz`): serve raw client bytes as one
//! connection through the real request path, without a socket.
//!
//! Everything after the bytes arrive is the production code: hyper-util's auto builder (HTTP/1.1
//! or HTTP/2 by prior knowledge) set up as `server::Connections::new` sets it up, the client
//! address as `server::Connections::serve` renders it, and `proxy::handle` for every request
//! (routing, host normalisation, header rewriting, the load balancer's own error answers). Not
//! here: accepting, the connection cap, the HTTP/2 preface sniffing and the idle timeout, which
//! need a `TcpStream` and time, and are tested in `tests/`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::headers::ClientAddr;
use crate::{LoadBalancer, proxy};

/// Room in each direction of the in-memory connection; a smaller one only means more wake-ups.
const PIPE_BYTES: usize = 64 * 1024;

/// Serves `input` as everything a client at `client` sent on one connection (then closing its
/// writing side, as `curl -T` does), and returns everything the load balancer wrote back.
///
/// Not bounded in time: callers put a timeout around it, and a connection that outlives the
/// client's bytes by long is a finding in itself.
#[doc(hidden)]
pub async fn serve_bytes(lb: &Arc<LoadBalancer>, client: IpAddr, input: &[u8]) -> Vec<u8> {
    let (client_end, server_end) = tokio::io::duplex(PIPE_BYTES);
    let ip = client.to_canonical();
    let trusted = lb.config.trusted_proxies.iter().any(|net| net.contains(&ip));
    let client_ip = ClientAddr::new(ip, trusted);
    let service = {
        let lb = lb.clone();
        service_fn(move |req| {
            let (lb, client_ip) = (lb.clone(), client_ip.clone());
            async move { Ok::<_, Infallible>(proxy::handle(&lb, req, &client_ip, None).await) }
        })
    };
    let builder = crate::server::client_builder(lb);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(server_end), service);
    let (mut from_lb, mut to_lb) = tokio::io::split(client_end);
    // Write and read at once: the load balancer may answer more than the pipe holds before it
    // has read every pipelined request.
    let send = async move {
        // The load balancer may close before reading everything; that is its right.
        let _ = to_lb.write_all(input).await;
        let _ = to_lb.shutdown().await;
    };
    let receive = async move {
        let mut out = Vec::new();
        let _ = from_lb.read_to_end(&mut out).await;
        out
    };
    // A connection that ends with an error is the client's problem (garbage, early close).
    let (_ended, (), out) = tokio::join!(connection, send, receive);
    out
}
