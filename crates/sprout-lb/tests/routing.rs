//! Routing over real loopback TCP: by host, round-robin, unknown and empty environments, table
//! swaps under load, and the counters that follow.

mod common;

use std::collections::HashMap;

use common::{Backend, Lb, client, get, route, send};
use sprout_lb::{LbConfig, RoutingTable};

#[tokio::test]
async fn routes_by_host_to_the_right_environment() {
    let prod = Backend::start("prod-1").await;
    let staging = Backend::start("staging-1").await;
    let mut table = RoutingTable::empty();
    table.insert("shop.example", route("shop", "prod", vec![prod.upstream()]));
    table.insert("staging.shop.example", route("shop", "staging", vec![staging.upstream()]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let answer = get(lb.addr, "shop.example", "/").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.backend(), "prod-1");
    // Port and case do not matter.
    assert_eq!(get(lb.addr, "STAGING.Shop.example:8080", "/").await.backend(), "staging-1");
    assert_eq!(get(lb.addr, "shop.example:80", "/x?y=1").await.backend(), "prod-1");
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let mut table = RoutingTable::empty();
    table.insert("rr.example", route("rr", "prod", vec![a.upstream(), b.upstream()]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let client = client();
    let mut hits: HashMap<String, usize> = HashMap::new();
    for _ in 0..100 {
        let answer = send(&client, lb.addr, "rr.example", "/").await.unwrap();
        *hits.entry(answer.backend().to_owned()).or_default() += 1;
    }
    assert_eq!(hits["a"], 50, "{hits:?}");
    assert_eq!(hits["b"], 50, "{hits:?}");

    let stats = lb.lb.stats();
    let route = &stats.routes["rr.example"];
    assert_eq!((route.app.as_str(), route.env.as_str()), ("rr", "prod"));
    assert_eq!(route.totals.requests, 100);
    assert_eq!(route.totals.status_2xx, 100);
    assert_eq!(route.upstreams["a"].status_2xx, 50);
    assert_eq!(route.upstreams["b"].status_2xx, 50);
}

#[tokio::test]
async fn unknown_host_is_404_and_names_the_host_only() {
    let backend = Backend::start("secret-instance").await;
    let mut table = RoutingTable::empty();
    table.insert("known.example", route("app", "prod", vec![backend.upstream()]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let answer = get(lb.addr, "nobody.example", "/").await;
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("Sprout: no environment answers for host nobody.example"));
    assert!(!answer.body.contains("known.example"), "{}", answer.body);
    assert!(!answer.body.contains("secret-instance"), "{}", answer.body);
    assert!(!answer.body.contains("127.0.0.1"), "{}", answer.body);
    assert_eq!(lb.lb.stats().unrouted.status_4xx, 1);
}

#[tokio::test]
async fn empty_environment_is_503_with_retry_after() {
    let mut table = RoutingTable::empty();
    table.insert("empty.example", route("app", "prod", vec![]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let answer = get(lb.addr, "empty.example", "/").await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.headers["retry-after"], "1");
    assert!(answer.body.contains("no in-service instance"), "{}", answer.body);
    assert_eq!(lb.lb.stats().routes["empty.example"].totals.status_5xx, 1);
}

#[tokio::test]
async fn publishing_while_requests_run_switches_with_no_failure() {
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;
    let mut table = RoutingTable::empty();
    table.insert("swap.example", route("app", "prod", vec![blue.upstream()]));
    let lb = Lb::start(LbConfig::default(), table).await;
    assert_eq!(lb.lb.table().routes["swap.example"].upstreams[0].instance, "blue");

    // Several clients hammer the host while the table flips between blue and green.
    let addr = lb.addr;
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(tokio::spawn(async move {
            let client = client();
            let mut seen = Vec::new();
            for _ in 0..100 {
                let answer = send(&client, addr, "swap.example", "/").await.unwrap();
                assert_eq!(answer.status, 200, "{}", answer.body);
                seen.push(answer.backend().to_owned());
            }
            seen
        }));
    }
    for flip in 0..50 {
        let upstream = if flip % 2 == 0 { green.upstream() } else { blue.upstream() };
        let mut table = RoutingTable::empty();
        table.insert("swap.example", route("app", "prod", vec![upstream]));
        lb.lb.publish(table);
        tokio::task::yield_now().await;
    }
    let mut table = RoutingTable::empty();
    table.insert("swap.example", route("app", "prod", vec![green.upstream()]));
    lb.lb.publish(table);
    for worker in workers {
        let seen = worker.await.unwrap();
        assert!(seen.iter().all(|name| name == "blue" || name == "green"));
    }
    // After the last publish every request goes to green.
    for _ in 0..5 {
        assert_eq!(get(lb.addr, "swap.example", "/").await.backend(), "green");
    }
    let stats = lb.lb.stats();
    assert_eq!(stats.routes["swap.example"].totals.status_5xx, 0);
}
