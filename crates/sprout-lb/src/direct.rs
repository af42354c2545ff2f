//! The direct path to an instance for the commonest exchange: a request without a body (GET,
//! HEAD, DELETE...) and no upgrade. The request head is written and the response read on the
//! client connection's own task, with no second task and no channels in between.
//!
//! Why not hyper's client here: it drives each instance connection from its own task and hands
//! every request and response across channels (mpsc, oneshot, body channel). On the 2-core
//! benchmark machine that hand-off was the largest user-space cost left per request; nginx does
//! both sides in one event callback, and so does this path. Requests with a body, upgrades and
//! anything unusual still go through hyper (`pool::send`).
//!
//! Response framing follows RFC 9112 section 6.3: no body for HEAD, 1xx, 204 and 304; chunked
//! when `Transfer-Encoding` ends in chunked (and `Content-Length` is then dropped); otherwise
//! `Content-Length` (several differing values are refused); otherwise until the instance closes.
//! A connection goes back to the pool only after a complete, well-framed, keep-alive response.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::request::Parts;
use http::{Method, Response, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::pool::Pool;

mod head;
use head::{Chunk, Framing, Parsed, chunk_size, parse_head};

/// Response heads larger than this are refused (hyper's client default is about 400 KiB; 64
/// KiB is plenty for an instance behind a load balancer).
const MAX_HEAD: usize = 64 * 1024;
/// Most response headers accepted.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Read granularity.
const READ_CHUNK: usize = 16 * 1024;

/// One open connection to an instance, with what was read but not yet used.
pub(crate) struct DirectConn {
    stream: TcpStream,
    buf: BytesMut,
    head: Vec<u8>,
}

impl DirectConn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self { stream, buf: BytesMut::with_capacity(READ_CHUNK), head: Vec::with_capacity(1024) }
    }

    /// False when the instance closed the connection (or sent something unasked) while it sat
    /// idle. Costs no system call unless the runtime saw the socket become readable.
    pub(crate) fn looks_alive(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Reads what the instance sent into the buffer. Through `AsyncRead` on purpose: a read that
    /// leaves room in the buffer tells the runtime the socket is drained, so the next wait costs
    /// no system call (`try_read_buf` keeps the stale readiness, and the next exchange paid a
    /// `recv` that found nothing, on about 4 requests in 10).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        self.buf.reserve(READ_CHUNK);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }
}

/// Whether a request can take the direct path: no body, no upgrade, nothing hyper must handle.
pub(crate) fn eligible(parts: &Parts, body: &Incoming, upgrade: bool) -> bool {
    !upgrade
        && body.is_end_stream()
        && parts.method != Method::CONNECT
        && !parts.headers.contains_key(header::TRANSFER_ENCODING)
        && parts.headers.get(header::CONTENT_LENGTH).is_none_or(|v| v.as_bytes() == b"0")
}

/// Why an exchange failed; `unsent` says the instance closed the connection before answering
/// anything, so a request that is safe to repeat may go out again on a new connection.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct DirectError {
    what: String,
    pub(crate) unsent: bool,
}

fn fail(what: impl Into<String>) -> DirectError {
    DirectError { what: what.into(), unsent: false }
}

/// Sends the head in `parts` and reads the response head; the body streams from the result.
pub(crate) async fn exchange(
    mut conn: DirectConn,
    pool: &Arc<Pool>,
    parts: &Parts,
) -> Result<Response<DirectBody>, DirectError> {
    conn.head.clear();
    encode_head(&mut conn.head, parts);
    let written = conn.stream.write_all(&conn.head).await;
    let unsent = |err: &dyn std::fmt::Display| DirectError {
        what: format!("connection lost before an answer: {err}"),
        unsent: true,
    };
    written.map_err(|e| unsent(&e))?;
    loop {
        match parse_head(&conn.buf, parts.method == Method::HEAD)? {
            Some(Parsed::Informational(len)) => conn.buf.advance(len),
            Some(Parsed::Final(len, response, framing, keep_alive)) => {
                conn.buf.advance(len);
                let body = DirectBody { conn: Some(conn), pool: pool.clone(), framing, keep_alive };
                return Ok(response.map(|()| body));
            }
            None => {
                if conn.buf.len() > MAX_HEAD {
                    return Err(fail("response head too large"));
                }
                let read = std::future::poll_fn(|cx| conn.poll_fill(cx)).await;
                match read {
                    Ok(0) if conn.buf.is_empty() => return Err(unsent(&"closed")),
                    Ok(0) => return Err(fail("connection closed in the response head")),
                    Ok(_) => {}
                    Err(e) if conn.buf.is_empty() => return Err(unsent(&e)),
                    Err(e) => return Err(fail(format!("reading the response head: {e}"))),
                }
            }
        }
    }
}

fn encode_head(out: &mut Vec<u8>, parts: &Parts) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// An instance's response body read straight from its connection; the connection goes back to
/// the pool when the body ends cleanly.
pub struct DirectBody {
    conn: Option<DirectConn>,
    pool: Arc<Pool>,
    framing: Framing,
    keep_alive: bool,
}

impl DirectBody {
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.buf.is_empty()
        {
            self.pool.checkin_direct(conn);
        }
    }

    fn broken(&mut self, what: String) -> Poll<Option<Result<Frame<Bytes>, DirectError>>> {
        self.conn = None;
        self.framing = Framing::Done;
        Poll::Ready(Some(Err(fail(what))))
    }
}

impl Body for DirectBody {
    type Data = Bytes;
    type Error = DirectError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, DirectError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            // Take what the buffer holds for the current state, or learn that more is needed.
            let need_more = match this.framing {
                Framing::Done | Framing::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) if !conn.buf.is_empty() => {
                    let n = left.min(conn.buf.len() as u64);
                    let data = conn.buf.split_to(n as usize).freeze();
                    this.framing = match this.framing {
                        Framing::Length(_) => Framing::Length(left - n),
                        _ if left == n => Framing::Chunked(Chunk::DataEnd),
                        _ => Framing::Chunked(Chunk::Data(left - n)),
                    };
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Framing::UntilClose if !conn.buf.is_empty() => {
                    let data = conn.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Framing::Chunked(Chunk::DataEnd) if conn.buf.len() >= 2 => {
                    if &conn.buf[..2] != b"\r\n" {
                        return this.broken("chunk not followed by CRLF".into());
                    }
                    conn.buf.advance(2);
                    this.framing = Framing::Chunked(Chunk::Size);
                    false
                }
                Framing::Chunked(state @ (Chunk::Size | Chunk::Trailer)) => {
                    match conn.buf.iter().position(|&b| b == b'\n') {
                        Some(end) => {
                            let line = conn.buf.split_to(end + 1);
                            let line = line.strip_suffix(b"\r\n").or_else(|| line.strip_suffix(b"\n")).unwrap_or(&line);
                            this.framing = if state == Chunk::Trailer {
                                if line.is_empty() { Framing::Done } else { Framing::Chunked(Chunk::Trailer) }
                            } else {
                                match chunk_size(line) {
                                    Some(0) => Framing::Chunked(Chunk::Trailer),
                                    Some(n) => Framing::Chunked(Chunk::Data(n)),
                                    None => return this.broken("invalid chunk size".into()),
                                }
                            };
                            false
                        }
                        None if conn.buf.len() > MAX_LINE => {
                            return this.broken("chunk line too long".into());
                        }
                        None => true,
                    }
                }
                _ => true,
            };
            if need_more {
                let conn = this.conn.as_mut().expect("checked above");
                match ready!(conn.poll_fill(cx)) {
                    Ok(0) if this.framing == Framing::UntilClose => {
                        this.keep_alive = false;
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(0) => return this.broken("instance closed the connection mid-body".into()),
                    Ok(_) => {}
                    Err(e) => return this.broken(format!("reading the response body: {e}")),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl Drop for DirectBody {
    fn drop(&mut self) {
        // hyper's server does not poll a body it knows is empty, so an ended body may be
        // dropped without having returned `None`.
        if self.is_end_stream() {
            self.finish();
        }
    }
}
