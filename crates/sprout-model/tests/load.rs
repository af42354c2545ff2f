//! Table and property tests of `load_dockerrun`: what a valid file turns into, where
//! diagnostics point, and that no input makes it panic.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use sprout_model::*;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn full_featured_file_reads_every_field() {
    let loaded = load_dockerrun("full.json", &fixture("valid/full-featured.json")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let d = &loaded.dockerrun;
    assert_eq!(d.version, 2);
    assert_eq!(d.volume("nginx-conf").unwrap().source_path.as_deref(), Some("/var/app/current/nginx.conf"));
    assert_eq!(d.volume("scratch").unwrap().source_path, None);
    assert_eq!(d.volume("cache").unwrap().source_path, None);

    let nginx = d.container("nginx").unwrap();
    assert!(nginx.essential, "essential defaults to true");
    assert_eq!((nginx.memory, nginx.memory_reservation, nginx.cpu), (Some(128), Some(64), Some(256)));
    assert_eq!(nginx.port_mappings[1], PortMapping { host_port: None, container_port: 8443, protocol: Protocol::Tcp });
    assert_eq!(nginx.port_mappings[2].protocol, Protocol::Udp);
    assert_eq!(nginx.links, vec![Link { name: "app".into(), alias: "backend".into() }]);
    assert!(nginx.mount_points[0].read_only && !nginx.mount_points[1].read_only);
    assert_eq!(nginx.docker_labels.get("com.example.team").map(String::as_str), Some("ads"));
    let log = nginx.log_configuration.as_ref().unwrap();
    assert_eq!((log.log_driver.as_str(), log.options.len()), ("fluentd", 2));
    assert_eq!(nginx.ulimits, vec![Ulimit { name: "nofile".into(), soft_limit: 65536, hard_limit: 65536 }]);
    assert!(nginx.readonly_root_filesystem);
    assert_eq!(nginx.depends_on[0].condition, DependencyCondition::Healthy);

    let app = d.container("app").unwrap();
    assert_eq!(app.environment[1], EnvVar { name: "EMPTY".into(), value: String::new() });
    assert_eq!(app.entry_point.as_deref(), Some(&["bundle".to_string(), "exec".to_string()][..]));
    assert_eq!(app.command.as_ref().unwrap().len(), 3);
    assert_eq!(app.working_directory.as_deref(), Some("/app"));
    assert_eq!(app.extra_hosts[1].ip_address, "fd00::1");
    assert_eq!(app.dns_servers, vec!["10.0.0.2".to_string()]);
    assert_eq!(app.volumes_from, vec![VolumeFrom { source_container: "assets".into(), read_only: true }]);
    let hc = app.health_check.as_ref().unwrap();
    assert_eq!((hc.interval, hc.timeout, hc.retries, hc.start_period), (Some(10), Some(5), Some(3), Some(30)));
    assert_eq!(app.depends_on.len(), 2);
    assert!(!d.container("migrate").unwrap().essential);
    assert_eq!(d.web_container().unwrap().0.name, "nginx");
    assert_eq!(d.images().len(), 3);
}

#[test]
fn escapes_decode_like_serde() {
    let loaded = load_dockerrun("e.json", &fixture("valid/escapes.json")).unwrap();
    let web = loaded.dockerrun.container("web").unwrap();
    assert_eq!(web.environment[0].value, "h\u{e9}llo\tworld\n");
    assert!(web.docker_labels["description"].ends_with("\u{1F600}"));
    assert_eq!(web.docker_labels["emoji.\u{1F600}"], "ok");
}

#[test]
fn positions_count_tabs_as_one_column_and_survive_crlf() {
    let src = fixture("valid/crlf-tabs.json").replace("\"memory\": 64", "\"memory\": \"64\"");
    let diags = load_dockerrun("c.json", &src).unwrap_err();
    let d = diags.iter().find(|d| d.path.as_deref() == Some("containerDefinitions[0].memory")).unwrap();
    assert_eq!((d.line, d.column), (Some(7), Some(14)), "{d}");
}

#[test]
fn syntax_errors_have_line_and_character_column() {
    let src = "{\n  \"a\": 1,\n  \"é\": x\n}";
    let diags = load_dockerrun("s.json", src).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].column), (Some(3), Some(8)), "{}", diags[0]);
    assert!(diags[0].message.starts_with("invalid JSON"));
}

#[test]
fn diagnostics_come_in_file_order() {
    let diags = load_dockerrun("o.json", &fixture("invalid/types.json")).unwrap_err();
    let lines: Vec<usize> = diags.iter().filter_map(|d| d.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert!(diags.iter().all(|d| d.line.is_some()), "every field error is positioned");
}

#[test]
fn missing_web_container_only_warns() {
    let src = r#"{"AWSEBDockerrunVersion": "2", "containerDefinitions": [{"name": "w", "image": "i", "memory": 8}]}"#;
    let loaded = load_dockerrun("w.json", src).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    assert!(loaded.dockerrun.web_container().is_none());
}

#[test]
fn version_must_be_two() {
    for (version, ok) in
        [(json!(2), true), (json!("2"), true), (json!(3), false), (json!(2.5), false), (json!(null), false)]
    {
        let doc = json!({"AWSEBDockerrunVersion": version, "containerDefinitions": [
            {"name": "w", "image": "i", "memory": 8, "portMappings": [{"hostPort": 80, "containerPort": 80}]}]});
        assert_eq!(load_dockerrun("v", &doc.to_string()).is_ok(), ok, "{version}");
    }
}

/// A valid definition built from generated parts, and the JSON a user would write for it.
fn definition() -> impl Strategy<Value = (Dockerrun, String)> {
    let container = (4u64..4096, any::<bool>(), proptest::collection::vec(("[A-Z][A-Z0-9_]{0,8}", ".{0,12}"), 0..4));
    (proptest::collection::vec(container, 1..5), any::<bool>()).prop_map(|(parts, string_version)| {
        let mut defs = Vec::new();
        for (i, (memory, reserve, env)) in parts.into_iter().enumerate() {
            let mut environment: Vec<EnvVar> = Vec::new();
            for (name, value) in env {
                if !environment.iter().any(|e| e.name == name) {
                    environment.push(EnvVar { name, value });
                }
            }
            defs.push(ContainerDefinition {
                name: format!("c{i}"),
                image: format!("example/c{i}:1"),
                essential: i == 0,
                memory: (!reserve).then_some(memory),
                memory_reservation: reserve.then_some(memory),
                // Each container links to the one before it: a chain, never a cycle.
                links: (i > 0).then(|| Link { name: format!("c{}", i - 1), alias: format!("c{}", i - 1) }).into_iter().collect(),
                port_mappings: vec![PortMapping { host_port: Some(80 + i as u16), container_port: 8000, protocol: Protocol::Tcp }],
                environment,
                ..Default::default()
            });
        }
        let json_defs: Vec<Value> = defs
            .iter()
            .map(|c| {
                let mut o = json!({
                    "name": c.name, "image": c.image, "essential": c.essential,
                    "links": c.links.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
                    "portMappings": c.port_mappings.iter().map(|p| json!({"hostPort": p.host_port, "containerPort": p.container_port})).collect::<Vec<_>>(),
                    "environment": c.environment.iter().map(|e| json!({"name": e.name, "value": e.value})).collect::<Vec<_>>(),
                });
                if let Some(m) = c.memory { o["memory"] = json!(m) }
                if let Some(m) = c.memory_reservation { o["memoryReservation"] = json!(m) }
                o
            })
            .collect();
        let version = if string_version { json!("2") } else { json!(2) };
        let text = serde_json::to_string_pretty(&json!({"AWSEBDockerrunVersion": version, "containerDefinitions": json_defs})).unwrap();
        (Dockerrun { version: 2, volumes: vec![], container_definitions: defs, authentication: None }, text)
    })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(src in ".{0,300}") {
        let _ = load_dockerrun("p.json", &src);
    }

    #[test]
    fn never_panics_on_arbitrary_json(value in arbitrary_json()) {
        let doc = json!({"AWSEBDockerrunVersion": 2, "containerDefinitions": [value.clone(), {"name": value.clone()}], "volumes": value});
        let _ = load_dockerrun("p.json", &doc.to_string());
        let _ = load_dockerrun("p.json", &serde_json::to_string_pretty(&doc).unwrap());
    }

    #[test]
    fn generated_definitions_load_back((expected, text) in definition()) {
        let loaded = load_dockerrun("g.json", &text).map_err(|d| TestCaseError::fail(format!("{d:#?}\n{text}")))?;
        prop_assert_eq!(loaded.dockerrun, expected);
    }

    #[test]
    fn every_error_in_a_broken_file_is_positioned((_, text) in definition(), field in "memory|image|links|portMappings") {
        // Break one field of the first container by turning its value into an object.
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        doc["containerDefinitions"][0][field.as_str()] = json!({"x": 1});
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let diags = load_dockerrun("b.json", &text).unwrap_err();
        prop_assert!(diags.iter().all(|d| d.line.is_some() && d.column.is_some()), "{:#?}", diags);
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z:= ]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("name".to_string()),
            Just("image".to_string()),
            Just("links".to_string()),
            Just("memory".to_string()),
            Just("portMappings".to_string()),
            Just("environment".to_string()),
            Just("dependsOn".to_string()),
            Just("healthCheck".to_string()),
            Just("host".to_string()),
            "[a-z]{1,6}".prop_map(String::from),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys, inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
