//! Requests for an environment with no in-service instance are held (bounded in number and
//! time) until a published table gives it one, instead of a 503 at once.

mod common;

use std::time::Duration;

use common::*;
use sprout_lb::hold::HoldConfig;
use sprout_lb::{LbConfig, RoutingTable};

fn config(max_requests: usize, max_wait_ms: u64) -> LbConfig {
    LbConfig {
        hold: HoldConfig { max_requests, max_wait: Duration::from_millis(max_wait_ms), instance_limit: None },
        ..LbConfig::default()
    }
}

#[tokio::test]
async fn a_request_waits_for_the_first_instance_and_is_answered_by_it() {
    let mut table = RoutingTable::empty();
    table.insert("scaling.example", route("app", "prod", vec![]));
    let lb = Lb::start(config(16, 10_000), table).await;
    let backend = Backend::start("first").await;

    let addr = lb.addr;
    let pending = tokio::spawn(async move { get(addr, "scaling.example", "/").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "the request is held, not refused");
    assert_eq!(lb.lb.held_requests(), [(("app".to_string(), "prod".to_string()), 1)], "and counted as held");

    let mut table = RoutingTable::empty();
    table.insert("scaling.example", route("app", "prod", vec![backend.upstream()]));
    lb.lb.publish(table);
    let answer = pending.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "first");
}

#[tokio::test]
async fn the_wait_is_bounded_and_so_is_the_queue() {
    let mut table = RoutingTable::empty();
    table.insert("empty.example", route("app", "prod", vec![]));
    let lb = Lb::start(config(16, 200), table).await;
    let answer = get(lb.addr, "empty.example", "/").await;
    assert_eq!(answer.status, 503, "no instance came within the wait");

    let mut table = RoutingTable::empty();
    table.insert("empty.example", route("app", "prod", vec![]));
    let full = Lb::start(config(0, 60_000), table).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), get(full.addr, "empty.example", "/")).await;
    assert_eq!(answer.expect("a full queue refuses at once").status, 503);
}

#[tokio::test]
async fn each_environment_has_its_own_bounds() {
    // The load balancer's default would wait 10 s; this environment waits 200 ms at most and
    // holds one request, the other environment takes the default.
    let mut table = RoutingTable::empty();
    let mut own = route("app", "tight", vec![]);
    own.hold = Some(HoldConfig { max_requests: 1, max_wait: Duration::from_millis(200), instance_limit: None });
    table.insert("tight.example", own);
    table.insert("roomy.example", route("app", "roomy", vec![]));
    let lb = Lb::start(config(16, 10_000), table).await;

    let addr = lb.addr;
    let roomy = tokio::spawn(async move { get(addr, "roomy.example", "/").await });
    let first = tokio::spawn(async move { get(addr, "tight.example", "/").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The second request finds the environment's one place taken: refused at once.
    let second = tokio::time::timeout(Duration::from_secs(5), get(addr, "tight.example", "/")).await;
    assert_eq!(second.expect("a full queue refuses at once").status, 503);
    // The first waited its own 200 ms, not the default 10 s.
    let first =
        tokio::time::timeout(Duration::from_secs(5), first).await.expect("bounded by the environment's wait").unwrap();
    assert_eq!(first.status, 503);
    assert!(!roomy.is_finished(), "the other environment's request still waits under the default");

    let backend = Backend::start("roomy").await;
    let mut table = RoutingTable::empty();
    table.insert("roomy.example", route("app", "roomy", vec![backend.upstream()]));
    lb.lb.publish(table);
    assert_eq!(roomy.await.unwrap().backend(), "roomy");
}

/// `limited.example` to `upstreams`, one request in flight per instance at most, held requests
/// waiting up to `wait_ms`.
fn limited(upstreams: Vec<sprout_lb::Upstream>, wait_ms: u64) -> RoutingTable {
    let mut r = route("app", "prod", upstreams);
    r.hold = Some(HoldConfig { max_requests: 16, max_wait: Duration::from_millis(wait_ms), instance_limit: Some(1) });
    let mut table = RoutingTable::empty();
    table.insert("limited.example", r);
    table
}

#[tokio::test]
async fn requests_over_the_instance_limit_wait_for_room_or_a_new_instance() {
    let busy = Backend::start("busy").await;
    let lb = Lb::start(config(16, 10_000), limited(vec![busy.upstream()], 10_000)).await;
    let addr = lb.addr;
    // The one instance takes a request that never ends: it is at its limit.
    let _hanging = tokio::spawn(async move { get(addr, "limited.example", "/hang").await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The next request is held, not sent to the busy instance...
    let held = tokio::spawn(async move { get(addr, "limited.example", "/").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "held while the only instance is at its limit");
    // ...and a new instance takes it.
    let fresh = Backend::start("fresh").await;
    lb.lb.publish(limited(vec![busy.upstream(), fresh.upstream()], 10_000));
    let answer = tokio::time::timeout(Duration::from_secs(5), held).await.expect("answered once room came").unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "fresh");

    // With a short wait and no room, the answer is a 503 that says why.
    let lb2 = Lb::start(config(16, 10_000), limited(vec![busy.upstream()], 200)).await;
    let addr2 = lb2.addr;
    let _hanging2 = tokio::spawn(async move { get(addr2, "limited.example", "/hang").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused =
        tokio::time::timeout(Duration::from_secs(5), get(addr2, "limited.example", "/")).await.expect("bounded wait");
    assert_eq!(refused.status, 503);
    assert!(refused.body.contains("requests in flight"), "{}", refused.body);
}

#[tokio::test]
async fn a_held_request_takes_the_room_a_finished_request_leaves() {
    let only = Backend::start("only").await;
    let lb = Lb::start(config(16, 30_000), limited(vec![only.upstream()], 30_000)).await;
    let addr = lb.addr;
    // The instance is at its limit with a request that ends after 500 ms.
    let slow = tokio::spawn(async move { get(addr, "limited.example", "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held = tokio::spawn(async move { get(addr, "limited.example", "/").await });
    // It waits while the slow one runs (seen as held by the load balancer)...
    let mut seen_held = false;
    for _ in 0..200 {
        if lb.lb.held_requests().iter().any(|(_, n)| *n == 1) {
            seen_held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(seen_held, "the second request was held while the instance was at its limit");
    // ...and no table is published: only the end of the slow request can let the held one go,
    // well before its 30 s wait runs out (the end of a request signals; nothing polls).
    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held request went on when the slow one ended")
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "only");
    assert_eq!(slow.await.unwrap().status, 200);
    assert!(lb.lb.held_requests().iter().all(|(_, n)| *n == 0));
}
