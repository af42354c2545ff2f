//! Least-outstanding-requests balancing and per-second metrics over real loopback TCP.
#![allow(clippy::disallowed_methods)] // closes the load balancer's wall-clock second by hand

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Backend, Lb, client, route, send};
use sprout_lb::{Balance, LbConfig, RoutingTable};

/// Closes a second far enough ahead that every request so far is in a closed second, whatever
/// the load balancer's own ticker did meanwhile, and returns the window that covers them all.
fn close_everything(lb: &sprout_lb::LoadBalancer) -> u32 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    lb.metrics().close_second(now + 100);
    1000
}

async fn two_backends(balance: Balance) -> (Backend, Backend, Lb) {
    two_backends_routed(balance, None).await
}

/// Two instances behind `lor.example`, the load balancer balancing by `balance` and the route,
/// if given, by its own `route_balance` (an environment's `loadbalancer.algorithm`).
async fn two_backends_routed(balance: Balance, route_balance: Option<Balance>) -> (Backend, Backend, Lb) {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let mut table = RoutingTable::empty();
    let mut r = route("shop", "prod", vec![a.upstream(), b.upstream()]);
    r.balance = route_balance;
    table.insert("lor.example", r);
    let config = LbConfig { balance, ..LbConfig::default() };
    let lb = Lb::start(config, table).await;
    (a, b, lb)
}

#[tokio::test]
async fn a_busy_instance_gets_no_new_request_while_another_is_idle() {
    let (_a, _b, lb) = two_backends(Balance::LeastOutstanding).await;
    let c = client();
    // Hold one slow request on whichever instance takes it.
    let slow = tokio::spawn({
        let c = c.clone();
        let addr = lb.addr;
        async move { send(&c, addr, "lor.example", "/slow").await.unwrap() }
    });
    // Wait until the load balancer counts it in flight.
    while lb.lb.metrics().in_flight("shop", "prod") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut others = Vec::new();
    for _ in 0..6 {
        others.push(send(&c, lb.addr, "lor.example", "/").await.unwrap().backend().to_owned());
    }
    let busy = slow.await.unwrap().backend().to_owned();
    assert!(others.iter().all(|name| *name != busy), "busy {busy}, others {others:?}");

    let window = close_everything(&lb.lb);
    let metrics = lb.lb.metrics();
    let env = metrics.summary("shop", "prod", window);
    assert_eq!((env.requests, env.status_2xx()), (7, 7));
    assert!(env.bytes_out > 0);
    assert_eq!(metrics.instance_summary("shop", "prod", &busy, window).requests, 1);
    assert_eq!(metrics.in_flight("shop", "prod"), 0);
    // The slow request took at least its 500 ms; the histogram's p99.9 is that one.
    assert!(env.latency.quantile(0.999).unwrap() >= Duration::from_millis(450));
}

#[tokio::test]
async fn round_robin_alternates_even_past_a_busy_instance() {
    round_robin_past_a_busy_instance(two_backends(Balance::RoundRobin).await).await;
}

#[tokio::test]
async fn a_routes_own_balancing_wins_over_the_load_balancers() {
    let (a, b, lb) = two_backends_routed(Balance::LeastOutstanding, Some(Balance::RoundRobin)).await;
    round_robin_past_a_busy_instance((a, b, lb)).await;
}

async fn round_robin_past_a_busy_instance((_a, _b, lb): (Backend, Backend, Lb)) {
    let c = client();
    let slow = tokio::spawn({
        let c = c.clone();
        let addr = lb.addr;
        async move { send(&c, addr, "lor.example", "/slow").await.unwrap() }
    });
    while lb.lb.metrics().in_flight("shop", "prod") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut others = Vec::new();
    for _ in 0..4 {
        others.push(send(&c, lb.addr, "lor.example", "/").await.unwrap().backend().to_owned());
    }
    let busy = slow.await.unwrap().backend().to_owned();
    assert_eq!(others.iter().filter(|name| **name == busy).count(), 2, "{others:?}");
}
