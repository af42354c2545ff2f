//! The Dockerrun to engine mapping, field by field.

use super::*;

const DEF: &str = r#"{
  "AWSEBDockerrunVersion": "2",
  "volumes": [
    {"name": "conf", "host": {"sourcePath": "/var/app/current/conf/nginx.conf"}},
    {"name": "tmp", "host": {"sourcePath": "/tmp/shared"}},
    {"name": "scratch"}
  ],
  "containerDefinitions": [
    {"name": "web", "image": "nginx:1", "memory": 128, "memoryReservation": 64, "cpu": 256,
     "links": ["app:backend"], "volumesFrom": [{"sourceContainer": "data", "readOnly": true}],
     "portMappings": [{"hostPort": 80, "containerPort": 8080}, {"hostPort": 8443, "containerPort": 443}],
     "mountPoints": [{"sourceVolume": "conf", "containerPath": "/etc/nginx/nginx.conf", "readOnly": true},
                     {"sourceVolume": "awseb-logs-web", "containerPath": "/var/log/nginx"}],
     "environment": [{"name": "MODE", "value": "file"}, {"name": "KEEP", "value": "1"}],
     "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}], "dnsServers": ["1.1.1.1"],
     "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
     "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
     "dockerLabels": {"team": "ads", "sprout.app": "spoofed"},
     "dependsOn": [{"containerName": "app", "condition": "HEALTHY"}],
     "user": "101", "workingDirectory": "/srv", "hostname": "front", "privileged": false,
     "readonlyRootFilesystem": true, "command": ["nginx", "-g", "daemon off;"], "entryPoint": ["/entry"]},
    {"name": "app", "image": "app:1", "memory": 256,
     "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/shared"}, {"sourceVolume": "scratch", "containerPath": "/scratch"}],
     "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 3, "startPeriod": 1}},
    {"name": "data", "image": "data:1", "memory": 8, "essential": false}
  ]
}"#;

fn identity() -> InstanceIdentity {
    InstanceIdentity {
        server: "s1".into(),
        app: "shop".into(),
        env: "prod".into(),
        instance: "i-1".into(),
        version: "v1".into(),
        launched_at: 42,
        config: "c0ffee".into(),
        bundle_dir: "/data/bundles/abc".into(),
        log_dir: "/data/instances/i-1/logs".into(),
        volume_dir: "/data/instances/i-1/volumes".into(),
    }
}

fn plan() -> InstancePlan {
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", DEF).expect("fixture loads").dockerrun;
    let vars = BTreeMap::from([("MODE".to_string(), "env".to_string())]);
    plan_instance(&def, &identity(), &vars)
}

fn spec<'a>(p: &'a InstancePlan, name: &str) -> &'a ContainerSpec {
    &p.containers.iter().find(|c| c.name == name).unwrap().spec
}

#[test]
fn start_order_puts_dependencies_first() {
    let p = plan();
    let order: Vec<&str> = p.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, vec!["app", "data", "web"]);
    let web = p.containers.iter().find(|c| c.name == "web").unwrap();
    assert_eq!(web.wait_for, vec![("app".to_string(), DependencyCondition::Healthy)]);
}

#[test]
fn waves_start_independent_containers_together() {
    let p = plan();
    let waves: Vec<Vec<&str>> = p.waves().iter().map(|w| w.iter().map(|c| c.name.as_str()).collect()).collect();
    assert_eq!(waves, vec![vec!["app", "data"], vec!["web"]]);
}

#[test]
fn names_labels_and_network_are_deterministic() {
    let p = plan();
    assert_eq!(p.network.name, "sprout-shop-prod-i-1");
    let web = spec(&p, "web");
    assert_eq!(web.name, "sprout-shop-prod-i-1-web");
    assert_eq!(web.network, "sprout-shop-prod-i-1");
    for (k, v) in [
        ("sprout.app", "shop"),
        ("sprout.env", "prod"),
        ("sprout.instance", "i-1"),
        ("sprout.version", "v1"),
        ("sprout.container", "web"),
        ("sprout.server", "s1"),
        ("team", "ads"),
    ] {
        assert_eq!(web.labels.get(k).map(String::as_str), Some(v), "label {k}");
    }
}

#[test]
fn links_become_aliases_on_the_target() {
    let p = plan();
    assert_eq!(spec(&p, "app").aliases, vec!["app".to_string(), "backend".to_string()]);
    assert_eq!(spec(&p, "web").aliases, vec!["web".to_string()]);
}

#[test]
fn volumes_resolve_to_bundle_host_log_and_instance_paths() {
    let p = plan();
    let web = spec(&p, "web");
    assert!(web.binds.contains(&Bind {
        source: "/data/bundles/abc/conf/nginx.conf".into(),
        target: "/etc/nginx/nginx.conf".into(),
        read_only: true
    }));
    assert!(web.binds.contains(&Bind {
        source: "/data/instances/i-1/logs/web".into(),
        target: "/var/log/nginx".into(),
        read_only: false
    }));
    let app = spec(&p, "app");
    assert!(app.binds.contains(&Bind { source: "/tmp/shared".into(), target: "/shared".into(), read_only: false }));
    assert!(app.binds.contains(&Bind {
        source: "/data/instances/i-1/volumes/scratch".into(),
        target: "/scratch".into(),
        read_only: false
    }));
    assert_eq!(web.volumes_from, vec!["sprout-shop-prod-i-1-data:ro".to_string()]);
    assert!(p.dirs.contains(&PathBuf::from("/data/instances/i-1/logs/web")));
}

#[test]
fn every_runtime_field_is_mapped() {
    let p = plan();
    let web = spec(&p, "web");
    assert_eq!(web.memory_bytes, Some(128 << 20));
    assert_eq!(web.memory_reservation_bytes, Some(64 << 20));
    assert_eq!(web.cpu_shares, Some(256));
    assert_eq!(web.ports.len(), 2);
    assert!(web.ports.iter().all(|p| p.host_ip == "127.0.0.1" && p.host_port.is_none()));
    assert_eq!(web.extra_hosts, vec!["db:10.0.0.5".to_string()]);
    assert_eq!(web.dns, vec!["1.1.1.1".to_string()]);
    assert_eq!(web.ulimits, vec![UlimitSpec { name: "nofile".into(), soft: 1024, hard: 4096 }]);
    assert_eq!(web.log_config.as_ref().unwrap().driver, "json-file");
    assert_eq!(web.user.as_deref(), Some("101"));
    assert_eq!(web.working_dir.as_deref(), Some("/srv"));
    assert_eq!(web.hostname.as_deref(), Some("front"));
    assert!(web.readonly_rootfs && !web.privileged);
    assert_eq!(web.command.as_ref().unwrap()[0], "nginx");
    assert_eq!(web.entrypoint, Some(vec!["/entry".to_string()]));
    let hc = spec(&p, "app").healthcheck.clone().unwrap();
    assert_eq!((hc.interval_s, hc.timeout_s, hc.retries, hc.start_period_s), (5, 2, 3, 1));
}

#[test]
fn environment_properties_win_over_the_file() {
    let p = plan();
    let env = &spec(&p, "web").env;
    assert!(env.contains(&("MODE".to_string(), "env".to_string())));
    assert!(!env.contains(&("MODE".to_string(), "file".to_string())));
    assert!(env.contains(&("KEEP".to_string(), "1".to_string())));
}

#[test]
fn config_hash_is_empty_without_properties_and_changes_with_any_value() {
    assert_eq!(config_hash(&BTreeMap::new()), "");
    let a = BTreeMap::from([("K".to_string(), "1".to_string())]);
    let b = BTreeMap::from([("K".to_string(), "2".to_string())]);
    assert_ne!(config_hash(&a), config_hash(&b));
    assert_eq!(config_hash(&a), config_hash(&a.clone()));
    assert_eq!(deploy_key("v1", ""), "v1");
    assert_eq!(key_version(&deploy_key("v1", &config_hash(&a))), "v1");
    assert_eq!(plan().network.labels.get(LABEL_CONFIG).map(String::as_str), Some("c0ffee"));
}

#[test]
fn a_read_write_bundle_mount_binds_the_instance_s_own_copy() {
    let def = DEF.replace(
        r#"{"sourceVolume": "conf", "containerPath": "/etc/nginx/nginx.conf", "readOnly": true}"#,
        r#"{"sourceVolume": "conf", "containerPath": "/etc/nginx/nginx.conf"}"#,
    );
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", &def).unwrap().dockerrun;
    let p = plan_instance(&def, &identity(), &BTreeMap::new());
    let copy = PathBuf::from("/data/instances/i-1/volumes/.bundle/conf/nginx.conf");
    assert!(spec(&p, "web").binds.contains(&Bind {
        source: copy.display().to_string(),
        target: "/etc/nginx/nginx.conf".into(),
        read_only: false
    }));
    assert_eq!(p.copies, vec![BundleCopy { from: "/data/bundles/abc/conf/nginx.conf".into(), to: copy }]);
    // Read-only, the stored bundle itself is bound and nothing is copied.
    assert!(plan().copies.is_empty());
}
