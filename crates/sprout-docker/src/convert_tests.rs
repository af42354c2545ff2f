//! Spec-to-Docker and inspect-to-status mapping, field by field.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerConfig, ContainerInspectResponse, ContainerState as DockerState, ContainerStateStatusEnum, Health,
    HealthStatusEnum, NetworkSettings, PortBinding,
};
use sprout_engine::{
    Bind, ContainerSpec, ContainerState, DockerHealth, HealthcheckSpec, LogConfigSpec, PortSpec, PublishedPort,
    UlimitSpec,
};

use super::{container_body, container_status, split_reference};

fn full_spec() -> ContainerSpec {
    ContainerSpec {
        name: "sprout-a-b-i1-web".into(),
        image: "app:1".into(),
        labels: BTreeMap::from([("sprout.env".into(), "b".into())]),
        network: "sprout-a-b-i1".into(),
        aliases: vec!["web".into()],
        env: vec![("A".into(), "1".into()), ("B".into(), "x=y".into())],
        command: Some(vec!["httpd".into(), "-f".into()]),
        entrypoint: None,
        working_dir: Some("/srv".into()),
        user: Some("nobody".into()),
        hostname: Some("web".into()),
        privileged: true,
        readonly_rootfs: true,
        memory_bytes: Some(128 << 20),
        memory_reservation_bytes: Some(64 << 20),
        cpu_shares: Some(512),
        binds: vec![
            Bind { source: "/var/app/current/conf".into(), target: "/etc/conf".into(), read_only: true },
            Bind { source: "logs".into(), target: "/var/log".into(), read_only: false },
        ],
        volumes_from: vec!["sprout-a-b-i1-data:ro".into()],
        ports: vec![
            PortSpec { container_port: 80, protocol: "tcp".into(), host_ip: "127.0.0.1".into(), host_port: None },
            PortSpec { container_port: 53, protocol: "udp".into(), host_ip: "".into(), host_port: Some(5353) },
        ],
        extra_hosts: vec!["db:10.0.0.5".into()],
        dns: vec!["1.1.1.1".into()],
        ulimits: vec![UlimitSpec { name: "nofile".into(), soft: 1024, hard: 4096 }],
        log_config: Some(LogConfigSpec {
            driver: "json-file".into(),
            options: BTreeMap::from([("max-size".into(), "10m".into())]),
        }),
        healthcheck: Some(HealthcheckSpec {
            test: vec!["CMD".into(), "true".into()],
            interval_s: 5,
            timeout_s: 2,
            retries: 3,
            start_period_s: 10,
        }),
        tty: true,
        open_stdin: true,
    }
}

#[test]
fn spec_maps_every_field() {
    let body = container_body(&full_spec());
    // `sprout run`: a terminal, and input kept open for the attached client until it closes it.
    assert_eq!(
        (body.tty, body.open_stdin, body.stdin_once, body.attach_stdin),
        (Some(true), Some(true), Some(true), Some(true))
    );
    assert_eq!(body.image.as_deref(), Some("app:1"));
    assert_eq!(body.labels.unwrap()["sprout.env"], "b");
    assert_eq!(body.env.unwrap(), ["A=1", "B=x=y"]);
    assert_eq!(body.cmd.unwrap(), ["httpd", "-f"]);
    assert!(body.entrypoint.is_none());
    assert_eq!(body.working_dir.as_deref(), Some("/srv"));
    assert_eq!(body.user.as_deref(), Some("nobody"));
    assert_eq!(body.hostname.as_deref(), Some("web"));
    assert_eq!(body.exposed_ports.unwrap(), ["53/udp", "80/tcp"]);
    let hc = body.healthcheck.unwrap();
    assert_eq!(hc.interval, Some(5_000_000_000));
    assert_eq!(hc.timeout, Some(2_000_000_000));
    assert_eq!(hc.retries, Some(3));
    assert_eq!(hc.start_period, Some(10_000_000_000));

    let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(endpoints["sprout-a-b-i1"].aliases.as_ref().unwrap(), &["web"]);

    let host = body.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("sprout-a-b-i1"));
    assert_eq!((host.privileged, host.readonly_rootfs), (Some(true), Some(true)));
    assert_eq!(host.memory, Some(128 << 20));
    assert_eq!(host.memory_reservation, Some(64 << 20));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.binds.unwrap(), ["/var/app/current/conf:/etc/conf:ro", "logs:/var/log"]);
    assert_eq!(host.volumes_from.unwrap(), ["sprout-a-b-i1-data:ro"]);
    assert_eq!(host.extra_hosts.unwrap(), ["db:10.0.0.5"]);
    assert_eq!(host.dns.unwrap(), ["1.1.1.1"]);
    let ulimit = &host.ulimits.unwrap()[0];
    assert_eq!((ulimit.name.as_deref(), ulimit.soft, ulimit.hard), (Some("nofile"), Some(1024), Some(4096)));
    let log = host.log_config.unwrap();
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(log.config.unwrap()["max-size"], "10m");
    assert!(host.restart_policy.is_none(), "Sprout replaces instances itself");

    let bindings = host.port_bindings.unwrap();
    let web = bindings["80/tcp"].as_ref().unwrap();
    assert_eq!(web[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(web[0].host_port.as_deref(), Some(""), "empty asks Docker for an ephemeral port");
    let dns = bindings["53/udp"].as_ref().unwrap();
    assert_eq!((dns[0].host_ip.as_deref(), dns[0].host_port.as_deref()), (None, Some("5353")));
}

#[test]
fn minimal_spec_leaves_docker_defaults() {
    let body = container_body(&ContainerSpec { name: "x".into(), image: "i".into(), ..Default::default() });
    assert!(body.cmd.is_none() && body.entrypoint.is_none() && body.env.is_none());
    assert!(body.networking_config.is_none() && body.healthcheck.is_none() && body.exposed_ports.is_none());
    let host = body.host_config.unwrap();
    assert!(host.binds.is_none() && host.port_bindings.is_none() && host.network_mode.is_none());
}

fn inspect(status: ContainerStateStatusEnum, exit_code: i64) -> ContainerInspectResponse {
    ContainerInspectResponse {
        id: Some("abc".into()),
        name: Some("/web".into()),
        image: Some("sha256:123".into()),
        config: Some(ContainerConfig {
            image: Some("app:1".into()),
            labels: Some(HashMap::from([("k".into(), "v".into())])),
            ..Default::default()
        }),
        state: Some(DockerState {
            status: Some(status),
            exit_code: Some(exit_code),
            oom_killed: Some(false),
            started_at: Some("2025-01-01T00:00:00.5Z".into()),
            finished_at: Some("0001-01-01T00:00:00Z".into()),
            health: Some(Health { status: Some(HealthStatusEnum::HEALTHY), ..Default::default() }),
            ..Default::default()
        }),
        network_settings: Some(NetworkSettings {
            ports: Some(HashMap::from([
                (
                    "80/tcp".into(),
                    Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some("49153".into()) }]),
                ),
                ("443/tcp".into(), None),
            ])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn inspect_maps_to_status() {
    let status = container_status(inspect(ContainerStateStatusEnum::RUNNING, 0));
    assert_eq!(status.name, "web");
    assert_eq!(status.image, "app:1");
    assert_eq!(status.labels["k"], "v");
    assert_eq!(status.state, ContainerState::Running);
    assert_eq!(status.exit_code, None);
    assert_eq!(status.health, Some(DockerHealth::Healthy));
    assert_eq!(
        status.ports,
        [PublishedPort { container_port: 80, protocol: "tcp".into(), host_ip: "127.0.0.1".into(), host_port: 49153 }]
    );
    assert_eq!(status.started_at, "2025-01-01T00:00:00.5Z");
    assert_eq!(status.finished_at, "", "Docker's zero time means never");

    let exited = container_status(inspect(ContainerStateStatusEnum::EXITED, 3));
    assert_eq!((exited.state, exited.exit_code), (ContainerState::Exited, Some(3)));
}

#[test]
fn references_split_into_repo_and_tag() {
    assert_eq!(split_reference("busybox"), ("busybox".into(), "latest".into()));
    assert_eq!(split_reference("busybox:1.36"), ("busybox".into(), "1.36".into()));
    assert_eq!(split_reference("localhost:5000/app"), ("localhost:5000/app".into(), "latest".into()));
    assert_eq!(split_reference("localhost:5000/app:2"), ("localhost:5000/app".into(), "2".into()));
    assert_eq!(split_reference("app@sha256:abc"), ("app".into(), "sha256:abc".into()));
}
