//! A Docker engine and Sprout processes of a test's own, in a network namespace of their own,
//! so a test may stop, fill or lock what it likes without touching the machine's own engine
//! (../shared/notes/multi-node-swarm.md). The namespace is joined to the host by a veth pair:
//! the host is 10.233.N.1, the namespace 10.233.N.2; traffic goes only there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{eventually, text};

pub fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A network namespace joined to the host by a veth pair.
pub struct Netns {
    pub name: String,
    host_veth: String,
    /// The namespace's address, where its processes listen.
    pub inside: String,
}

impl Netns {
    /// None when this process may not create one (not root).
    pub fn create(tag: &str) -> Option<Netns> {
        let n = std::process::id() % 200 + 20;
        let (name, host_veth, peer) = (format!("sprout-{tag}{n}"), format!("sp{tag}{n}h"), format!("sp{tag}{n}n"));
        let (host, inside) = (format!("10.233.{n}.1"), format!("10.233.{n}.2"));
        let ns = Netns { name: name.clone(), host_veth: host_veth.clone(), inside: inside.clone() };
        let steps: [&[&str]; 8] = [
            &["netns", "add", &name],
            &["link", "add", &host_veth, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &name],
            &["addr", "add", &format!("{host}/24"), "dev", &host_veth],
            &["link", "set", &host_veth, "up"],
            &["-n", &name, "addr", "add", &format!("{inside}/24"), "dev", &peer],
            &["-n", &name, "link", "set", &peer, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        steps.iter().all(|args| run("ip", args)).then_some(ns)
    }

    /// A namespace holding a bridge, joined to the host by a veth pair: the private LAN of a
    /// test's cluster (host 10.234.N.1). Machines join it with `on_lan`.
    pub fn lan(tag: &str) -> Option<Netns> {
        let n = std::process::id() % 200 + 20;
        let (name, host_veth, peer) = (format!("sprout-{tag}{n}"), format!("sp{tag}{n}h"), format!("sp{tag}{n}l"));
        let ns = Netns { name: name.clone(), host_veth: host_veth.clone(), inside: format!("10.234.{n}.1") };
        let steps: [&[&str]; 9] = [
            &["netns", "add", &name],
            &["-n", &name, "link", "add", "br0", "type", "bridge"],
            &["-n", &name, "link", "set", "br0", "up"],
            &["-n", &name, "link", "set", "lo", "up"],
            &["link", "add", &host_veth, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &name],
            &["-n", &name, "link", "set", &peer, "master", "br0", "up"],
            &["addr", "add", &format!("10.234.{n}.1/24"), "dev", &host_veth],
            &["link", "set", &host_veth, "up"],
        ];
        steps.iter().all(|args| run("ip", args)).then_some(ns)
    }

    /// Machine `i` (1 and up) of this LAN: a namespace of its own at 10.234.N.(i+1), which
    /// reaches the host and the other machines through the LAN's bridge.
    pub fn on_lan(&self, i: u8) -> Option<Netns> {
        let base = self.inside.trim_end_matches(".1");
        let tag = self.name.trim_start_matches("sprout-");
        let (name, bridge_end, peer) = (format!("{}-{i}", self.name), format!("sp{tag}b{i}"), format!("sp{tag}n{i}"));
        let inside = format!("{base}.{}", i + 1);
        let ns = Netns { name: name.clone(), host_veth: String::new(), inside: inside.clone() };
        let steps: [&[&str]; 8] = [
            &["netns", "add", &name],
            &["link", "add", &bridge_end, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &name],
            &["link", "set", &bridge_end, "netns", &self.name],
            &["-n", &self.name, "link", "set", &bridge_end, "master", "br0", "up"],
            &["-n", &name, "addr", "add", &format!("{inside}/24"), "dev", &peer],
            &["-n", &name, "link", "set", &peer, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        steps.iter().all(|args| run("ip", args)).then_some(ns)
    }

    /// `program` to be run inside the namespace. nsenter, not `ip netns exec`: the latter
    /// remounts /sys, and dockerd then finds no devices cgroup.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/var/run/netns/{}", self.name)).arg(program);
        c
    }

    /// Starts `program args` inside the namespace, its output appended to `log`.
    pub fn spawn(&self, program: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> NsProcess {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut c = self.command(program);
        c.args(args).stdout(out.try_clone().unwrap()).stderr(out);
        for (k, v) in env {
            c.env(k, v);
        }
        NsProcess { child: Some(c.spawn().unwrap_or_else(|e| panic!("start {program}: {e}"))) }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.host_veth.is_empty() {
            run("ip", &["link", "del", &self.host_veth]);
        }
        run("ip", &["netns", "del", &self.name]);
    }
}

/// A process in the namespace, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct NsProcess {
    child: Option<Child>,
}

impl NsProcess {
    /// SIGTERM (or SIGKILL) and wait for it to exit, at most 30 s.
    pub fn stop(&mut self, kill: bool) {
        if let Some(mut child) = self.child.take() {
            run("kill", &[if kill { "-KILL" } else { "-TERM" }, &child.id().to_string()]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// A dockerd of the test's own inside the namespace, with live-restore.
pub struct Dockerd {
    dir: PathBuf,
    netns: String,
    process: Option<NsProcess>,
}

impl Dockerd {
    pub fn new(dir: PathBuf, netns: &Netns) -> Dockerd {
        Dockerd::with_config(dir, netns, r#"{"live-restore": true}"#)
    }

    /// A dockerd with this daemon.json (a swarm node must not have live-restore).
    pub fn with_config(dir: PathBuf, netns: &Netns, config: &str) -> Dockerd {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("daemon.json"), config).unwrap();
        Dockerd { dir, netns: netns.name.clone(), process: None }
    }

    pub fn socket(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    pub fn start(&mut self, netns: &Netns) {
        assert_eq!(netns.name, self.netns);
        let d = |name: &str| self.dir.join(name).display().to_string();
        let socket = self.socket();
        let args = [
            "--config-file",
            &d("daemon.json"),
            "--data-root",
            &d("root"),
            "--exec-root",
            &d("exec"),
            "--pidfile",
            &d("pid"),
            "-H",
            &socket,
            "--containerd-namespace",
            "sproutns",
            "--containerd-plugins-namespace",
            "sproutnsp",
            "--cgroup-parent",
            "sproutns",
            "--storage-driver",
            "fuse-overlayfs",
        ];
        self.process = Some(netns.spawn("dockerd", &args, &[], &self.dir.join("log")));
        eventually("the test's dockerd answers", 60, || self.docker(&["info"]).is_some());
    }

    /// Stops the engine as `systemctl restart docker` would: SIGTERM, then wait for it to exit.
    /// With live-restore its containers keep running.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop(false);
        }
    }

    pub fn docker(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("docker").args(args).env("DOCKER_HOST", self.socket()).output().ok()?;
        out.status.success().then(|| text(&out.stdout))
    }

    /// Copies images from the machine's engine into this one (no registry is reachable).
    pub fn load(&self, images: &[&str]) {
        let saved = self.dir.join("images.tar");
        let mut args = vec!["save", "-o", saved.to_str().unwrap()];
        args.extend(images);
        assert!(run("docker", &args), "docker save {images:?}");
        assert!(
            self.docker(&["load", "-i", saved.to_str().unwrap()]).is_some(),
            "images loaded into the test's engine"
        );
        let _ = std::fs::remove_file(saved);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if self.process.is_some()
            && let Some(ids) = self.docker(&["ps", "-aq"])
        {
            for id in ids.lines() {
                self.docker(&["rm", "-f", id]);
            }
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The CLI against a server in the namespace.
pub struct NsCli {
    pub api: String,
    pub data_dir: PathBuf,
    pub app: String,
}

impl NsCli {
    pub fn output(&self, args: &[&str]) -> std::process::Output {
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap_or_default();
        Command::new(env!("CARGO_BIN_EXE_sprout"))
            .args(args)
            .env("SPROUT_URL", format!("http://{}", self.api))
            .env("SPROUT_TOKEN", token.trim())
            .env("SPROUT_APP", &self.app)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "sprout {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    pub fn status(&self, env: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", env, "--output", "json"])).unwrap()
    }
}
