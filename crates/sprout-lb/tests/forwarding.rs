//! What the instance receives and what the client gets back: rewritten headers, streamed
//! bodies, pooled upstream connections, HTTP/2 clients and upgraded connections.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Answer, Backend, Lb, client, route, send};
use futures_util::stream;
use http::Request;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sprout_lb::{LbConfig, RoutingTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn one_backend_lb(host: &str) -> (Backend, Lb) {
    one_backend_lb_with(host, LbConfig::default()).await
}

async fn one_backend_lb_with(host: &str, config: LbConfig) -> (Backend, Lb) {
    let backend = Backend::start("echo").await;
    let mut table = RoutingTable::empty();
    table.insert(host, route("app", "prod", vec![backend.upstream()]));
    (backend, Lb::start(config, table).await)
}

/// Sends raw request bytes (so no client library tidies the headers) and reads the one answer,
/// which must be a 200 from the echo backend.
async fn raw_exchange(lb: std::net::SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(lb).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    Answer { status: http::StatusCode::OK, headers: Default::default(), body: body.into() }
}

#[tokio::test]
async fn forwarding_headers_added_and_hop_by_hop_stripped() {
    // The test's client (127.0.0.1) is a trusted proxy here: what it forwards is extended.
    let trusted = LbConfig { trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()], ..LbConfig::default() };
    let (_backend, lb) = one_backend_lb_with("hdr.example", trusted).await;

    // Raw bytes so the client library cannot tidy the headers up for us.
    let answer = raw_exchange(
        lb.addr,
        b"GET /path?q=1 HTTP/1.1\r\n\
          Host: hdr.example:8080\r\n\
          Connection: close, X-Hop\r\n\
          X-Hop: secret\r\n\
          Keep-Alive: timeout=5\r\n\
          TE: trailers\r\n\
          Proxy-Authorization: Basic Zm9vOmJhcg==\r\n\
          X-Forwarded-For: 203.0.113.9\r\n\
          X-Custom: kept\r\n\
          \r\n",
    )
    .await;

    assert_eq!(answer.seen("x-forwarded-for"), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(answer.seen("x-forwarded-proto"), Some("http"));
    assert_eq!(answer.seen("x-forwarded-host"), Some("hdr.example:8080"));
    assert_eq!(answer.seen("host"), Some("hdr.example:8080"));
    assert_eq!(answer.seen("x-custom"), Some("kept"));
    assert!(answer.seen("x-request-id").is_some_and(|id| !id.is_empty()));
    for hop in ["x-hop", "keep-alive", "te", "proxy-authorization"] {
        assert_eq!(answer.seen(hop), None, "{hop} leaked: {}", answer.body);
    }
    // hyper adds its own `connection` header only when it means it; ours must not pass through.
    assert!(!answer.body.contains("X-Hop"), "{}", answer.body);
}

/// A client that is not a trusted proxy cannot make the application believe another address:
/// its `X-Forwarded-For` is replaced by its own.
#[tokio::test]
async fn an_untrusted_client_s_forwarded_for_is_replaced() {
    let (_backend, lb) = one_backend_lb("xff.example").await;
    let request = b"GET / HTTP/1.1\r\nHost: xff.example\r\nConnection: close\r\nX-Forwarded-For: 203.0.113.66\r\n\r\n";
    let answer = raw_exchange(lb.addr, request).await;
    assert_eq!(answer.seen("x-forwarded-for"), Some("127.0.0.1"));
}

/// An absolute-form target names the host the request is routed on (RFC 9112 section 3.2.2); the
/// instance must see that host, not the `Host` header of another environment.
#[tokio::test]
async fn the_host_the_instance_sees_is_the_one_routed_on() {
    let (_backend, lb) = one_backend_lb("b.example").await;
    let request = b"GET http://user@b.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(lb.addr, request).await;
    assert_eq!(answer.seen("host"), Some("b.example"));
    assert_eq!(answer.seen("x-forwarded-host"), Some("b.example"));
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_uniquely() {
    let (_backend, lb) = one_backend_lb("id.example").await;
    let client = client();
    let first = send(&client, lb.addr, "id.example", "/").await.unwrap();
    let second = send(&client, lb.addr, "id.example", "/").await.unwrap();
    assert_ne!(first.seen("x-request-id"), second.seen("x-request-id"));

    let request = Request::get(format!("http://{}/", lb.addr))
        .header("host", "id.example")
        .header("x-request-id", "trace-me")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("x-request-id: trace-me"));
}

#[tokio::test]
async fn large_body_streams_both_ways_intact() {
    let (_backend, lb) = one_backend_lb("big.example").await;
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 320; // 20 MiB
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);
    // Chunked, with no Content-Length: the load balancer must stream, not wait for a length.
    let frames = stream::iter((0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(Frame::data(chunk(i)))));
    let client: Client<HttpConnector, _> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = Request::post(format!("http://{}/body", lb.addr))
        .header("host", "big.example")
        .body(StreamBody::new(frames))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), CHUNK * CHUNKS);
    for (i, piece) in body.chunks(CHUNK).enumerate() {
        assert!(piece.iter().all(|&byte| byte == (i % 251) as u8), "chunk {i} corrupted");
    }
}

#[tokio::test]
async fn upstream_connections_are_kept_alive() {
    let (backend, lb) = one_backend_lb("pool.example").await;
    let client = client();
    for _ in 0..100 {
        let answer = send(&client, lb.addr, "pool.example", "/").await.unwrap();
        assert_eq!(answer.status, 200);
    }
    let connections = backend.connection_count();
    assert!(connections <= 3, "100 sequential requests opened {connections} connections");
}

#[tokio::test]
async fn http2_prior_knowledge_client_works() {
    // The pooled client takes `:authority` from the URI it connects to, so route that address.
    let (_backend, lb) = one_backend_lb("127.0.0.1").await;
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).http2_only(true).build(HttpConnector::new());
    for _ in 0..5 {
        let request = Request::get(format!("http://{}/h2", lb.addr)).body(Empty::new()).unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(body.starts_with("echo\n"), "{body}");
        assert!(body.contains("x-forwarded-proto: http"), "{body}");
    }
}

#[tokio::test]
async fn http2_authority_routes_without_host_header() {
    let (_backend, lb) = one_backend_lb("auth.example").await;
    let stream = TcpStream::connect(lb.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get("http://auth.example/a").body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("host: auth.example"), "{body}");
}

#[tokio::test]
async fn upgraded_connection_is_tunnelled() {
    let (_backend, lb) = one_backend_lb("ws.example").await;
    let mut stream = TcpStream::connect(lb.addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");

    stream.write_all(b"ping over the tunnel").await.unwrap();
    let mut echoed = [0u8; 20];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed)).await.expect("echo arrives").unwrap();
    assert_eq!(&echoed, b"ping over the tunnel");
}

/// At `max_connections` no further connection is served until one closes: a flood of idle
/// connections cannot exhaust the process, and a waiting client is served once there is room.
#[tokio::test]
async fn connections_past_the_cap_wait_for_one_to_close() {
    let config = LbConfig { max_connections: 2, workers: 0, ..LbConfig::default() };
    let (_backend, lb) = one_backend_lb_with("cap.example", config).await;
    let idle_a = TcpStream::connect(lb.addr).await.unwrap();
    let _idle_b = TcpStream::connect(lb.addr).await.unwrap();
    let mut third = TcpStream::connect(lb.addr).await.unwrap();
    third.write_all(b"GET / HTTP/1.1\r\nHost: cap.example\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut first_byte = [0u8; 1];
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), third.read(&mut first_byte)).await;
    assert!(early.is_err(), "served past the cap of 2 connections");
    drop(idle_a);
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(20), third.read_to_end(&mut raw)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&raw));
}

/// An HTTP/2 connection with no request for the idle timeout is closed (it would otherwise hold a
/// connection slot for ever with pings alone); one in use is not.
#[tokio::test]
async fn idle_http2_connections_are_closed_busy_ones_are_not() {
    let config = LbConfig { client_idle_timeout: Duration::from_millis(800), ..LbConfig::default() };
    let (_backend, lb) = one_backend_lb_with("idle.example", config).await;
    let open = |addr| async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
        (sender, tokio::spawn(connection))
    };
    let get = |mut sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>| async move {
        let request = Request::get("http://idle.example/").body(Empty::new()).unwrap();
        let status = sender.send_request(request).await.map(|r| r.status().as_u16());
        (sender, status)
    };

    let (idle, idle_conn) = open(lb.addr).await;
    let (_idle, status) = get(idle).await;
    assert_eq!(status.unwrap(), 200);
    let (mut busy, busy_conn) = open(lb.addr).await;
    // Ten requests 200 ms apart: 2 s of use, more than twice the idle timeout.
    for _ in 0..10 {
        let status;
        (busy, status) = get(busy).await;
        assert_eq!(status.expect("a busy connection stays open"), 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!busy_conn.is_finished(), "the busy connection was closed");
    let ended = tokio::time::timeout(Duration::from_secs(20), idle_conn).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection is still open 20 s later");
}

/// An environment's own idle timeout (`loadbalancer.idle_timeout`) closes its idle HTTP/1
/// keep-alive connections, though the listener's own timeout is a minute.
#[tokio::test]
async fn an_environments_idle_timeout_closes_its_idle_connections() {
    let backend = Backend::start("echo").await;
    let mut table = RoutingTable::empty();
    let short = sprout_lb::Route {
        idle_timeout: Some(Duration::from_millis(700)),
        ..route("app", "prod", vec![backend.upstream()])
    };
    table.insert("short.example", short);
    let lb = common::Lb::start(LbConfig { client_idle_timeout: Duration::from_secs(60), ..LbConfig::default() }, table)
        .await;
    let mut stream = TcpStream::connect(lb.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: short.example\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    // The answer is whole (the echo backend's is small); what follows is the close, well before
    // the listener's minute.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection stayed open past 20 s for an environment that asks 0.7 s");
}
