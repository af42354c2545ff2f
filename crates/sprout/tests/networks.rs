//! Instance networks on real Docker (issue 18): more instances than Docker's own address pools
//! hold (about 31 networks) launch and serve, each on a subnet of Sprout's pool; a pool made
//! deliberately tiny is refused clearly (one event, a cause in `sprout health`) and recovers when
//! instances go; a restarted server keeps its instances' subnets and hands out no overlapping one.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::collections::BTreeMap;

use common::*;
use ipnet::Ipv4Net;

/// Subnet of each network of `app`, by network name.
fn subnets(app: &str) -> BTreeMap<String, Ipv4Net> {
    let ids = networks_of(app);
    if ids.is_empty() {
        return BTreeMap::new();
    }
    let mut args = vec!["network", "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{end}}"];
    args.extend(ids.iter().map(String::as_str));
    docker(&args)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.parse().ok()?))
        })
        .collect()
}

fn assert_apart(subnets: &BTreeMap<String, Ipv4Net>) {
    let all: Vec<(&String, &Ipv4Net)> = subnets.iter().collect();
    for (i, (a, x)) in all.iter().enumerate() {
        for (b, y) in &all[i + 1..] {
            assert!(!x.contains(*y) && !y.contains(*x), "{a} ({x}) and {b} ({y}) overlap");
        }
    }
}

fn in_service(server: &Server, env: &str) -> Vec<String> {
    let status = server.status(env);
    let instances = status["instances"].as_array().cloned().unwrap_or_default();
    instances
        .iter()
        .filter(|i| i["in_service"] == true)
        .filter_map(|i| i["address"].as_str().map(String::from))
        .collect()
}

/// Wait until `n` instances of `env` are in service; on giving up, say what the server saw.
fn wait_in_service(server: &Server, env: &str, n: usize, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if in_service(server, env).len() == n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!(
        "gave up after {secs}s waiting for {n} instances of {env} in service:\n{}\n{}\nserver log tail:\n{}",
        server.cli_ok(&["status", env]),
        server.cli_ok(&["events", env, "--limit", "40"]),
        tail(&server.log(), 40)
    );
}

fn health_causes(server: &Server, env: &str) -> String {
    let health: serde_json::Value = serde_json::from_str(&server.cli_ok(&["health", env, "--output", "json"])).unwrap();
    health["causes"].to_string()
}

#[test]
fn more_instances_than_dockers_own_pools_hold_launch_and_serve_on_subnets_of_the_pool() {
    require_example_images();
    let app = unique_app("many");
    let server = Server::start(&app);
    let bundle = hog_bundle(None);
    let started = std::time::Instant::now();
    server.cli_ok(&[
        "create",
        "many",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--label",
        "one",
        "--instances",
        "40",
        "--timeout",
        "600",
    ]);
    println!("40 instances in service {:.1} s after create", started.elapsed().as_secs_f64());
    let addresses = in_service(&server, "many");
    assert_eq!(addresses.len(), 40, "{addresses:?}");
    // Each answers at its own address on its own network, and through the load balancer.
    for address in &addresses {
        let (status, _) = http_get(address, "localhost", "/health").unwrap();
        assert_eq!(status, 200, "{address}");
    }
    assert_eq!(server.get("many", "/health").unwrap().0, 200);
    let subnets = subnets(&app);
    assert_eq!(subnets.len(), 40, "one network per instance: {subnets:?}");
    let pool: Ipv4Net = "100.80.0.0/16".parse().unwrap();
    assert!(subnets.values().all(|s| pool.contains(s) && s.prefix_len() == 28), "{subnets:?}");
    assert_apart(&subnets);
    // Each network holds its own instance's container and nothing else.
    let mut args = vec!["network", "inspect", "-f", "{{len .Containers}}"];
    let ids = networks_of(&app);
    args.extend(ids.iter().map(String::as_str));
    let members: Vec<String> = docker(&args).lines().map(String::from).collect();
    assert_eq!(members, vec!["1".to_string(); 40]);
    assert!(!server.cli_ok(&["events", "many", "--limit", "500"]).contains("failed to launch"));
}

#[test]
fn a_tiny_pool_is_refused_once_with_the_flag_shown_in_health_and_recovers_when_instances_go() {
    require_example_images();
    let app = unique_app("tiny");
    let mut server = Server::start(&app);
    // Room for 2 subnets of /28, in a block of this process's own (tests run side by side).
    let pool = format!("100.126.{}.0/27", std::process::id() % 250);
    server.stop(false);
    server.extra_args = vec!["--instance-network-pool".into(), pool.clone()];
    server.spawn();
    let bundle = hog_bundle(None);
    let bundle = bundle.path().to_str().unwrap();
    server.cli_ok(&["create", "a", "--bundle", bundle, "--label", "one", "--instances", "2"]);
    server.cli_ok(&["create", "b", "--bundle", bundle, "--label", "one", "--instances", "1", "--no-wait"]);

    let mut causes = String::new();
    eventually("b's launch failing twice, in health", 60, || {
        causes = health_causes(&server, "b");
        causes.contains("instances fail to launch (2 times since") || causes.contains("(3 times since")
    });
    let full = format!("the instance network pool {pool} is full: all 2 subnets of /28 are in use");
    assert!(causes.contains(&full), "{causes}");
    let events = server.cli_ok(&["events", "b", "--limit", "100"]);
    assert_eq!(events.matches("failed to launch").count(), 1, "said once: {events}");
    assert!(events.contains(&full) && events.contains("--instance-network-pool"), "{events}");
    assert!(!events.contains("not found"), "{events}");

    server.cli_ok(&["terminate", "a", "--force"]);
    wait_in_service(&server, "b", 1, 60);
    assert_eq!(server.get("b", "/health").unwrap().0, 200);
    let events = server.cli_ok(&["events", "b", "--limit", "100"]);
    assert!(events.contains("Launch failure over after"), "{events}");
    assert!(!health_causes(&server, "b").contains("fail to launch"));
    let subnets = subnets(&app);
    assert_eq!(subnets.len(), 1);
    let pool: Ipv4Net = pool.parse().unwrap();
    assert!(subnets.values().all(|s| pool.contains(s)), "{subnets:?}");
}

#[test]
fn a_restarted_server_keeps_its_instances_subnets_and_hands_out_no_overlapping_one() {
    require_example_images();
    let app = unique_app("again");
    let mut server = Server::start(&app);
    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "r", "--bundle", bundle.path().to_str().unwrap(), "--label", "one", "--instances", "2"]);
    let before = subnets(&app);
    assert_eq!(before.len(), 2);

    server.stop(false);
    server.spawn();
    assert_eq!(server.log().matches("of 4096 in use").count(), 2, "each start says the pool's use: {}", server.log());
    server.cli_ok(&["scale", "r", "4"]);
    wait_in_service(&server, "r", 4, 90);
    let after = subnets(&app);
    assert_eq!(after.len(), 4, "{after:?}");
    for (name, subnet) in &before {
        assert_eq!(after.get(name), Some(subnet), "{name} kept its subnet");
    }
    assert_apart(&after);
    for address in in_service(&server, "r") {
        assert_eq!(http_get(&address, "localhost", "/health").unwrap().0, 200, "{address}");
    }
}
