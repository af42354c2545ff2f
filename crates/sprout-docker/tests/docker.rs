//! DockerEngine against the real local daemon, with a busybox image built offline from the host's
//! static busybox (Debian's `busybox-static`). Each test labels what it creates with a unique
//! value and removes it on drop, pass or fail.
//!
//! A missing daemon fails these tests loudly; set SPROUT_SKIP_DOCKER_TESTS=1 to skip them.
#![allow(clippy::disallowed_methods)] // unique names for objects on the real engine

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use sprout_docker::DockerEngine;
use sprout_engine::{
    ContainerSpec, ContainerState, DockerHealth, Engine, EngineError, HealthcheckSpec, NetworkSpec, PortSpec,
};

const IMAGE: &str = "sprout-test/busybox:latest";
const BUSYBOX: &str = "/bin/busybox";
const TEST_LABEL: &str = "sprout.test";

/// Connect, or return None when the tests are explicitly skipped or busybox is truly missing.
async fn engine() -> Option<DockerEngine> {
    if std::env::var("SPROUT_SKIP_DOCKER_TESTS").as_deref() == Ok("1") {
        eprintln!("SPROUT_SKIP_DOCKER_TESTS=1: skipping Docker tests");
        return None;
    }
    let engine = DockerEngine::connect()
        .await
        .unwrap_or_else(|e| panic!("Docker tests need a running daemon ({e}); set SPROUT_SKIP_DOCKER_TESTS=1 to skip"));
    if !Path::new(BUSYBOX).exists() {
        eprintln!("{BUSYBOX} is missing (apt-get install busybox-static): skipping Docker tests");
        return None;
    }
    build_image();
    Some(engine)
}

/// Build `sprout-test/busybox` from scratch with no registry: the static busybox, its applets
/// as symlinks, and a page for httpd. Serialized, and skipped when the image exists.
fn build_image() {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let present = Command::new("docker").args(["image", "inspect", IMAGE]).output().expect("run docker");
    if present.status.success() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sprout-busybox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "httpd", "wget", "sleep", "true", "nc", "cat", "echo", "seq"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.join("www/index.html"), "hello from sprout\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY bin /bin\nCOPY www /www\nENV PATH=/bin\nCMD [\"sh\"]\n")
        .unwrap();
    let out = Command::new("docker").args(["build", "-q", "-t", IMAGE]).arg(&dir).output().expect("run docker build");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "docker build failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Everything a test creates carries `sprout.test=<unique>`; dropping this removes it all.
struct Scope {
    id: String,
}

impl Scope {
    fn new(test: &str) -> Scope {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        Scope { id: format!("{test}-{}-{nanos}", std::process::id()) }
    }

    fn name(&self, suffix: &str) -> String {
        format!("sprout-test-{}-{suffix}", self.id)
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(TEST_LABEL.to_string(), self.id.clone())])
    }

    fn network(&self) -> NetworkSpec {
        NetworkSpec { name: self.name("net"), labels: self.labels(), subnet: None, placement: Vec::new() }
    }

    fn container(&self, suffix: &str, command: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: self.name(suffix),
            image: IMAGE.to_string(),
            labels: self.labels(),
            network: self.name("net"),
            aliases: vec![suffix.to_string()],
            command: Some(command.iter().map(|s| s.to_string()).collect()),
            ..ContainerSpec::default()
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Synchronous CLI calls: Drop cannot await, and this must run even while panicking.
        let filter = format!("label={TEST_LABEL}={}", self.id);
        let ids = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output();
        for id in ids.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default().split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", id]).output();
        }
        let nets = Command::new("docker").args(["network", "ls", "-q", "--filter", &filter]).output();
        for id in nets.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default().split_whitespace() {
            let _ = Command::new("docker").args(["network", "rm", id]).output();
        }
    }
}

/// Poll `inspect_container` until `done` holds, for at most `limit`.
async fn wait_for(
    engine: &DockerEngine,
    name: &str,
    limit: Duration,
    done: impl Fn(&sprout_engine::ContainerStatus) -> bool,
) -> sprout_engine::ContainerStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let status = engine.inspect_container(name).await.unwrap();
        if done(&status) || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    Ok(body)
}

#[tokio::test]
async fn instance_on_its_network_serves_and_is_listed() {
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("serve");
    assert!(engine.image_present(IMAGE).await.unwrap());
    assert!(engine.inspect_image(IMAGE).await.unwrap().size_bytes > 0);
    engine.create_network(&scope.network()).await.unwrap();

    let mut web = scope.container("web", &["httpd", "-f", "-p", "80", "-h", "/www"]);
    web.ports =
        vec![PortSpec { container_port: 80, protocol: "tcp".into(), host_ip: "127.0.0.1".into(), host_port: None }];
    web.env = vec![("GREETING".into(), "hi".into())];
    web.healthcheck = Some(HealthcheckSpec {
        test: vec![
            "CMD".into(),
            "wget".into(),
            "-q".into(),
            "-O".into(),
            "/dev/null".into(),
            "http://127.0.0.1/".into(),
        ],
        interval_s: 1,
        timeout_s: 1,
        retries: 3,
        start_period_s: 0,
    });
    // The client reaches the server by its alias on the instance network.
    let client = scope.container(
        "client",
        &["sh", "-c", "for i in $(seq 50); do wget -q -O- http://web/ && break; sleep 0.2; done; sleep 1000"],
    );
    engine.create_container(&web).await.unwrap();
    engine.create_container(&client).await.unwrap();
    // Created, not started: listed from the list alone (not inspected), with what the
    // controller needs to judge it.
    let created = engine.list_containers(&scope.labels()).await.unwrap();
    assert_eq!(created.len(), 2);
    for c in &created {
        assert_eq!(c.state, ContainerState::Created, "{c:?}");
        assert!(c.name == web.name || c.name == client.name, "{c:?}");
        assert_eq!(c.labels[TEST_LABEL], scope.id);
        assert_eq!(c.image, IMAGE);
        assert!(!c.id.is_empty() && c.exit_code.is_none() && c.started_at.is_empty());
    }
    engine.start_container(&web.name).await.unwrap();
    engine.start_container(&client.name).await.unwrap();
    engine.start_container(&web.name).await.expect("starting a running container is success");

    let status = engine.inspect_container(&web.name).await.unwrap();
    assert_eq!(status.state, ContainerState::Running);
    assert_eq!(status.name, web.name);
    assert_eq!(status.image, IMAGE);
    assert!(!status.started_at.is_empty());
    assert_eq!(status.finished_at, "");
    let port = status.ports.iter().find(|p| p.container_port == 80).expect("published port 80");
    assert_eq!(port.host_ip, "127.0.0.1");
    assert_ne!(port.host_port, 0);

    let mut body = Err(std::io::Error::other("not tried"));
    for _ in 0..50 {
        body = http_get(port.host_port);
        if body.as_ref().is_ok_and(|b| b.contains("hello from sprout")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.as_ref().unwrap().contains("hello from sprout"), "{body:?}");

    let healthy =
        wait_for(&engine, &web.name, Duration::from_secs(20), |s| s.health == Some(DockerHealth::Healthy)).await;
    assert_eq!(healthy.health, Some(DockerHealth::Healthy));

    let mut logs = String::new();
    for _ in 0..50 {
        logs = engine.container_logs(&client.name, 10).await.unwrap();
        if logs.contains("hello from sprout") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(logs.contains("hello from sprout"), "client could not reach web by alias: {logs:?}");

    let listed = engine.list_containers(&scope.labels()).await.unwrap();
    let names: Vec<_> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [client.name.as_str(), web.name.as_str()]);
    assert!(listed.iter().all(|c| c.labels[TEST_LABEL] == scope.id));
    let nets = engine.list_networks(&scope.labels()).await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].name, scope.name("net"));

    // Running containers hold the network.
    let err = engine.remove_network(&scope.name("net")).await.unwrap_err();
    assert!(matches!(err, EngineError::Permanent { .. }), "{err:?}");
    for name in [&web.name, &client.name] {
        engine.remove_container(name).await.unwrap();
    }
    engine.remove_network(&scope.name("net")).await.unwrap();
    engine.remove_network(&scope.name("net")).await.unwrap();
    assert!(engine.list_containers(&scope.labels()).await.unwrap().is_empty());
}

#[tokio::test]
async fn exit_code_is_reported() {
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("exit");
    engine.create_network(&scope.network()).await.unwrap();
    let spec = scope.container("job", &["sh", "-c", "echo bye; exit 3"]);
    engine.create_container(&spec).await.unwrap();
    let created = engine.inspect_container(&spec.name).await.unwrap();
    assert_eq!((created.state, created.exit_code), (ContainerState::Created, None));
    engine.start_container(&spec.name).await.unwrap();
    let status = wait_for(&engine, &spec.name, Duration::from_secs(10), |s| s.state == ContainerState::Exited).await;
    assert_eq!((status.state, status.exit_code, status.oom_killed), (ContainerState::Exited, Some(3), false));
    assert!(!status.finished_at.is_empty());
    assert!(status.ports.is_empty());
    assert_eq!(engine.container_logs(&spec.name, 5).await.unwrap(), "bye\n");
}

#[tokio::test]
async fn stop_kills_a_container_that_ignores_sigterm() {
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("stop");
    engine.create_network(&scope.network()).await.unwrap();
    let spec = scope.container("stubborn", &["sh", "-c", "trap '' TERM; sleep 1000"]);
    engine.create_container(&spec).await.unwrap();
    engine.start_container(&spec.name).await.unwrap();

    let started = tokio::time::Instant::now();
    engine.stop_container(&spec.name, Duration::from_secs(1)).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "stop took {took:?}");
    let status = engine.inspect_container(&spec.name).await.unwrap();
    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, Some(137), "killed after the timeout");

    engine.stop_container(&spec.name, Duration::from_secs(1)).await.expect("stopping a stopped container");
    engine.remove_container(&spec.name).await.unwrap();
    engine.remove_container(&spec.name).await.expect("removing a missing container");
    let err = engine.stop_container(&spec.name, Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "container", name: spec.name.clone() });
    let err = engine.inspect_container(&spec.name).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn create_refuses_duplicates_and_missing_things() {
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("conflict");
    engine.create_network(&scope.network()).await.unwrap();
    let err = engine.create_network(&scope.network()).await.unwrap_err();
    assert_eq!(err, EngineError::Conflict { kind: "network", name: scope.name("net") });

    let spec = scope.container("web", &["sleep", "1000"]);
    engine.create_container(&spec).await.unwrap();
    let err = engine.create_container(&spec).await.unwrap_err();
    assert_eq!(err, EngineError::Conflict { kind: "container", name: spec.name.clone() });

    let mut no_image = scope.container("noimage", &["true"]);
    no_image.image = "sprout-test/absent:never".into();
    let err = engine.create_container(&no_image).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "image", name: no_image.image.clone() });

    let mut no_net = scope.container("nonet", &["true"]);
    no_net.network = scope.name("absent-net");
    let err = engine.create_container(&no_net).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "network", name: no_net.network.clone() });
    assert!(!engine.image_present("sprout-test/absent:never").await.unwrap());

    // A created container does not hold its network; starting after the network went is NotFound.
    engine.remove_network(&scope.name("net")).await.unwrap();
    let err = engine.start_container(&spec.name).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "network", name: scope.name("net") });
}

#[tokio::test]
async fn a_network_gets_the_subnet_asked_for_and_no_other_may_overlap_it() {
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("subnet");
    // A block of its own per process, away from Sprout's default pool (100.80.0.0/16).
    let block = std::process::id() % 256;
    let subnet: ipnet::Ipv4Net = format!("100.127.{block}.16/28").parse().unwrap();
    let mut net = scope.network();
    net.subnet = Some(subnet);
    engine.create_network(&net).await.unwrap();
    let listed = engine.list_networks(&scope.labels()).await.unwrap();
    assert_eq!(listed[0].subnet, Some(subnet));

    let web = scope.container("web", &["sleep", "1000"]);
    engine.create_container(&web).await.unwrap();
    engine.start_container(&web.name).await.unwrap();
    let ip = engine.inspect_container(&web.name).await.unwrap().ip.expect("an address on its network");
    assert!(matches!(ip, std::net::IpAddr::V4(v4) if subnet.contains(&v4)), "{ip} not in {subnet}");

    let wider = NetworkSpec {
        name: scope.name("wider"),
        labels: scope.labels(),
        subnet: Some(format!("100.127.{block}.0/24").parse().unwrap()),
        placement: Vec::new(),
    };
    let err = engine.create_network(&wider).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::Permanent { operation: "create_network", message, .. } if message.contains("overlaps")),
        "{err:?}"
    );
}

#[tokio::test]
async fn container_events_arrive_with_the_containers_labels() {
    use futures_util::StreamExt;
    let Some(engine) = engine().await else { return };
    let scope = Scope::new("events");
    engine.create_network(&scope.network()).await.unwrap();
    let mut events = engine.events(&scope.labels()).await.unwrap();
    // The stream connects when first polled: poll it in a task, then make something happen.
    let seen = tokio::spawn(async move {
        let mut actions = Vec::new();
        while let Some(Ok(event)) = events.next().await {
            actions.push(event.action.clone());
            if event.action == "die" {
                return (actions, event.labels);
            }
        }
        panic!("the stream ended: {actions:?}");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let short = scope.container("short", &["true"]);
    engine.create_container(&short).await.unwrap();
    engine.start_container(&short.name).await.unwrap();
    let (actions, labels) = tokio::time::timeout(Duration::from_secs(20), seen).await.unwrap().unwrap();
    assert!(actions.contains(&"start".to_string()), "{actions:?}");
    assert_eq!(labels.get(TEST_LABEL), Some(&scope.id));
}

#[tokio::test]
async fn pull_of_a_missing_image_says_why() {
    let Some(engine) = engine().await else { return };
    let err = engine.pull_image("sprout-test/does-not-exist:nope", None).await.unwrap_err();
    match &err {
        EngineError::Pull { image, message } | EngineError::Auth { image, message } => {
            assert_eq!(image, "sprout-test/does-not-exist:nope");
            assert!(!message.is_empty());
        }
        other => panic!("expected Pull or Auth, got {other:?}"),
    }
    eprintln!("pull error as reported: {err}");
}

#[tokio::test]
async fn info_reports_versions() {
    let Some(engine) = engine().await else { return };
    let info = engine.info().await.unwrap();
    assert!(!info.version.is_empty());
    assert!(info.api_version.starts_with("1."), "{info:?}");
    assert!(info.endpoint.starts_with("unix://"));
}

/// Needs no daemon: a socket that is not there is Unavailable, with advice.
#[tokio::test]
async fn missing_socket_is_unavailable() {
    let err = DockerEngine::connect_to("unix:///nonexistent/docker.sock").await.unwrap_err();
    let EngineError::Unavailable { endpoint, message } = &err else { panic!("{err:?}") };
    assert_eq!(endpoint, "unix:///nonexistent/docker.sock");
    assert!(message.contains("systemctl start docker") && message.contains("dockerd"), "{message}");
}
