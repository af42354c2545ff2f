//! End to end, lifecycle hooks (the bundle's `sprout.yaml` `hooks:`) on real Docker: a
//! monitoring agent's `pre_stop` (`/monitor retire`, as the example's) runs inside its container
//! when an instance leaves by scale-in and by termination, and what it printed is in
//! `sprout logs --all`; a `pre_stop` that hangs is cut at its timeout and the stop goes on;
//! `post_start` runs once the containers have started; a hook naming no container is refused
//! by `sprout validate` and at upload.

mod common;

use common::*;

/// A two-container bundle: the example's ad server on host port 80 and its monitoring agent,
/// with `hooks` as the body of sprout.yaml's `hooks:`.
fn bundle(hooks: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[
            {"name":"app","image":"sprout-example/adserver:latest","essential":true,"memory":32,
             "portMappings":[{"hostPort":80,"containerPort":8080}],"environment":[{"name":"PORT","value":"8080"}]},
            {"name":"monitor","image":"sprout-example/monitor:latest","essential":false,"memory":16,"links":["app"],
             "environment":[{"name":"STATS_URL","value":"http://app:8080/stats"},{"name":"INTERVAL_SECS","value":"1"}]}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("sprout.yaml"), format!("hooks:\n{hooks}")).unwrap();
    dir
}

fn events(server: &Server, env: &str) -> String {
    server.cli_ok(&["events", env, "--limit", "300"])
}

#[test]
fn pre_stop_runs_on_scale_in_and_termination_and_a_hanging_one_is_cut() {
    require_example_images();
    let app = unique_app("hooks");
    let server = Server::start(&app);

    // Checked before upload: a hook for a container the definition does not have.
    let bad = bundle(
        "  monitor:\n    pre_stop: {command: [\"/monitor\", \"retire\"], timeout: 10}\n  agent:\n    pre_stop: {command: [\"x\"]}\n",
    );
    let out = server.cli(&["validate", bad.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("hooks.agent") && said.contains("no container definition is named `agent`"), "{said}");
    let out = server.cli(&["create", "bad", "--bundle", bad.path().to_str().unwrap()]);
    assert!(!out.status.success(), "the upload refuses it too");

    let good = bundle(
        "  monitor:\n    pre_stop: {command: [\"/monitor\", \"retire\"], timeout: 10}\n  app:\n    post_start: {command: [\"/adserver\", \"--probe\"], timeout: 5}\n",
    );
    server.cli_ok(&["create", "web", "--bundle", good.path().to_str().unwrap(), "--label", "good"]);
    server.cli_ok(&["scale", "web", "2"]);
    eventually("2 instances in service", 90, || {
        let s = server.status("web");
        s["instances"].as_array().is_some_and(|i| i.len() == 2 && i.iter().all(|x| x["in_service"] == true))
    });
    let both = instance_ids(&server.status("web"));
    let ev = events(&server, "web");
    assert_eq!(ev.matches("Hook post_start of container app").count(), 2, "one post_start per instance: {ev}");

    // Scale-in: the leaving instance's monitor says goodbye before it stops.
    server.cli_ok(&["scale", "web", "1"]);
    eventually("one instance retired", 60, || events(&server, "web").contains("retired"));
    let kept = instance_ids(&server.status("web"));
    assert_eq!(kept.len(), 1);
    let gone = both.iter().find(|i| !kept.contains(i)).unwrap().clone();
    let ev = events(&server, "web");
    assert!(ev.contains(&format!("Hook pre_stop of container monitor on instance {gone} succeeded")), "{ev}");
    let all = server.cli_ok(&["logs", "web", "--all", "--container", "monitor", "--tail", "100"]);
    assert!(all.contains(&format!("{gone}/monitor (hooks/monitor.log")), "hook log shown: {all}");
    assert!(all.contains("pre_stop [\"/monitor\",\"retire\"]") && all.contains("monitor: host "), "{all}");

    // Termination: the last instance's pre_stop runs too.
    let last = kept[0].clone();
    server.cli_ok(&["terminate", "web", "--force"]);
    assert!(containers_of(&app).is_empty());
    let all = server.cli_ok(&["logs", "web", "--all", "--container", "monitor", "--tail", "100"]);
    let section = all.split(&format!("{last}/monitor (hooks/monitor.log")).nth(1).unwrap_or_else(|| panic!("{all}"));
    assert!(section.contains("pre_stop") && section.contains("retired"), "{all}");

    // A pre_stop that hangs (the agent's own loop never ends) is cut at its timeout; the stop goes on.
    let hang = bundle("  monitor:\n    pre_stop: {command: [\"/monitor\"], timeout: 2}\n");
    server.cli_ok(&["create", "hang", "--bundle", hang.path().to_str().unwrap(), "--label", "hang"]);
    let id = instance_ids(&server.status("hang"))[0].clone();
    server.cli_ok(&["scale", "hang", "0"]);
    eventually("the hanging instance retired", 60, || {
        events(&server, "hang").contains(&format!("Instance {id} retired"))
    });
    let ev = events(&server, "hang");
    assert!(
        ev.contains(&format!("Hook pre_stop of container monitor on instance {id} timed out after 2s and was cut")),
        "{ev}"
    );
    let all = server.cli_ok(&["logs", "hang", "--all", "--container", "monitor", "--tail", "100"]);
    assert!(all.contains("pre_stop timed out after 2s"), "{all}");
    server.cli_ok(&["terminate", "hang", "--force"]);
    assert!(containers_of(&app).is_empty(), "nothing left behind");
}
