//! FakeEngine's behaviour, one test per Docker behaviour it imitates.

use std::collections::BTreeMap;
use std::time::Duration;

use super::FakeEngine;
use crate::{
    ContainerSpec, ContainerState, DockerHealth, Engine, EngineError, HealthcheckSpec, LabelFilter, NetworkSpec,
    PortSpec, RegistryAuth,
};

const IMAGE: &str = "registry.example/app:1";
const NET: &str = "sprout-a-b-i1";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: IMAGE.to_string(),
        network: NET.to_string(),
        labels: labels(&[("sprout.env", "b"), ("sprout.instance", "i1")]),
        ports: vec![PortSpec {
            container_port: 80,
            protocol: "tcp".to_string(),
            host_ip: "127.0.0.1".to_string(),
            host_port: None,
        }],
        ..ContainerSpec::default()
    }
}

/// An engine with the image and network in place.
async fn ready() -> FakeEngine {
    let engine = FakeEngine::new();
    engine.add_image(IMAGE);
    let net = NetworkSpec {
        name: NET.to_string(),
        labels: labels(&[("sprout.env", "b")]),
        subnet: None,
        placement: Vec::new(),
    };
    engine.create_network(&net).await.unwrap();
    engine
}

#[tokio::test]
async fn create_start_publishes_ephemeral_ports_and_runs() {
    let engine = ready().await;
    let id = engine.create_container(&spec("web")).await.unwrap();
    assert_eq!(id.len(), 64);
    let created = engine.inspect_container("web").await.unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert!(created.ports.is_empty() && created.started_at.is_empty());

    engine.start_container("web").await.unwrap();
    let running = engine.inspect_container("web").await.unwrap();
    assert_eq!(running.state, ContainerState::Running);
    assert_eq!(running.ports.len(), 1);
    assert_eq!(running.ports[0].host_port, 40000);
    assert_eq!(running.ports[0].host_ip, "127.0.0.1");
    assert!(running.started_at.starts_with("2025-01-01T"));

    engine.create_container(&spec("web2")).await.unwrap();
    engine.start_container("web2").await.unwrap();
    assert_eq!(engine.container("web2").unwrap().ports[0].host_port, 40001);
    // Starting a running container is a no-op (Docker's 304).
    engine.start_container("web").await.unwrap();
    assert_eq!(engine.container("web").unwrap().ports[0].host_port, 40000);
}

#[tokio::test]
async fn ids_are_deterministic() {
    let a = ready().await;
    let b = ready().await;
    let ida = a.create_container(&spec("web")).await.unwrap();
    let idb = b.create_container(&spec("web")).await.unwrap();
    assert_eq!(ida, idb);
}

#[tokio::test]
async fn create_refuses_like_docker() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    let err = engine.create_container(&spec("web")).await.unwrap_err();
    assert_eq!(err, EngineError::Conflict { kind: "container", name: "web".into() });

    let mut no_image = spec("other");
    no_image.image = "missing:1".into();
    let err = engine.create_container(&no_image).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "image", name: "missing:1".into() });

    let mut no_net = spec("other");
    no_net.network = "nope".into();
    let err = engine.create_container(&no_net).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "network", name: "nope".into() });
}

#[tokio::test]
async fn fixed_host_port_conflicts_on_start() {
    let engine = ready().await;
    let mut a = spec("a");
    a.ports[0].host_port = Some(8080);
    let mut b = spec("b");
    b.ports[0].host_port = Some(8080);
    engine.create_container(&a).await.unwrap();
    engine.create_container(&b).await.unwrap();
    engine.start_container("a").await.unwrap();
    let err = engine.start_container("b").await.unwrap_err();
    assert!(matches!(err, EngineError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("port is already allocated"));
}

#[tokio::test]
async fn image_names_default_to_latest() {
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    assert!(engine.image_present("busybox:latest").await.unwrap());
    assert!(!engine.image_present("busybox:1").await.unwrap());
    engine.add_image_with_size("localhost:5000/app", 42);
    let status = engine.inspect_image("localhost:5000/app:latest").await.unwrap();
    assert_eq!(status.size_bytes, 42);
    assert!(status.id.starts_with("sha256:"));
    let err = engine.inspect_image("nope").await.unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn stop_is_idempotent_and_missing_is_not_found() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    // Stopping a created (never started) container is success.
    engine.stop_container("web", Duration::from_secs(10)).await.unwrap();
    engine.start_container("web").await.unwrap();
    engine.stop_container("web", Duration::from_secs(10)).await.unwrap();
    let stopped = engine.container("web").unwrap();
    assert_eq!(stopped.state, ContainerState::Exited);
    assert_eq!(stopped.exit_code, Some(0));
    assert!(stopped.ports.is_empty());
    assert!(!stopped.finished_at.is_empty());
    engine.stop_container("web", Duration::from_secs(10)).await.unwrap();
    let err = engine.stop_container("ghost", Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err, EngineError::NotFound { kind: "container", name: "ghost".into() });
}

#[tokio::test(start_paused = true)]
async fn hanging_stop_waits_the_timeout_then_kills() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    engine.start_container("web").await.unwrap();
    engine.hang_on_stop("web");
    let before = tokio::time::Instant::now();
    engine.stop_container("web", Duration::from_secs(30)).await.unwrap();
    assert_eq!(before.elapsed(), Duration::from_secs(30));
    let status = engine.container("web").unwrap();
    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, Some(137));
    assert!(status.finished_at.starts_with("2025-01-01T00:00:30"), "{}", status.finished_at);
}

#[tokio::test(start_paused = true)]
async fn unkillable_stop_fails_after_the_timeout_and_keeps_running() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    engine.start_container("web").await.unwrap();
    engine.fail_stop("web", "Cannot allocate memory");
    let before = tokio::time::Instant::now();
    let err = engine.stop_container("web", Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(before.elapsed(), Duration::from_secs(5));
    assert_eq!(
        err,
        EngineError::StopFailed { name: "web".into(), timeout_s: 5, message: "Cannot allocate memory".into() }
    );
    assert_eq!(engine.container("web").unwrap().state, ContainerState::Running);
    // Forced removal still works, as `docker rm -f` usually does.
    engine.remove_container("web").await.unwrap();
    assert!(engine.container("web").is_none());
}

#[tokio::test]
async fn remove_is_idempotent_and_frees_the_name() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    engine.start_container("web").await.unwrap();
    engine.remove_container("web").await.unwrap();
    engine.remove_container("web").await.unwrap();
    engine.create_container(&spec("web")).await.unwrap();
}

#[tokio::test]
async fn network_lifecycle() {
    let engine = ready().await;
    let dup = NetworkSpec { name: NET.to_string(), ..NetworkSpec::default() };
    let err = engine.create_network(&dup).await.unwrap_err();
    assert_eq!(err, EngineError::Conflict { kind: "network", name: NET.into() });

    engine.create_container(&spec("web")).await.unwrap();
    engine.start_container("web").await.unwrap();
    let err = engine.remove_network(NET).await.unwrap_err();
    assert!(matches!(err, EngineError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("active endpoints"));

    engine.stop_container("web", Duration::from_secs(1)).await.unwrap();
    engine.remove_network(NET).await.unwrap();
    engine.remove_network(NET).await.unwrap();
    assert!(engine.networks().is_empty());
}

#[tokio::test]
async fn networks_get_subnets_asked_for_or_from_default_pools_that_run_out_as_dockers_do() {
    let engine = FakeEngine::new();
    let net = |name: &str, subnet: Option<&str>| NetworkSpec {
        name: name.into(),
        subnet: subnet.map(|s| s.parse().unwrap()),
        ..NetworkSpec::default()
    };
    engine.create_network(&net("a", Some("100.80.0.0/28"))).await.unwrap();
    let err = engine.create_network(&net("b", Some("100.80.0.0/24"))).await.unwrap_err();
    assert!(err.to_string().contains("Pool overlaps with other one"), "{err}");
    engine.create_network(&net("b", Some("100.80.0.16/28"))).await.unwrap();
    let listed = engine.list_networks(&LabelFilter::new()).await.unwrap();
    let subnets: Vec<String> = listed.iter().map(|n| n.subnet.unwrap().to_string()).collect();
    assert_eq!(subnets, ["100.80.0.0/28", "100.80.0.16/28"]);
    // Without a subnet, Docker's default pools hold 30 networks.
    for i in 0..30 {
        engine.create_network(&net(&format!("d{i}"), None)).await.unwrap();
    }
    let err = engine.create_network(&net("d30", None)).await.unwrap_err();
    assert!(matches!(&err, EngineError::Permanent { operation: "create_network", .. }), "{err}");
    assert!(err.to_string().contains("non-overlapping IPv4 address pool"), "{err}");
}

#[tokio::test]
async fn list_filters_by_every_label() {
    let engine = ready().await;
    let other =
        NetworkSpec { name: "n2".into(), labels: labels(&[("sprout.env", "c")]), subnet: None, placement: Vec::new() };
    engine.create_network(&other).await.unwrap();
    engine.create_container(&spec("a")).await.unwrap();
    let mut b = spec("b");
    b.labels = labels(&[("sprout.env", "b"), ("sprout.instance", "i2")]);
    engine.create_container(&b).await.unwrap();

    let env_b: LabelFilter = labels(&[("sprout.env", "b")]);
    let names: Vec<_> = engine.list_containers(&env_b).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "b"]);
    let i2: LabelFilter = labels(&[("sprout.env", "b"), ("sprout.instance", "i2")]);
    let names: Vec<_> = engine.list_containers(&i2).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["b"]);
    assert_eq!(engine.list_containers(&LabelFilter::new()).await.unwrap().len(), 2);

    let nets = engine.list_networks(&labels(&[("sprout.env", "c")])).await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].name, "n2");
}

#[tokio::test]
async fn pulls_succeed_fail_and_fail_auth_on_demand() {
    let engine = FakeEngine::new();
    engine.make_pullable("app:1");
    assert!(!engine.image_present("app:1").await.unwrap());
    engine.pull_image("app:1", None).await.unwrap();
    assert!(engine.image_present("app:1").await.unwrap());

    let err = engine.pull_image("unknown:1", None).await.unwrap_err();
    assert!(matches!(err, EngineError::Pull { .. }), "{err}");

    engine.fail_pull_auth("app:1");
    let err = engine.pull_image("app:1", None).await.unwrap_err();
    assert!(matches!(err, EngineError::Auth { .. }), "{err}");

    engine.fail_pull("app:1", "toomanyrequests: rate limit");
    let err = engine.pull_image("app:1", None).await.unwrap_err();
    assert_eq!(err, EngineError::Pull { image: "app:1".into(), message: "toomanyrequests: rate limit".into() });
    engine.clear_pull_failure("app:1");
    engine.pull_image("app:1", None).await.unwrap();
    assert_eq!(engine.calls_matching("pull_image app:1").len(), 4);
}

#[tokio::test]
async fn registries_want_their_login_answer_digests_and_may_be_down() {
    let engine = FakeEngine::new();
    let image = "127.0.0.1:5000/shop/app:2";
    engine.make_pullable(image);
    engine.require_registry_login("127.0.0.1:5000", "ci", "s3cret");
    let auth = |password: &str| RegistryAuth {
        username: "ci".into(),
        password: password.into(),
        server: "127.0.0.1:5000".into(),
    };
    for wrong in [None, Some(auth("old"))] {
        let err = engine.registry_digest(image, wrong.as_ref()).await.unwrap_err();
        assert!(matches!(err, EngineError::Auth { .. }), "{err}");
        assert!(matches!(engine.pull_image(image, wrong.as_ref()).await, Err(EngineError::Auth { .. })));
    }
    let digest = engine.registry_digest(image, Some(&auth("s3cret"))).await.unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let seen = std::sync::Mutex::new(Vec::new());
    engine.pull_image_reporting(image, Some(&auth("s3cret")), &|p| seen.lock().unwrap().push(p)).await.unwrap();
    assert_eq!(seen.lock().unwrap().last().map(|p| (p.layers, p.layers_done)), Some((2, 2)));
    let status = engine.inspect_image(image).await.unwrap();
    let by_digest = format!("127.0.0.1:5000/shop/app@{digest}");
    assert_eq!(status.repo_digests, std::slice::from_ref(&by_digest));

    // Gone from the engine: pulled again by digest, it is the very same image.
    engine.remove_image(image);
    assert!(!engine.image_present(&by_digest).await.unwrap());
    engine.pull_image(&by_digest, Some(&auth("s3cret"))).await.unwrap();
    assert_eq!(engine.inspect_image(&by_digest).await.unwrap().id, status.id);
    engine.tag_image(&by_digest, image).await.unwrap();
    assert_eq!(engine.inspect_image(image).await.unwrap().id, status.id);

    engine.set_registry_down("127.0.0.1:5000", true);
    let err = engine.pull_image(image, Some(&auth("s3cret"))).await.unwrap_err();
    assert!(matches!(err, EngineError::Transient { .. }), "{err}");
}

#[tokio::test]
async fn exits_oom_and_health_are_observable() {
    let engine = ready().await;
    let mut checked = spec("web");
    checked.healthcheck = Some(HealthcheckSpec {
        test: vec!["CMD".into(), "true".into()],
        interval_s: 5,
        timeout_s: 2,
        retries: 3,
        start_period_s: 0,
    });
    engine.create_container(&checked).await.unwrap();
    engine.create_container(&spec("worker")).await.unwrap();
    engine.create_container(&spec("hog")).await.unwrap();
    for name in ["web", "worker", "hog"] {
        engine.start_container(name).await.unwrap();
    }
    assert_eq!(engine.container("web").unwrap().health, Some(DockerHealth::Starting));
    assert_eq!(engine.container("worker").unwrap().health, None);
    engine.set_docker_health("web", DockerHealth::Healthy);
    assert_eq!(engine.inspect_container("web").await.unwrap().health, Some(DockerHealth::Healthy));

    engine.exit_container("worker", 3);
    let worker = engine.inspect_container("worker").await.unwrap();
    assert_eq!((worker.state, worker.exit_code, worker.oom_killed), (ContainerState::Exited, Some(3), false));

    engine.oom_kill("hog");
    let hog = engine.inspect_container("hog").await.unwrap();
    assert_eq!((hog.state, hog.exit_code, hog.oom_killed), (ContainerState::Exited, Some(137), true));
    assert_eq!(engine.running(), ["web"]);

    // Restarting clears the exit.
    engine.start_container("hog").await.unwrap();
    let hog = engine.container("hog").unwrap();
    assert_eq!((hog.state, hog.exit_code, hog.oom_killed), (ContainerState::Running, None, false));
}

#[tokio::test]
async fn unavailable_refuses_everything_and_recovers() {
    let engine = ready().await;
    engine.set_unavailable(true);
    assert!(matches!(engine.info().await, Err(EngineError::Unavailable { .. })));
    assert!(matches!(engine.create_container(&spec("web")).await, Err(EngineError::Unavailable { .. })));
    assert!(matches!(engine.list_containers(&LabelFilter::new()).await, Err(EngineError::Unavailable { .. })));
    engine.set_unavailable(false);
    engine.create_container(&spec("web")).await.unwrap();
}

#[tokio::test]
async fn injected_errors_fire_once() {
    let engine = ready().await;
    engine.create_container(&spec("web")).await.unwrap();
    let boom = EngineError::Transient { operation: "start_container", name: "web".into(), message: "boom".into() };
    engine.fail_next("start_container", "web", boom.clone());
    assert_eq!(engine.start_container("web").await.unwrap_err(), boom);
    engine.start_container("web").await.unwrap();
}

#[tokio::test]
async fn calls_are_recorded_and_clones_share_state() {
    let engine = ready().await;
    let clone = engine.clone();
    clone.create_container(&spec("sprout-a-b-i1-web")).await.unwrap();
    clone.start_container("sprout-a-b-i1-web").await.unwrap();
    clone.push_log("sprout-a-b-i1-web", "GET / 200");
    assert_eq!(
        engine.calls(),
        ["create_network sprout-a-b-i1", "create_container sprout-a-b-i1-web", "start_container sprout-a-b-i1-web"]
    );
    let logs = engine.container_logs("sprout-a-b-i1-web", 1).await.unwrap();
    assert_eq!(logs, "GET / 200\n");
    engine.clear_calls();
    assert!(clone.calls().is_empty());
    assert_eq!(engine.containers().len(), 1);
    assert_eq!(engine.container_spec("sprout-a-b-i1-web").unwrap().image, IMAGE);
}

#[test]
fn rfc3339_formats_civil_dates() {
    assert_eq!(super::state::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(super::state::rfc3339(1_735_689_600 + 86_399, 5), "2025-01-01T23:59:59.000000005Z");
    assert_eq!(super::state::rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
}
