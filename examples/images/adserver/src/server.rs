//! The accept loop and one thread per connection, with HTTP/1.1 keep-alive: nginx holds a pool
//! of upstream connections (`keepalive 16`), so a handful of long-lived threads serve the load.
//!
//! Not here: what a path answers (see `routes`).

use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::access_log::{AccessLog, now_rfc3339};
use crate::http::{ParseError, Response, read_request, skip_body};
use crate::routes::{State, route};

/// How long an idle keep-alive connection is kept; longer than nginx's upstream idle timeout
/// (60s) so nginx, not us, decides when to drop a pooled connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// What the signal thread needs to shut down gracefully.
#[derive(Default)]
pub struct Lifecycle {
    pub shutting_down: AtomicBool,
    /// Requests between "head read" and "response written".
    pub in_flight: AtomicUsize,
}

pub struct Server {
    pub state: State,
    pub log: AccessLog,
    pub lifecycle: Arc<Lifecycle>,
}

impl Server {
    pub fn run(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(c) => c,
                // Out of descriptors or a reset before accept: keep serving the others.
                Err(e) => {
                    eprintln!("adserver: accept: {e}");
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let server = Arc::clone(&self);
            let spawned = thread::Builder::new().stack_size(128 * 1024).spawn(move || server.serve(stream, peer));
            if let Err(e) = spawned {
                eprintln!("adserver: cannot start a connection thread: {e}");
            }
        }
    }

    fn serve(&self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
        let _ = stream.set_nodelay(true);
        let Ok(read_half) = stream.try_clone() else { return };
        let mut reader = BufReader::new(read_half);
        let mut writer = stream;
        // Ends on clean close, idle timeout, reset, or a request that asks to close.
        while let Ok(Some(parsed)) = read_request(&mut reader) {
            let started = Instant::now();
            let _busy = InFlight::enter(&self.lifecycle);
            let req = match parsed {
                Ok(req) => req,
                Err(e) => {
                    let (status, msg) = match e {
                        ParseError::Bad(m) => (400, m),
                        ParseError::TooLarge => (431, "request head too large"),
                    };
                    let _ = Response::json(status, &json!({"error": msg})).write_to(&mut writer, false, false);
                    return;
                }
            };
            // Chunked request bodies are never needed by this API; refuse rather than misframe.
            if req.header("transfer-encoding").is_some() {
                let _ = Response::json(501, &json!({"error": "chunked bodies are not supported"})).write_to(
                    &mut writer,
                    false,
                    false,
                );
                return;
            }
            let body_ok = req.content_length().ok().map(|len| skip_body(&mut reader, len).is_ok());
            if body_ok != Some(true) {
                let _ = Response::json(400, &json!({"error": "bad request body"})).write_to(&mut writer, false, false);
                return;
            }
            let keep_alive = req.keep_alive() && !self.lifecycle.shutting_down.load(Ordering::Relaxed);
            let resp = route(&self.state, &req).with_header("X-Instance", &self.state.instance);
            let written = resp.write_to(&mut writer, keep_alive, req.method == "HEAD");
            self.log.write(&json!({
                "time": now_rfc3339(),
                "instance": self.state.instance,
                "remote": peer.ip().to_string(),
                "forwarded_for": req.header("x-forwarded-for"),
                "request_id": req.header("x-request-id"),
                "method": req.method,
                "target": req.target,
                "status": resp.status,
                "bytes": resp.body.len(),
                "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
                "user_agent": req.header("user-agent"),
            }));
            if written.is_err() || !keep_alive {
                return;
            }
        }
    }
}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a Lifecycle);

impl<'a> InFlight<'a> {
    fn enter(l: &'a Lifecycle) -> InFlight<'a> {
        l.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(l)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
