//! Hostile and broken clients: garbage bytes, malformed request lines, oversized headers and
//! stalled heads. The load balancer answers 4xx or closes, never panics, and keeps serving.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Backend, Lb, get, route};
use proptest::prelude::*;
use sprout_lb::{LbConfig, RoutingTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn junk_lb() -> (Backend, Lb) {
    let backend = Backend::start("good").await;
    let mut table = RoutingTable::empty();
    table.insert("good.example", route("app", "prod", vec![backend.upstream()]));
    let config = LbConfig { client_header_timeout: Duration::from_millis(500), ..LbConfig::default() };
    (backend, Lb::start(config, table).await)
}

/// Sends `bytes`, optionally closes our write side, and returns what came back (empty if the
/// load balancer just closed). Write and read errors count as the connection being closed.
async fn exchange(addr: SocketAddr, bytes: &[u8], close_write: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    if close_write {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "connection neither answered nor closed for {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
    );
    answer
}

/// The status of an HTTP/1 answer, or `None` for a closed connection.
fn status_of(answer: &[u8]) -> Option<u16> {
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(answer);
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|s| s.parse().ok());
    assert!(status.is_some(), "not an HTTP/1.1 answer: {text:?}");
    status
}

fn assert_refused(answer: &[u8], input: &str) {
    if let Some(status) = status_of(answer) {
        assert!(matches!(status, 400 | 404 | 405 | 414 | 431 | 501 | 505), "{input}: answered {status}");
    }
}

async fn assert_still_serving(addr: SocketAddr) {
    let answer = get(addr, "good.example", "/").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "good");
}

#[tokio::test]
async fn malformed_requests_are_refused_and_serving_continues() {
    let (_backend, lb) = junk_lb().await;
    let huge_header = format!("GET / HTTP/1.1\r\nHost: good.example\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: good.example\r\n{}\r\n",
        (0..500).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\x01\x02garbage\xff\xfe\r\n\r\n".to_vec()),
        ("bad request line", b"GARBAGE\r\n\r\n".to_vec()),
        ("no version", b"GET /\r\nHost: good.example\r\n\r\n".to_vec()),
        ("bad version", b"GET / HTTP/9.9\r\nHost: good.example\r\n\r\n".to_vec()),
        ("space in header name", b"GET / HTTP/1.1\r\nHo st: good.example\r\n\r\n".to_vec()),
        ("control in host", b"GET / HTTP/1.1\r\nHost: go\x01od\r\n\r\n".to_vec()),
        ("no host", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("bad content length", b"POST / HTTP/1.1\r\nHost: good.example\r\nContent-Length: nope\r\n\r\n".to_vec()),
        (
            "two content lengths",
            b"POST / HTTP/1.1\r\nHost: good.example\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
        ),
        ("huge header", huge_header.into_bytes()),
        ("many headers", many_headers.into_bytes()),
    ];
    for (name, bytes) in &cases {
        let answer = exchange(lb.addr, bytes, true).await;
        assert_refused(&answer, name);
        assert_still_serving(lb.addr).await;
    }
    assert_eq!(status_of(&exchange(lb.addr, &cases[6].1, true).await), Some(400));

    // After a valid HTTP/2 preface, junk frames get an HTTP/2 GOAWAY (or a close), not HTTP/1.
    let answer = exchange(lb.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xde\xad\xbe\xef\x00\x00", true).await;
    assert!(answer.is_empty() || h2_frame_types(&answer).contains(&GOAWAY), "{answer:?}");
    assert_still_serving(lb.addr).await;
}

const GOAWAY: u8 = 0x7;

/// The types of the HTTP/2 frames in `bytes`, as far as they parse.
fn h2_frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let length = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    types
}

#[tokio::test]
async fn stalled_heads_are_closed_by_the_header_timeout() {
    let (_backend, lb) = junk_lb().await;
    for partial in [&b"GET / HTTP/1.1\r\nHost: good.exa"[..], b"G", b"PRI * HTTP/2.0\r\n"] {
        // Keep our side open: only the load balancer's timeout can end this.
        let answer = exchange(lb.addr, partial, false).await;
        assert_refused(&answer, &String::from_utf8_lossy(partial));
    }
    assert_still_serving(lb.addr).await;
}

#[test]
fn random_bytes_never_break_the_load_balancer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_backend, lb) = runtime.block_on(junk_lb());
    let addr = lb.addr;
    let prefixes = prop_oneof![
        Just(Vec::new()),
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"POST /body HTTP/1.1\r\nHost: good.example\r\n".to_vec()),
    ];
    let config = ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(prefix in prefixes, tail in proptest::collection::vec(any::<u8>(), 0..512))| {
        let mut bytes = prefix;
        bytes.extend_from_slice(&tail);
        let answer = runtime.block_on(exchange(addr, &bytes, true));
        if !answer.is_empty() {
            let text = String::from_utf8_lossy(&answer);
            prop_assert!(text.starts_with("HTTP/1.1 "), "not HTTP: {text:?}");
        }
    });
    runtime.block_on(assert_still_serving(addr));
}
