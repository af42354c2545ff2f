//! The load balancer's own connection pool and worker threads: connections come back after
//! answers without a body, an instance that hangs up idle connections costs no request, and
//! serving on the caller's runtime (`workers: 0`) behaves like serving on worker threads.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::{Backend, Lb, client, get, route, send};
use http::Request;
use http_body_util::{BodyExt, Full};
use sprout_lb::{LbConfig, RoutingTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn table(host: &str, backend: &Backend) -> RoutingTable {
    let mut table = RoutingTable::empty();
    table.insert(host, route("app", "prod", vec![backend.upstream()]));
    table
}

#[tokio::test]
async fn answers_without_a_body_give_the_connection_back() {
    let backend = Backend::start("heads").await;
    let lb = Lb::start(LbConfig::default(), table("head.example", &backend)).await;
    let client = client();
    for _ in 0..20 {
        let request = Request::head(format!("http://{}/", lb.addr))
            .header("host", "head.example")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }
    for _ in 0..20 {
        let answer = send(&client, lb.addr, "head.example", "/").await.unwrap();
        assert_eq!(answer.status, 200);
    }
    let connections = backend.connection_count();
    assert!(connections <= 3, "40 sequential requests, 20 of them without a body, opened {connections} connections");
}

/// An instance that answers with keep-alive and then hangs up anyway, as a server whose idle
/// timeout is shorter than ours does. Counts the connections it accepted.
async fn hang_up_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye").await;
                // Dropping the stream closes it without having said `Connection: close`.
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn an_instance_hanging_up_idle_connections_costs_no_request() {
    let (addr, accepted) = hang_up_backend().await;
    let mut table = RoutingTable::empty();
    let upstream = sprout_lb::Upstream { instance: "i-rude".into(), addr };
    table.insert("rude.example", route("app", "prod", vec![upstream]));
    let lb = Lb::start(LbConfig::default(), table).await;
    let client = client();
    for i in 0..10 {
        let answer = send(&client, lb.addr, "rude.example", "/").await.unwrap();
        assert_eq!(answer.status, 200, "request {i}: {}", answer.body);
        assert_eq!(answer.body, "bye");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 10, "one connection per request");
    let stats = lb.lb.stats();
    assert_eq!(stats.routes["rude.example"].totals.status_2xx, 10);
}

#[tokio::test]
async fn serving_on_the_callers_runtime_works_too() {
    let backend = Backend::start("here").await;
    let config = LbConfig { workers: 0, ..LbConfig::default() };
    let lb = Lb::start(config, table("here.example", &backend)).await;
    let answer = get(lb.addr, "here.example", "/").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "here");
    assert!(answer.seen("x-request-id").is_some());
    lb.shutdown.cancel();
    lb.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn many_workers_share_the_requests_and_shut_down() {
    let backend = Backend::start("busy").await;
    let config = LbConfig { workers: 3, ..LbConfig::default() };
    let lb = Lb::start(config, table("busy.example", &backend)).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let addr = lb.addr;
        tasks.push(tokio::spawn(async move {
            // A client of its own: its own connection, so it lands on its own worker.
            let client = client();
            for _ in 0..10 {
                let answer = send(&client, addr, "busy.example", "/").await.unwrap();
                assert_eq!(answer.status, 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(lb.lb.stats().routes["busy.example"].totals.status_2xx, 60);
    lb.shutdown.cancel();
    lb.task.await.unwrap().unwrap();
}
