//! Graceful shutdown: in-flight requests finish, new connections are refused, and a request
//! that never ends cannot hold shutdown past the drain deadline.

mod common;

use std::time::Duration;

use common::{Backend, get, route};
use sprout_lb::{LbConfig, LoadBalancer, RoutingTable};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

async fn wait_for_connection(backend: &Backend) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while backend.connection_count() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the request reaches the backend");
}

#[tokio::test]
async fn in_flight_request_finishes_after_shutdown() {
    let backend = Backend::start("slow").await;
    let mut table = RoutingTable::empty();
    table.insert("drain.example", route("app", "prod", vec![backend.upstream()]));
    let lb = common::Lb::start(LbConfig::default(), table).await;

    let addr = lb.addr;
    let in_flight = tokio::spawn(async move { get(addr, "drain.example", "/slow").await });
    wait_for_connection(&backend).await;
    lb.shutdown.cancel();

    let answer =
        tokio::time::timeout(Duration::from_secs(10), in_flight).await.expect("the slow request completes").unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("slow done"));
    tokio::time::timeout(Duration::from_secs(10), lb.task).await.expect("serve returns once drained").unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn drain_deadline_bounds_a_request_that_never_ends() {
    let backend = Backend::start("stuck").await;
    let mut table = RoutingTable::empty();
    table.insert("stuck.example", route("app", "prod", vec![backend.upstream()]));
    let lb = LoadBalancer::new(LbConfig::default());
    lb.publish(table);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let serving =
        tokio::spawn(lb.clone().serve_with_drain_deadline(listener, shutdown.clone(), Duration::from_millis(300)));

    let _stuck = tokio::spawn(async move { get(addr, "stuck.example", "/hang").await });
    wait_for_connection(&backend).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve gives up on the stuck request at the deadline")
        .unwrap()
        .unwrap();
}
