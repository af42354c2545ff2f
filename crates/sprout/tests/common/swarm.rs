//! A Docker Swarm of the test's own: a manager and workers, each a private dockerd in a network
//! namespace of its own on a private LAN (`Netns::lan`), images copied in with `docker save |
//! docker load` (../shared/notes/multi-node-swarm.md). The machine's own engine never joins it.

use std::path::Path;

use super::eventually;
use super::netns::{Dockerd, Netns};

/// One machine of the swarm.
pub struct Node {
    pub engine: Dockerd,
    pub netns: Netns,
    /// Swarm's id for it.
    pub id: String,
}

/// A swarm: `nodes[0]` is the manager. Stopped and removed when dropped.
pub struct Swarm {
    // Dropped first: the engines, then their namespaces, then the LAN.
    pub nodes: Vec<Node>,
    pub lan: Netns,
}

impl Swarm {
    /// A manager and `workers` workers with `images` loaded, the dispatcher heartbeat at 1 s so
    /// a stopped node is marked down quickly. None when this process may not make namespaces.
    pub fn start(tag: &str, workers: u8, dir: &Path, images: &[&str]) -> Option<Swarm> {
        let lan = Netns::lan(tag)?;
        let mut nodes = Vec::new();
        for i in 1..=workers + 1 {
            let netns = lan.on_lan(i)?;
            let mut engine = Dockerd::with_config(dir.join(format!("node{i}")), &netns, "{}");
            engine.start(&netns);
            engine.load(images);
            nodes.push(Node { engine, netns, id: String::new() });
        }
        let manager = &nodes[0];
        let addr = manager.netns.inside.clone();
        let init = [
            "swarm",
            "init",
            "--advertise-addr",
            &addr,
            "--listen-addr",
            &format!("{addr}:2377"),
            "--dispatcher-heartbeat",
            "1s",
        ];
        assert!(manager.engine.docker(&init).is_some(), "docker swarm init on the manager");
        let token = manager.engine.docker(&["swarm", "join-token", "-q", "worker"]).unwrap().trim().to_string();
        for node in &nodes[1..] {
            let a = node.netns.inside.clone();
            let join =
                ["swarm", "join", "--token", &token, "--advertise-addr", &a, "--listen-addr", &format!("{a}:2377")];
            let mut args = join.to_vec();
            let remote = format!("{addr}:2377");
            args.push(&remote);
            assert!(node.engine.docker(&args).is_some(), "docker swarm join from {a}");
        }
        for node in &mut nodes {
            node.id = node.engine.docker(&["info", "--format", "{{.Swarm.NodeID}}"]).unwrap().trim().to_string();
        }
        let swarm = Swarm { nodes, lan };
        eventually("every node ready", 60, || {
            let ls = swarm.manager().docker(&["node", "ls", "--format", "{{.Status}}"]).unwrap_or_default();
            ls.lines().filter(|s| s.trim() == "Ready").count() == swarm.nodes.len()
        });
        Some(swarm)
    }

    pub fn manager(&self) -> &Dockerd {
        &self.nodes[0].engine
    }

    /// The node whose address is `addr`.
    pub fn node_at(&self, addr: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.netns.inside == addr)
    }

    /// The manager's view of a node's state (`ready`, `down`).
    pub fn state(&self, i: usize) -> String {
        let format = "{{.Status.State}}";
        self.manager()
            .docker(&["node", "inspect", &self.nodes[i].id, "--format", format])
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}
