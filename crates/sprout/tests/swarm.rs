//! The swarm engine against a real Docker Swarm (issue 17): a manager and two workers, each a
//! private dockerd in a network namespace of its own, and `sprout server --engine swarm` on the
//! manager. Four instances land on at least two nodes and requests through the load balancer
//! reach every one of those nodes; a rolling deploy across nodes drops no request; a drained
//! worker's instances move to the other nodes with no failed request, no NodeLost event and no
//! alert; a worker's engine stopped under steady traffic fails no request and its instances come
//! back on the remaining nodes. Each web container answers with its bundle file and the id of the node it
//! runs on (a Swarm template in its environment).

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::netns::NsCli;
use common::swarm::Swarm;
use common::*;

/// A web container serving a bundle file and its node's id from a volume of the node, and a
/// second container it links to (the instance's containers share one node).
fn bundle(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/greeting.txt"), format!("{greeting}\n")).unwrap();
    let def = serde_json::json!({
        "AWSEBDockerrunVersion": 2,
        "volumes": [
            {"name": "conf", "host": {"sourcePath": "/var/app/current/conf"}},
            {"name": "site"}
        ],
        "containerDefinitions": [
            {"name": "web", "image": BUSYBOX_IMAGE, "essential": true, "memory": 32, "cpu": 64,
             "links": ["side:helper"],
             "environment": [{"name": "NODE", "value": "{{.Node.ID}}"}],
             "command": ["sh", "-c", "cat /conf/greeting.txt > /site/index.html; echo $NODE >> /site/index.html; exec httpd -f -p 8080 -h /site"],
             "portMappings": [{"hostPort": 80, "containerPort": 8080}],
             "mountPoints": [
                {"sourceVolume": "conf", "containerPath": "/conf", "readOnly": true},
                {"sourceVolume": "site", "containerPath": "/site"}
             ]},
            {"name": "side", "image": BUSYBOX_IMAGE, "essential": true, "memory": 16, "cpu": 32,
             "command": ["sleep", "100000"]}
        ]
    });
    std::fs::write(dir.join("Dockerrun.aws.json"), def.to_string()).unwrap();
}

/// The node address of each in-service instance's web container.
fn instance_nodes(status: &serde_json::Value) -> Vec<(String, String)> {
    status["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["in_service"].as_bool().unwrap_or(true))
        .filter_map(|i| {
            let addr = i["address"].as_str().or_else(|| i["web_address"].as_str())?;
            Some((i["id"].as_str()?.to_string(), addr.rsplit_once(':')?.0.to_string()))
        })
        .collect()
}

struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(http: &str, host: &str) -> Traffic {
        let (stop, sent, failed) =
            (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let thread = {
            let (stop, sent, failed, http, host) =
                (stop.clone(), sent.clone(), failed.clone(), http.to_string(), host.to_string());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if http_get(&http, &host, "/").map(|r| r.0).unwrap_or(0) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Traffic { stop, sent, failed, thread: Some(thread) }
    }

    /// Stop and return (sent, failed).
    fn end(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

#[test]
fn instances_spread_over_a_swarm_serve_from_every_node_deploy_move_off_a_drained_worker_and_survive_a_lost_worker() {
    require_busybox_image();
    let work = tempfile::tempdir().unwrap();
    let Some(swarm) = Swarm::start("sw", 2, work.path(), &[BUSYBOX_IMAGE]) else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must be able to create network namespaces");
        eprintln!("skipped: cannot create network namespaces here (not root)");
        return;
    };
    let manager = &swarm.nodes[0].netns;
    let app = unique_app("swarm");
    let data_dir = work.path().join("data");
    let (api, http) = (format!("{}:4680", manager.inside), format!("{}:8080", manager.inside));
    let socket = swarm.manager().socket();
    let args = [
        "server",
        "--engine",
        "swarm",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--api",
        &api,
        "--http",
        &http,
        "--insecure-api",
    ];
    let log = work.path().join("server.log");
    let _server = manager.spawn(env!("CARGO_BIN_EXE_sprout"), &args, &[("DOCKER_HOST", &socket)], &log);
    let server_log = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually("the server answers", 30, || http_get(&api, "localhost", "/healthz").is_ok_and(|r| r.0 == 200));
    let cli = NsCli { api: api.clone(), data_dir, app: app.clone() };

    let nodes: serde_json::Value = serde_json::from_str(&cli.ok(&["nodes", "--output", "json"])).unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 3, "{nodes}");

    let one = tempfile::tempdir().unwrap();
    bundle(one.path(), "hello one");
    cli.ok(&["create", "web", "--bundle", one.path().to_str().unwrap(), "--label", "one", "--instances", "4"]);
    let placed = instance_nodes(&cli.status("web"));
    assert_eq!(placed.len(), 4, "{placed:?}\n{}", tail(&server_log(), 30));
    let addresses: BTreeSet<&str> = placed.iter().map(|(_, a)| a.as_str()).collect();
    assert!(addresses.len() >= 2, "4 instances on at least 2 nodes: {placed:?}");
    for a in &addresses {
        assert!(swarm.node_at(a).is_some(), "{a} is a node of the swarm");
    }

    // Requests through the load balancer reach every node that runs an instance.
    let host = format!("web.{app}.localhost");
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        let (status, body) = http_get(&http, &host, "/").unwrap();
        assert_eq!(status, 200, "{body}");
        let mut lines = body.lines();
        assert_eq!(lines.next(), Some("hello one"), "the bundle file reached the node");
        seen.insert(lines.next().unwrap_or_default().to_string());
    }
    let expected: BTreeSet<String> =
        addresses.iter().map(|a| swarm.nodes[swarm.node_at(a).unwrap()].id.clone()).collect();
    assert_eq!(seen, expected, "answers came from every node that runs an instance");

    // A rolling deploy across the nodes drops no request.
    let traffic = Traffic::start(&http, &host);
    let two = tempfile::tempdir().unwrap();
    bundle(two.path(), "hello two");
    cli.ok(&[
        "deploy",
        "web",
        "--bundle",
        two.path().to_str().unwrap(),
        "--label",
        "two",
        "--policy",
        "rolling",
        "--batch-size",
        "2",
    ]);
    let (sent, failed) = traffic.end();
    assert_eq!(failed, 0, "{failed} of {sent} requests failed during the rolling deploy\n{}", tail(&server_log(), 40));
    assert!(http_get(&http, &host, "/").unwrap().1.starts_with("hello two"));

    // A worker drained: its instances move to the other nodes under traffic, with no NodeLost
    // event and no alert (a webhook that refuses keeps every notification in `notify log`).
    let refusing = format!("http://{}:9/hook", swarm.lan.inside);
    cli.ok(&["notify", "add", "web", "--webhook", &refusing]);
    let placed = instance_nodes(&cli.status("web"));
    let drained = (1..swarm.nodes.len())
        .max_by_key(|&i| placed.iter().filter(|(_, a)| *a == swarm.nodes[i].netns.inside).count())
        .unwrap();
    let drained_addr = swarm.nodes[drained].netns.inside.clone();
    assert!(placed.iter().any(|(_, a)| *a == drained_addr), "the worker drained runs an instance: {placed:?}");
    let traffic = Traffic::start(&http, &host);
    let id = swarm.nodes[drained].id.clone();
    assert!(swarm.manager().docker(&["node", "update", "--availability", "drain", &id]).is_some());
    eventually("4 instances in service again, none on the drained worker", 120, || {
        let now = instance_nodes(&cli.status("web"));
        now.len() == 4 && now.iter().all(|(_, a)| *a != drained_addr)
    });
    let (sent, failed) = traffic.end();
    assert_eq!(failed, 0, "{failed} of {sent} requests failed while a worker was drained\n{}", tail(&server_log(), 40));
    let nodes: serde_json::Value = serde_json::from_str(&cli.ok(&["nodes", "--output", "json"])).unwrap();
    let node = nodes.as_array().unwrap().iter().find(|n| n["address"] == drained_addr.as_str()).unwrap();
    assert_eq!((node["state"].as_str(), node["availability"].as_str()), (Some("ready"), Some("drain")), "{nodes}");
    let events: serde_json::Value =
        serde_json::from_str(&cli.ok(&["events", "web", "--limit", "500", "--output", "json"])).unwrap();
    let unplanned: Vec<&serde_json::Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["NodeLost", "InstanceUnhealthy", "CrashLoop"].contains(&e["kind"].as_str().unwrap_or_default()))
        .collect();
    assert!(unplanned.is_empty(), "draining is planned: {unplanned:?}");
    assert!(events.to_string().contains("its node was drained"), "{events}");
    let log: serde_json::Value =
        serde_json::from_str(&cli.ok(&["notify", "log", "--limit", "100", "--output", "json"])).unwrap();
    let alerts: Vec<&serde_json::Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| ["warning", "critical"].contains(&d["severity"].as_str().unwrap_or_default()))
        .collect();
    assert!(alerts.is_empty(), "no alert for a drained node: {alerts:?}");
    assert!(swarm.manager().docker(&["node", "update", "--availability", "active", &id]).is_some());

    // A worker's engine stops under steady traffic: its instances come back elsewhere.
    let placed = instance_nodes(&cli.status("web"));
    let lost = (1..swarm.nodes.len())
        .max_by_key(|&i| placed.iter().filter(|(_, a)| *a == swarm.nodes[i].netns.inside).count())
        .unwrap();
    let lost_addr = swarm.nodes[lost].netns.inside.clone();
    assert!(placed.iter().any(|(_, a)| *a == lost_addr), "the worker stopped runs an instance: {placed:?}");
    let traffic = Traffic::start(&http, &host);
    std::thread::sleep(Duration::from_secs(1));
    let mut swarm = swarm;
    swarm.nodes[lost].engine.stop();
    eventually("the manager marks the worker down", 60, || swarm.state(lost) == "down");
    eventually("4 instances in service again, none on the lost worker", 120, || {
        let now = instance_nodes(&cli.status("web"));
        now.len() == 4 && now.iter().all(|(_, a)| *a != lost_addr)
    });
    std::thread::sleep(Duration::from_secs(1));
    let (sent, failed) = traffic.end();
    assert_eq!(failed, 0, "{failed} of {sent} requests failed while a worker was lost\n{}", tail(&server_log(), 40));
    let nodes: serde_json::Value = serde_json::from_str(&cli.ok(&["nodes", "--output", "json"])).unwrap();
    let down = nodes.as_array().unwrap().iter().find(|n| n["address"] == lost_addr.as_str()).unwrap();
    assert_eq!(down["state"], "down", "{nodes}");
    let events: serde_json::Value =
        serde_json::from_str(&cli.ok(&["events", "web", "--limit", "500", "--output", "json"])).unwrap();
    let lost_events: Vec<&serde_json::Value> =
        events.as_array().unwrap().iter().filter(|e| e["kind"] == "NodeLost").collect();
    assert_eq!(lost_events.len(), 1, "one event for the lost node: {events}");
    assert!(lost_events[0]["message"].as_str().unwrap().contains(&lost_addr), "{events}");
    cli.ok(&["terminate", "web", "--force"]);
}
