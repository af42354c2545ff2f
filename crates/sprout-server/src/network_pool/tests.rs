use std::collections::BTreeMap;

use sprout_engine::FakeEngine;

use super::*;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn pool(cidr: &str) -> NetworkPool {
    NetworkPool::new(SubnetPool::new(net(cidr), 28).unwrap())
}

fn spec(name: &str) -> NetworkSpec {
    let labels = BTreeMap::from([(LABEL_MANAGED.to_string(), "true".to_string())]);
    NetworkSpec { name: name.into(), labels, subnet: None, placement: Vec::new() }
}

#[tokio::test]
async fn subnets_are_given_lowest_first_and_released_with_their_network() {
    let engine = FakeEngine::new();
    let p = pool("100.80.0.0/16");
    assert_eq!(p.create_network(&engine, &spec("a"), 4).await.unwrap(), net("100.80.0.0/28"));
    assert_eq!(p.create_network(&engine, &spec("b"), 4).await.unwrap(), net("100.80.0.16/28"));
    // Many containers: a larger subnet, aligned.
    assert_eq!(p.create_network(&engine, &spec("big"), 20).await.unwrap(), net("100.80.0.32/27"));
    assert_eq!(p.usage(), (3, 4096));
    engine.remove_network("a").await.unwrap();
    p.release("a");
    assert_eq!(p.create_network(&engine, &spec("c"), 4).await.unwrap(), net("100.80.0.0/28"));
    let on_engine: Vec<Option<Ipv4Net>> = engine.networks().iter().map(|n| n.subnet).collect();
    assert_eq!(on_engine.len(), 3);
}

#[tokio::test]
async fn a_restarted_server_keeps_the_subnets_in_use_and_gives_out_no_overlapping_one() {
    let engine = FakeEngine::new();
    let before = pool("100.80.0.0/16");
    for name in ["a", "b", "c"] {
        before.create_network(&engine, &spec(name), 4).await.unwrap();
    }
    engine.remove_network("b").await.unwrap();
    let after = pool("100.80.0.0/16");
    assert_eq!(after.check_and_adopt(&engine, &[]).await.unwrap(), 2);
    assert_eq!(after.subnet_of("a"), Some(net("100.80.0.0/28")));
    assert_eq!(after.create_network(&engine, &spec("d"), 4).await.unwrap(), net("100.80.0.16/28"));
    assert_eq!(after.create_network(&engine, &spec("e"), 4).await.unwrap(), net("100.80.0.48/28"));
}

#[tokio::test]
async fn a_subnet_another_server_took_meanwhile_is_stepped_over() {
    let engine = FakeEngine::new();
    let p = pool("100.80.0.0/16");
    let mut other = spec("other-server");
    other.subnet = Some(net("100.80.0.0/28"));
    engine.create_network(&other).await.unwrap();
    assert_eq!(p.create_network(&engine, &spec("a"), 4).await.unwrap(), net("100.80.0.16/28"));
    assert_eq!(p.create_network(&engine, &spec("b"), 4).await.unwrap(), net("100.80.0.32/28"));
    // Another server made many since: one refusal, then one look at the engine learns them all.
    let from = u32::from(std::net::Ipv4Addr::new(100, 80, 0, 48));
    for i in 0..20 {
        let mut theirs = spec(&format!("theirs-{i}"));
        theirs.subnet = Some(Ipv4Net::new((from + i * 16).into(), 28).unwrap());
        engine.create_network(&theirs).await.unwrap();
    }
    engine.clear_calls();
    assert_eq!(p.create_network(&engine, &spec("c"), 4).await.unwrap(), net("100.80.1.112/28"));
    assert_eq!(engine.calls_matching("create_network").len(), 2, "{:?}", engine.calls());
}

#[tokio::test]
async fn a_full_pool_is_a_clear_error_and_recovers_when_subnets_are_freed() {
    let engine = FakeEngine::new();
    let p = pool("100.80.0.0/27");
    p.create_network(&engine, &spec("a"), 4).await.unwrap();
    p.create_network(&engine, &spec("b"), 4).await.unwrap();
    let err = p.create_network(&engine, &spec("c"), 4).await.unwrap_err();
    assert!(matches!(err, NetworkError::Pool(PoolError::Exhausted { subnets: 2, .. })), "{err}");
    let text = err.to_string();
    assert!(text.contains("100.80.0.0/27") && text.contains("--instance-network-pool"), "{text}");
    assert!(engine.networks().iter().all(|n| n.name != "c"), "nothing is created");
    // Removed behind the pool's back (by hand, or by another server): found when it looks again.
    engine.remove_network("b").await.unwrap();
    assert_eq!(p.create_network(&engine, &spec("c"), 4).await.unwrap(), net("100.80.0.16/28"));
}

#[tokio::test]
async fn an_engine_failure_other_than_overlap_releases_the_reservation_and_is_said() {
    let engine = FakeEngine::new();
    let p = pool("100.80.0.0/16");
    let refusal = EngineError::Permanent {
        operation: "create_network",
        name: "a".into(),
        message: "failed to create bridge: operation not permitted".into(),
    };
    engine.fail_next("create_network", "a", refusal.clone());
    let err = p.create_network(&engine, &spec("a"), 4).await.unwrap_err();
    assert_eq!(err.to_string(), refusal.to_string());
    assert_eq!(p.usage().0, 0);
}

fn route(dest: &str, iface: &str) -> Route {
    Route { dest: net(dest), iface: iface.into() }
}

#[tokio::test]
async fn a_pool_that_overlaps_the_hosts_routes_or_others_networks_is_refused_with_a_free_one_named() {
    let engine = FakeEngine::new();
    let p = pool("100.80.0.0/16");
    let err = p.check_and_adopt(&engine, &[route("100.80.0.0/12", "tailscale0")]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the instance network pool 100.80.0.0/16 overlaps the host's route to 100.80.0.0/12 (dev tailscale0): \
         instances there would be unreachable or cut the host off from those addresses; start the server with a \
         free range, e.g. --instance-network-pool 100.65.0.0/16"
    );
    let mut theirs = NetworkSpec { name: "lab".into(), ..NetworkSpec::default() };
    theirs.subnet = Some(net("100.80.8.0/24"));
    engine.create_network(&theirs).await.unwrap();
    let err = p.check_and_adopt(&engine, &[route("192.0.2.0/24", "eth0")]).await.unwrap_err().to_string();
    assert!(err.contains("overlaps Docker network lab (100.80.8.0/24), which Sprout did not create"), "{err}");
    assert!(err.contains("--instance-network-pool 100.65.0.0/16"), "{err}");
    // Sprout's own networks in the pool, and Docker's bridges beside it, are fine.
    engine.remove_network("lab").await.unwrap();
    p.create_network(&engine, &spec("mine"), 4).await.unwrap();
    let fresh = pool("100.80.0.0/16");
    assert_eq!(fresh.check_and_adopt(&engine, &[route("172.17.0.0/16", "docker0")]).await.unwrap(), 1);
}
