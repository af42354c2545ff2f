use std::collections::BTreeMap;

use bollard::models::{
    ContainerStatus as TaskContainer, NodeSpec, NodeStatus as BollardNodeStatus, PortStatus, TaskStatus,
};
use sprout_engine::{Bind, HealthcheckSpec, PortSpec};

use super::*;

fn spec() -> ContainerSpec {
    ContainerSpec {
        name: "sprout-shop-prod-i-1-web".into(),
        image: "web:1".into(),
        labels: BTreeMap::from([("sprout.app".into(), "shop".into())]),
        network: "sprout-shop-prod-i-1".into(),
        aliases: vec!["web".into(), "front".into()],
        env: vec![("A".into(), "1".into())],
        command: Some(vec!["serve".into()]),
        entrypoint: Some(vec!["/bin/app".into()]),
        memory_bytes: Some(64 << 20),
        memory_reservation_bytes: Some(32 << 20),
        cpu_shares: Some(512),
        binds: vec![Bind { source: "/x".into(), target: "/y".into(), read_only: true }],
        ports: vec![PortSpec {
            container_port: 8080,
            protocol: "tcp".into(),
            host_ip: "127.0.0.1".into(),
            host_port: None,
        }],
        extra_hosts: vec!["db:10.0.0.5".into()],
        healthcheck: Some(HealthcheckSpec {
            test: vec!["CMD".into(), "true".into()],
            interval_s: 2,
            timeout_s: 1,
            retries: 3,
            start_period_s: 0,
        }),
        ..Default::default()
    }
}

#[test]
fn a_container_becomes_one_pinned_unrestarted_service_with_its_labels_aliases_and_resources() {
    let s = service_spec(&spec(), "node-b", Vec::new(), Vec::new());
    assert_eq!(s.name.as_deref(), Some("sprout-shop-prod-i-1-web"));
    assert_eq!(s.labels.as_ref().unwrap()["sprout.app"], "shop");
    assert_eq!(s.mode.as_ref().unwrap().replicated.as_ref().unwrap().replicas, Some(0));
    let t = s.task_template.as_ref().unwrap();
    let c = t.container_spec.as_ref().unwrap();
    assert_eq!(c.labels.as_ref().unwrap()["sprout.app"], "shop", "labels on the containers too");
    assert_eq!(c.command.as_deref(), Some(&["/bin/app".to_string()][..]));
    assert_eq!(c.args.as_deref(), Some(&["serve".to_string()][..]));
    assert_eq!(c.hosts.as_deref(), Some(&["10.0.0.5 db".to_string()][..]));
    assert_eq!(t.restart_policy.as_ref().unwrap().condition, Some(TaskSpecRestartPolicyConditionEnum::NONE));
    assert_eq!(t.placement.as_ref().unwrap().constraints.as_deref(), Some(&["node.id==node-b".to_string()][..]));
    let net = &t.networks.as_ref().unwrap()[0];
    assert_eq!(net.aliases.as_deref(), Some(&["web".to_string(), "front".to_string()][..]));
    let r = t.resources.as_ref().unwrap();
    assert_eq!(r.limits.as_ref().unwrap().memory_bytes, Some(64 << 20));
    assert_eq!(r.reservations.as_ref().unwrap().memory_bytes, Some(32 << 20));
    assert_eq!(r.reservations.as_ref().unwrap().nano_cpus, Some(500_000_000), "cpu 512 is half a CPU reserved");
    let port = &s.endpoint_spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(port.publish_mode, Some(EndpointPortConfigPublishModeEnum::HOST));
    assert_eq!((port.target_port, port.published_port), (Some(8080), None));
    assert_eq!(s.endpoint_spec.as_ref().unwrap().mode, Some(EndpointSpecModeEnum::DNSRR));
}

#[test]
fn privileged_containers_are_refused_with_the_reason() {
    assert!(refusal(&spec()).is_none());
    let why = refusal(&ContainerSpec { privileged: true, ..spec() }).unwrap();
    assert!(why.contains("privileged") && why.contains("local engine"), "{why}");
}

fn node(id: &str, state: NodeState, addr: &str) -> Node {
    Node {
        id: Some(id.into()),
        status: Some(BollardNodeStatus { state: Some(state), addr: Some(addr.into()), ..Default::default() }),
        spec: Some(NodeSpec { availability: Some(NodeSpecAvailabilityEnum::ACTIVE), ..Default::default() }),
        ..Default::default()
    }
}

fn task(state: TaskState, node: &str, exit: Option<i64>) -> Task {
    Task {
        service_id: Some("svc".into()),
        node_id: Some(node.into()),
        created_at: Some("2026-12-01T03:00:00.1Z".to_string()),
        status: Some(TaskStatus {
            state: Some(state),
            timestamp: Some("2026-12-01T03:00:01Z".to_string()),
            container_status: Some(TaskContainer { exit_code: exit, ..Default::default() }),
            port_status: Some(PortStatus {
                ports: Some(vec![
                    EndpointPortConfig {
                        target_port: Some(8080),
                        published_port: Some(30001),
                        ..Default::default()
                    };
                    2
                ]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn service(started: bool) -> Service {
    let mut s = service_spec(&spec(), "n1", Vec::new(), Vec::new());
    if started {
        s.labels.as_mut().unwrap().insert(LABEL_STARTED.into(), "true".into());
    }
    Service { id: Some("svc".into()), spec: Some(s), ..Default::default() }
}

#[test]
fn a_running_task_is_reached_at_its_nodes_address_and_published_port() {
    let nodes = HashMap::from([("n1".to_string(), node("n1", NodeState::READY, "10.9.0.3"))]);
    let t = task(TaskState::RUNNING, "n1", Some(0));
    let st = container_status(&service(true), Some(&t), &nodes);
    assert_eq!(st.state, ContainerState::Running);
    assert_eq!(st.health, Some(DockerHealth::Healthy));
    assert_eq!(st.ip, None);
    assert_eq!(st.ports.len(), 1, "one port, though Swarm lists it per address family");
    assert_eq!((st.ports[0].host_ip.as_str(), st.ports[0].host_port), ("10.9.0.3", 30001));
    assert_eq!(st.labels["sprout.app"], "shop");
}

#[test]
fn task_states_map_to_container_states_and_a_lost_node_means_dead() {
    let ready = HashMap::from([("n1".to_string(), node("n1", NodeState::READY, "10.9.0.3"))]);
    let down = HashMap::from([("n1".to_string(), node("n1", NodeState::DOWN, "10.9.0.3"))]);
    let state = |s: &Service, t: Option<&Task>, n: &HashMap<String, Node>| container_status(s, t, n).state;
    assert_eq!(state(&service(false), None, &ready), ContainerState::Created);
    assert_eq!(state(&service(true), None, &ready), ContainerState::Exited, "stopped: scaled to zero");
    let failed = task(TaskState::FAILED, "n1", Some(3));
    let st = container_status(&service(true), Some(&failed), &ready);
    assert_eq!((st.state, st.exit_code), (ContainerState::Exited, Some(3)));
    assert_eq!(state(&service(true), Some(&task(TaskState::PREPARING, "n1", None)), &ready), ContainerState::Created);
    let starting = container_status(&service(true), Some(&task(TaskState::STARTING, "n1", None)), &ready);
    assert_eq!((starting.state, starting.health), (ContainerState::Running, Some(DockerHealth::Starting)));
    assert_eq!(state(&service(true), Some(&task(TaskState::RUNNING, "n1", None)), &down), ContainerState::Dead);
}

#[test]
fn the_newest_task_of_a_service_is_the_one_that_counts() {
    let mut old = task(TaskState::FAILED, "n1", Some(1));
    old.created_at = Some("2026-12-01T02:00:00Z".to_string());
    let new = task(TaskState::RUNNING, "n1", None);
    let tasks = [new.clone(), old];
    assert_eq!(newest_task("svc", &tasks).unwrap().status, new.status);
    assert!(newest_task("other", &tasks).is_none());
}
