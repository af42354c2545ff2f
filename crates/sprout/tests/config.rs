//! `sprout config` against a real server and Docker: a health check path set by hand changes
//! what the probe requests without replacing an instance; an invalid value is refused with its
//! allowed range; the bundle's `sprout.yaml` `options:` apply with the version; `config edit`
//! checks the document (line, column, hint) and applies it as one change; a saved configuration
//! creates an identical environment and can be put back on a running one.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use common::*;
use serde_json::Value;

/// A one-container bundle: the example's ad server on host port 80, and a `sprout.yaml` whose
/// options check health every 2 s.
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"app","image":"sprout-example/adserver:latest",
            "essential":true,"memory":64,"portMappings":[{"hostPort":80,"containerPort":8080}],
            "environment":[{"name":"PORT","value":"8080"}]}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sprout.yaml"),
        "options:\n  health.interval: 2\n  aws:elasticbeanstalk:environment:process:default:\n    HealthCheckTimeout: 1\n",
    )
    .unwrap();
    dir
}

fn config_of(server: &Server, env: &str) -> Value {
    serde_json::from_str(&server.cli_ok(&["config", "get", env, "--output", "json"])).unwrap()
}

fn option<'a>(config: &'a Value, key: &str) -> &'a Value {
    config["options"].as_array().unwrap().iter().find(|o| o["key"] == key).unwrap_or_else(|| panic!("no {key}"))
}

/// Ids of the application's containers, sorted.
fn container_ids(app: &str) -> Vec<String> {
    let mut ids = containers_of(app);
    ids.sort();
    ids
}

/// Requests for `path` that came from the health probe (the load balancer's carry X-Forwarded-For).
fn probe_requests(container: &str, path: &str) -> usize {
    let logs = docker(&["logs", container]);
    logs.lines()
        .filter(|l| l.contains(&format!("\"target\":\"{path}\"")) && l.contains("\"forwarded_for\":null"))
        .count()
}

#[test]
fn health_path_changes_what_the_probe_requests_without_replacing_an_instance() {
    require_example_images();
    let app = unique_app("cfgh");
    let server = Server::start(&app);
    let b = bundle();
    server.cli_ok(&["create", "web", "--bundle", b.path().to_str().unwrap(), "--label", "v1"]);

    // The bundle's options came with the version, in both spellings.
    let c = config_of(&server, "web");
    assert_eq!(option(&c, "health.interval")["value"], "2", "{c:#}");
    assert_eq!(option(&c, "health.interval")["source"], "sprout.yaml of version v1");
    assert_eq!(option(&c, "health.timeout")["value"], "1");
    assert_eq!(option(&c, "health.path")["source"], "default");

    let before = container_ids(&app);
    let instances = instance_ids(&server.status("web"));
    assert_eq!((before.len(), instances.len()), (1, 1));
    eventually("the probe requests /", 30, || probe_requests(&before[0], "/") > 0);
    assert_eq!(probe_requests(&before[0], "/health"), 0);

    let out = server.cli(&["config", "set", "web", "health.path=/health"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("health.path: / -> /health"), "{err}");
    assert!(err.contains("no running instance is replaced"), "{err}");
    eventually("the probe requests /health", 30, || probe_requests(&before[0], "/health") > 0);
    let s = server.status("web");
    assert_eq!(instance_ids(&s), instances, "the same instance: {s:#}");
    assert_eq!(container_ids(&app), before, "the same container");
    assert_eq!((s["status"].as_str(), s["in_service"].as_u64()), (Some("Ready"), Some(1)), "{s:#}");
    let c = config_of(&server, "web");
    assert_eq!(
        (option(&c, "health.path")["value"].as_str(), option(&c, "health.path")["source"].as_str()),
        (Some("/health"), Some("set by hand"))
    );

    // An invalid value is refused with the allowed range, and changes nothing.
    let out = server.cli(&["config", "set", "web", "health.interval=0"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("health.interval: 0 is out of range; give 1 to 300 seconds"),
        "{}",
        text(&out.stderr)
    );
    let out = server.cli(&["config", "set", "web", "scaling.min=5", "scaling.max=2"]);
    assert!(text(&out.stderr).contains("scaling.min 5 is above scaling.max 2"), "{}", text(&out.stderr));
    assert_eq!(option(&config_of(&server, "web"), "health.interval")["value"], "2");

    // Elastic Beanstalk's names are aliases; unset goes back to the default.
    server.cli_ok(&["config", "set", "web", "aws:elasticbeanstalk:command:DeploymentPolicy=Immutable"]);
    let policy = server.cli_ok(&["config", "get", "web", "deployment.policy", "--output", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&policy).unwrap()["value"], "immutable");
    server.cli_ok(&["config", "unset", "web", "deployment.policy"]);
    let yaml = server.cli_ok(&["config", "get", "web", "--output", "yaml"]);
    assert!(yaml.contains("key: deployment.policy") && yaml.contains("source: default"), "{yaml}");
    let events = server.cli_ok(&["events", "web"]);
    assert!(events.contains("Options changed (set by hand): health.path / -> /health"), "{events}");
}

#[test]
fn a_saved_configuration_creates_an_identical_environment() {
    require_example_images();
    let app = unique_app("cfgs");
    let server = Server::start(&app);
    let b = bundle();
    server.cli_ok(&["create", "web", "--bundle", b.path().to_str().unwrap(), "--label", "v1"]);
    server.cli_ok(&[
        "config",
        "set",
        "web",
        "scaling.min=1",
        "scaling.max=3",
        "scaling.target=50",
        "deployment.policy=rolling",
        "aws:autoscaling:trigger:UpperThreshold=80",
    ]);

    // `config edit` with an editor that makes a mistake: every error with its line, nothing applied.
    let bad = server_cli_with_editor(
        &server,
        &["config", "edit", "web"],
        "sed -i -e 's|^  health.healthy_threshold: 3 |  health.healthy_threshold: 99 |' -e 's|^  health.pth:||'",
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    let err = text(&bad.stderr);
    assert!(
        err.contains("web.yaml:")
            && err.contains(":3: options.health.healthy_threshold: 99 is out of range; give 1 to 10 checks"),
        "{err}"
    );
    assert!(err.contains("hint: allowed: checks, 1 to 10"), "{err}");
    assert_eq!(option(&config_of(&server, "web"), "health.healthy_threshold")["value"], "3");

    // A good edit: a property (which replaces the instance, under the policy) and an option.
    let edit = "sed -i -e 's|^  # NAME: value|  MODE: live|' -e 's|^  health.healthy_threshold: 3 |  health.healthy_threshold: 2 |'";
    let out = server_cli_with_editor(&server, &["config", "edit", "web"], edit);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("health.healthy_threshold: 3 -> 2"), "{err}");
    assert!(
        err.contains(
            "environment properties change (MODE): running instances are replaced under the deployment policy Rolling"
        ),
        "{err}"
    );
    let web = config_of(&server, "web");
    assert_eq!(web["variables"]["MODE"], "live", "{web:#}");

    let saved: Value =
        serde_json::from_str(&server.cli_ok(&["config", "save", "web", "--name", "base", "--output", "json"])).unwrap();
    assert_eq!(saved["variables"]["MODE"], "live");
    assert!(server.cli_ok(&["config", "list"]).contains("base"));
    let shown = server.cli_ok(&["config", "show", "base"]);
    assert!(
        shown.contains("scaling.trigger.upper_threshold: '80'")
            || shown.contains("scaling.trigger.upper_threshold: \"80\""),
        "{shown}"
    );

    server.cli_ok(&["create", "copy", "--bundle", b.path().to_str().unwrap(), "--label", "v1", "--cfg", "base"]);
    let copy = config_of(&server, "copy");
    let values = |c: &Value| -> Vec<(String, Value)> {
        c["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["key"].as_str().unwrap().to_string(), o["value"].clone()))
            .collect()
    };
    assert_eq!(values(&copy), values(&web));
    assert_eq!((&copy["variables"], &copy["desired_instances"]), (&web["variables"], &web["desired_instances"]));
    assert_eq!(option(&copy, "scaling.target")["source"], "saved configuration base");
    let env_of = |c: &str| docker(&["inspect", c, "--format", "{{range .Config.Env}}{{println .}}{{end}}"]);
    let copy_container =
        docker(&["ps", "-q", "--filter", "label=sprout.env=copy", "--filter", &format!("label=sprout.app={app}")]);
    assert!(env_of(copy_container.trim()).lines().any(|l| l == "MODE=live"), "the copy's container has the property");

    // `config put` applies it whole to a running environment.
    server.cli_ok(&["config", "set", "copy", "health.healthy_threshold=4", "scaling.warm_pool=0"]);
    server.cli_ok(&["config", "put", "copy", "--cfg", "base"]);
    assert_eq!(values(&config_of(&server, "copy")), values(&web));

    server.cli_ok(&["config", "delete", "base"]);
    let out = server.cli(&["create", "again", "--bundle", b.path().to_str().unwrap(), "--cfg", "base"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("saved configuration base of"), "{}", text(&out.stderr));
}

/// The CLI with `EDITOR` set to a script.
fn server_cli_with_editor(server: &Server, args: &[&str], editor: &str) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", server.token())
        .env("SPROUT_APP", &server.app)
        .env("EDITOR", editor)
        .env_remove("VISUAL")
        .output()
        .expect("run sprout")
}
